// The HubSpot sandbox as the CRM of the benchmark, in its own process, plus a clerk that writes
// down when the CRM acknowledged each record version: the end of every end-to-end latency.
// The clerk reads the sandbox's request log (arrival time + time to answer), so the recsync run
// and the bare baseline are timed by the same code at the same place, and neither process under
// test has to report on itself.
// Env: BENCH_SANDBOX_LIMIT (requests per 10 s; unset = limits off).
import { startSandbox, type LoggedRequest } from '../../../connectors/hubspot/sandbox.ts';
import { serve } from './ipc.ts';

const limit = process.env['BENCH_SANDBOX_LIMIT'];
const sandbox = await startSandbox({
  port: 0,
  limits: limit ? { perTenSeconds: Number(limit), daily: 1_000_000_000 } : false,
  // The clerk polls the log every 25 ms; at 10,000 requests/s that is 250 entries, far below the ring's size.
  requestLogSize: 20_000,
  logBodies: true,
});

/** Acknowledged (2xx) writes since the last `take`: record id, version, and when the answer left (ms since the epoch). */
let ids: string[] = [];
let versions: number[] = [];
let times: number[] = [];
let seen = new WeakSet<LoggedRequest>();

function collect(): void {
  for (const entry of sandbox.requests()) {
    if (seen.has(entry)) continue;
    seen.add(entry);
    if (entry.status < 200 || entry.status > 299) continue;
    const body = entry.body as { inputs?: Array<{ properties?: Record<string, string> }>; properties?: Record<string, string> } | undefined;
    const written = body?.inputs?.map((input) => input.properties) ?? [body?.properties];
    for (const properties of written) {
      // The bench's payloads carry the record id in recsync_id and the version in the job title (`v<n>`).
      const id = properties?.['recsync_id'];
      const version = Number(properties?.['jobtitle']?.slice(1));
      if (id === undefined || !Number.isFinite(version)) continue;
      ids.push(id);
      versions.push(version);
      times.push(entry.at + entry.durationMs);
    }
  }
}
setInterval(collect, 25).unref();

serve(
  {
    count: () => {
      collect();
      return ids.length;
    },
    take: () => {
      collect();
      const taken = { ids, versions, times };
      ids = [];
      versions = [];
      times = [];
      return taken;
    },
    stats: () => sandbox.stats(),
    /** Forget every stored object, the log and the counters: each scenario starts from an empty CRM. */
    reset: () => {
      collect();
      sandbox.reset();
      ids = [];
      versions = [];
      times = [];
      seen = new WeakSet();
    },
  },
  { env: sandbox.env },
);
process.once('SIGTERM', () => void sandbox.close().then(() => process.exit(0)));
