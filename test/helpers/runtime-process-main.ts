// The entry of startRuntimeProcess (runtime-process.ts): one recsync instance until SIGTERM.
import { createRecsync } from '../../runtime/app.ts';

const recsync = await createRecsync({
  redisUrl: process.env['REDIS_URL']!,
  connectorsDir: process.env['RECSYNC_CONNECTORS_DIR']!,
  watch: process.env['RECSYNC_WATCH'] === '1',
});
process.stdout.write(`ready ${recsync.url}\n`);
process.once('SIGTERM', () => {
  void recsync.close().then(() => process.exit(0));
});
