// One recsync worker process as production runs it (createRecsync without the API): the six
// stages, the record state and the limiter, on the connector folder and prefix it is given.
// Env: REDIS_URL, RECSYNC_CONNECTORS_DIR, RECSYNC_PREFIX, HUBSPOT_BASE_URL, HUBSPOT_TOKEN.
import { createRecsync } from '../../../runtime/app.ts';
import { serve } from './ipc.ts';

const env = process.env;
// Only the CRM's address reaches the runtime: no OTEL_* variable, so tracing is off as in the bench's claim.
const recsync = await createRecsync({
  redisUrl: env['REDIS_URL']!,
  connectorsDir: env['RECSYNC_CONNECTORS_DIR']!,
  prefix: env['RECSYNC_PREFIX']!,
  api: false,
  workers: true,
  env: { HUBSPOT_BASE_URL: env['HUBSPOT_BASE_URL'], HUBSPOT_TOKEN: env['HUBSPOT_TOKEN'] },
});
serve({});
process.once('SIGTERM', () => void recsync.close().then(() => process.exit(0)));
