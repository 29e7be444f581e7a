// `npm start`: recsync on its embedded defaults. Without REDIS_URL it starts a private redis-server
// (AOF on, data under dataDir); for every connector whose CRM URL is not configured and that ships
// a sandbox, it starts the sandbox and points the connector at it. Then it serves the API and runs
// the workers in this one process, and prints what to try next.
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { createRecsync } from '../app.ts';
import { referencedVariables } from '../config/env.ts';
import { loadRuntimeConfig } from '../config/runtime-config.ts';
import { parseYamlFile } from '../config/yaml-file.ts';
import { discover } from '../connectors/registry.ts';
import { isRecsyncError } from '../errors.ts';
import { startPrivateRedis } from '../redis/redis-server.ts';
import type { SandboxModule } from '../sdk/index.ts';

const root = resolve(new URL('../..', import.meta.url).pathname);
const closers: Array<() => Promise<void>> = [];

async function main(): Promise<void> {
  const config = await loadRuntimeConfig(join(root, 'config', 'runtime.yaml'));
  const env: Record<string, string | undefined> = { ...process.env };

  let redisUrl = env['REDIS_URL'];
  if (!redisUrl) {
    const redis = await startPrivateRedis({ dir: resolve(root, config.dataDir, 'redis') });
    closers.unshift(() => redis.stop());
    redisUrl = redis.url;
    console.log(`recsync: started a private redis-server at ${redis.url} (AOF in ${redis.dir}); set REDIS_URL to use your own`);
  }

  const connectorsDir = resolve(root, config.connectors);
  const sandboxes: string[] = [];
  const sandboxUrls: Array<{ name: string; url: string }> = [];
  for (const name of await discover(connectorsDir)) {
    const manifestFile = join(connectorsDir, name, 'manifest.yaml');
    let manifest: { sandbox?: unknown; baseUrl?: unknown };
    try {
      manifest = (parseYamlFile(manifestFile, await readFile(manifestFile, 'utf8')).value ?? {}) as typeof manifest;
    } catch {
      continue; // the registry reports the broken manifest with its line
    }
    if (typeof manifest.sandbox !== 'string' || typeof manifest.baseUrl !== 'string') continue;
    const unset = referencedVariables(manifest.baseUrl).filter((variable) => !env[variable]);
    if (unset.length === 0) continue;
    const module = (await import(pathToFileURL(resolve(connectorsDir, name, manifest.sandbox)).href)) as SandboxModule;
    const sandbox = await module.startSandbox({ host: '127.0.0.1', port: 0, freshIds: true });
    closers.unshift(() => sandbox.close());
    Object.assign(env, sandbox.env);
    sandboxes.push(`${name} sandbox at ${sandbox.url} (${unset.join(', ')} not set)`);
    sandboxUrls.push({ name, url: sandbox.url });
  }
  for (const line of sandboxes) console.log(`recsync: started the ${line}`);

  const recsync = await createRecsync({
    redisUrl,
    connectorsDir,
    prefix: config.redis.prefix,
    host: config.server.host,
    port: config.server.port,
    bodyLimit: config.server.bodyLimit,
    logger: config.logLevel === 'silent' ? false : { level: config.logLevel },
    env,
    tokens: config.api.tokens,
    watch: config.watch,
  });
  if (recsync.services.authOpen) {
    console.warn(`recsync: WARNING: the API runs WITHOUT tokens (development mode on ${config.server.host}): every caller is admin. Configure api.tokens in config/runtime.yaml before exposing it.`);
  }
  // close() also flushes the spans still buffered for the OTLP exporter.
  closers.unshift(() => recsync.close());
  const tracing = recsync.telemetry.config;
  console.log(tracing ? `recsync: tracing to ${tracing.endpoint} as service ${tracing.serviceName} (sampler ${tracing.sampler.name})` : 'recsync: tracing off (set OTEL_EXPORTER_OTLP_ENDPOINT to export traces)');

  for (const slot of recsync.services.registry.slots()) {
    if (slot.current) console.log(`recsync: connector ${slot.name} ready (version ${slot.current.version}, objects: ${[...slot.current.objects.keys()].join(', ')})`);
    else console.error(`recsync: connector ${slot.name} NOT loaded:\n${slot.errors.map((e) => `  ${e.file ?? ''}${e.line ? `:${e.line}` : ''} ${e.field ?? ''} ${e.message}`).join('\n')}`);
  }
  const url = recsync.url!;
  console.log(`
recsync is serving ${url}. Try:

  curl -s -X POST ${url}/v1/tasks -H 'content-type: application/json' \\
    -d '{"connector":"hubspot","object":"contact","action":"upsert","recordId":"c-1","version":1,"payload":{"email":"ada@example.com","firstName":"Ada","lastName":"Lovelace"}}'

  curl -s '${url}/v1/records/hubspot/c-1?object=contact'     # delivered version and HubSpot id
  curl -s ${url}/v1/connectors                              # counters and queue per connector
  curl -s -X POST ${url}/v1/events/dry-run -H 'content-type: application/json' \\
    -d '{"object":"contact","recordId":"c-2","op":"insert","version":1,"after":{"email":"bob@example.com","marketingConsent":true}}'   # which rules fire

  In a browser: ${url}/docs (the API), ${url}/queues (the queues); metrics at ${url}/metrics.
${sandboxUrls.map(({ name, url }) => `  curl -s ${url}/__sandbox/stats   # the ${name} sandbox: requests, limits, what it holds (/__sandbox/objects/<type>)\n`).join('')}
Stop with Ctrl-C.`);
}

let stopping = false;
async function stop(signal: string): Promise<void> {
  if (stopping) return;
  stopping = true;
  console.log(`recsync: ${signal}: finishing in-flight work and stopping`);
  for (const close of closers) await close().catch((error: unknown) => console.error(`recsync: while stopping: ${(error as Error).message}`));
  process.exit(0);
}
process.on('SIGINT', () => void stop('SIGINT'));
process.on('SIGTERM', () => void stop('SIGTERM'));

main().catch(async (error: unknown) => {
  console.error(`recsync: cannot start: ${isRecsyncError(error) ? error.message : (error as Error).stack ?? String(error)}`);
  for (const close of closers) await close().catch(() => {});
  process.exit(1);
});
