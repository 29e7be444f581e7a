// One recsync worker process for the fault suite: runs the workers (no API) until SIGTERM, so the
// suite can SIGKILL it mid-load and start another, as an orchestrator would.
import { createRecsync } from '../../runtime/app.ts';

const recsync = await createRecsync({
  redisUrl: process.env['REDIS_URL']!,
  connectorsDir: process.env['RECSYNC_CONNECTORS_DIR']!,
  api: false,
  workers: true,
  worker: { lockDurationMs: Number(process.env['CHAOS_LOCK_MS'] ?? 4000), stalledIntervalMs: Number(process.env['CHAOS_STALLED_MS'] ?? 1000) },
});
process.stdout.write('ready\n');
process.once('SIGTERM', () => {
  void recsync.close().then(() => process.exit(0));
});
