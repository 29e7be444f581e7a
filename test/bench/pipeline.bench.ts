// `npm run bench`: the whole pipeline against the bare baseline (a BullMQ worker POSTing the same
// body with undici), in one invocation, alternating the two, every part in its own process: a
// private redis-server (AOF everysec), the HubSpot sandbox, the worker processes and the load
// generator. Prints one table per scenario and the recsync / baseline ratios.
//
// Knobs (env):
//   BENCH_SCALE       durations and backlog sizes (default 1: about 10 minutes; 0.2: about 2)
//   BENCH_SCENARIOS   comma-separated subset of: drain, rate1000, rate2000, rate3000, max, hot,
//                     limited, roundtrips, soak (default: all but soak)
//   BENCH_SOAK=1      adds the soak (BENCH_SOAK_MINUTES, default 30, at 1,000 tasks/s)
//   BENCH_ROUNDS      rounds of each scenario, the order of the systems alternating (default 1)
//   BENCH_WORKERS     worker processes per system (default 1)
//   BENCH_CONCURRENCY jobs in progress per worker process, both systems (default 100)
//   BENCH_SYSTEMS     recsync,baseline (default both; one alone for profiling)
//   BENCH_PROFILE=1   a V8 CPU profile of every recsync worker, written to .recsync/profiles
//   BENCH_OUT         also write the results as JSON to this file
import { writeFile } from 'node:fs/promises';
import { cpus, loadavg, totalmem } from 'node:os';
import { join } from 'node:path';
import { BenchEnv, repoRoot, type System } from './pipeline/bench-env.ts';
import { formatResults } from './pipeline/report.ts';
import { drain, limited, max, offered, roundTrips, soak, type Result } from './pipeline/scenarios.ts';

const scale = Number(process.env['BENCH_SCALE'] ?? 1);
const rounds = Number(process.env['BENCH_ROUNDS'] ?? 1);
const all = ['drain', 'rate1000', 'rate2000', 'rate3000', 'max', 'hot', 'limited', 'roundtrips'];
const chosen = (process.env['BENCH_SCENARIOS'] ?? all.join(',')).split(',').map((s) => s.trim()).filter(Boolean);
if (process.env['BENCH_SOAK'] === '1' && !chosen.includes('soak')) chosen.push('soak');
const unknown = chosen.filter((s) => ![...all, 'soak'].includes(s));
if (unknown.length > 0) throw new Error(`BENCH_SCENARIOS: unknown ${unknown.join(', ')}; known: ${[...all, 'soak'].join(', ')}`);

const systems = (process.env['BENCH_SYSTEMS'] ?? 'recsync,baseline').split(',');
const seconds = (s: number) => Math.max(4_000, Math.round(s * 1000 * scale));
const drainTasks = Math.max(2_000, Math.round(30_000 * scale));
const limit = 500;
const limitedTasks = limit * Math.max(4, Math.round(6 * scale));

const env = await BenchEnv.start({
  workers: Number(process.env['BENCH_WORKERS'] ?? 1),
  concurrency: Number(process.env['BENCH_CONCURRENCY'] ?? 100),
  ...(process.env['BENCH_PROFILE'] === '1' ? { profileDir: join(repoRoot, '.recsync/profiles') } : {}),
});
const results: Result[] = [];
const log = (line: string) => process.stdout.write(`${line}\n`);
const load = () => loadavg().map((l) => l.toFixed(1)).join(' ');

try {
  log(`recsync pipeline benchmark: ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.versions.node}, load average ${load()}`);
  log(`scale ${scale}, ${env.settings.workers} worker process(es) per system, concurrency ${env.settings.concurrency}, rounds ${rounds}; scenarios: ${chosen.join(', ')}`);
  let flip = false;
  const both = async (name: string, once: (system: System) => Promise<Result>) => {
    for (let round = 0; round < rounds; round += 1) {
      // Alternate which system goes first, so a drift of the machine does not favour one.
      const order: System[] = flip ? ['recsync', 'baseline'] : ['baseline', 'recsync'];
      flip = !flip;
      for (const system of order.filter((s) => systems.includes(s))) {
        const result = await once(system);
        results.push(result);
        log(`  ${name} ${system}: ${Number.isFinite(result.tasksPerS) ? `${result.tasksPerS.toFixed(0)} tasks/s` : ''}${result.latencyMs ? `, p50 ${result.latencyMs.p50.toFixed(1)} ms, p99 ${result.latencyMs.p99.toFixed(1)} ms` : ''} ${JSON.stringify(result.notes)} (load ${load()})`);
      }
    }
  };
  for (const name of chosen) {
    if (name === 'drain') await both(name, (system) => drain(env, system, drainTasks));
    else if (name.startsWith('rate')) await both(name, (system) => offered(env, system, name, Number(name.slice(4)), seconds(20)));
    else if (name === 'max') await both(name, (system) => max(env, system, seconds(20)));
    else if (name === 'hot') await both(name, (system) => offered(env, system, 'hot', 2_000, seconds(15), 10));
    else if (name === 'roundtrips') await both(name, (system) => roundTrips(env, system, 2_000));
    else if (name === 'limited') {
      // The bare baseline has no limiter: this scenario is recsync's alone.
      for (let round = 0; round < rounds; round += 1) {
        const result = await limited(env, limit, limitedTasks);
        results.push(result);
        log(`  limited recsync: ${result.tasksPerS.toFixed(1)} tasks/s ${JSON.stringify(result.notes)}`);
      }
    } else if (name === 'soak') {
      const minutes = Number(process.env['BENCH_SOAK_MINUTES'] ?? 30);
      results.push(await soak(env, 1_000, minutes * 60_000, 100_000, log));
    }
  }
  log('');
  log(formatResults(results));
  if (process.env['BENCH_OUT']) await writeFile(process.env['BENCH_OUT'], JSON.stringify({ at: new Date().toISOString(), scale, settings: env.settings, results }, null, 2));
} finally {
  await env.close();
}
