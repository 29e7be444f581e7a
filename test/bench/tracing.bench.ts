// What does tracing cost? The same workload through the whole runtime (HTTP ingest → Redis →
// BullMQ → pipeline → the HubSpot sandbox) with tracing off, with tracing on (every trace
// sampled, exported over OTLP/HTTP to a local sink process), and with one trace in ten sampled,
// alternating in one run against one private redis-server. Run: npm run bench:tracing
// Knobs: BENCH_TASKS (per round, default 4000), BENCH_ROUNDS (per mode, default 5).
import { spawn, type ChildProcess } from 'node:child_process';
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRecsync } from '../../runtime/app.ts';
import { startPrivateRedis } from '../../runtime/redis/redis-server.ts';

const tasksPerRound = Number(process.env['BENCH_TASKS'] ?? 4000);
const rounds = Number(process.env['BENCH_ROUNDS'] ?? 5);
const batchSize = 200;
const senders = 4;
const repoRoot = new URL('../../', import.meta.url).pathname;

const children: ChildProcess[] = [];
/** Starts a child process and waits for the `NAME=value` lines it prints once ready. */
async function child(file: string, args: string[], lines: number): Promise<Record<string, string>> {
  const proc = spawn(process.execPath, [file, ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
  children.push(proc);
  let output = '';
  return new Promise((resolve, reject) => {
    proc.stdout!.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      const pairs = [...output.matchAll(/^([A-Z_]+)=(\S+)$/gm)].map((m) => [m[1]!, m[2]!] as const);
      if (pairs.length >= lines) resolve(Object.fromEntries(pairs));
    });
    proc.once('exit', (code) => reject(new Error(`${file} exited (${code}): ${output}`)));
  });
}

const redisDir = await mkdtemp(join(tmpdir(), 'recsync-bench-'));
const redis = await startPrivateRedis({ dir: redisDir, appendOnly: true });
const sandboxEnv = await child(join(repoRoot, 'connectors/hubspot/sandbox.ts'), ['--port', '0', '--no-limits'], 2);
const sinkUrl = (await child(join(repoRoot, 'test/bench/otlp-sink.ts'), [], 1))['OTLP_SINK_URL']!;
// The CRM's limits are not what is measured: raise the manifest's far above the workload.
const connectorsDir = await mkdtemp(join(repoRoot, '.tmp-connectors-bench-'));
await cp(join(repoRoot, 'connectors/hubspot'), join(connectorsDir, 'hubspot'), { recursive: true });
const manifest = join(connectorsDir, 'hubspot/manifest.yaml');
await writeFile(manifest, (await readFile(manifest, 'utf8')).replace('{ requests: 100, per: 10s }', '{ requests: 10000000, per: 10s }').replace('{ requests: 250000, per: 1d }', '{ requests: 100000000, per: 1d }'));

const sinkCount = async () => ((await (await fetch(`${sinkUrl}/count`)).json()) as { spans: number }).spans;

type Mode = 'off' | 'on' | '10%';
interface Result {
  mode: Mode;
  tasksPerS: number;
  cpuMsPerTask: number;
  spans: number;
}

async function round(mode: Mode, index: number): Promise<Result> {
  const tracing =
    mode === 'on'
      ? { OTEL_EXPORTER_OTLP_ENDPOINT: sinkUrl, OTEL_TRACES_SAMPLER: 'always_on' }
      : mode === '10%'
        ? { OTEL_EXPORTER_OTLP_ENDPOINT: sinkUrl, OTEL_TRACES_SAMPLER: 'parentbased_traceidratio', OTEL_TRACES_SAMPLER_ARG: '0.1' }
        : {};
  const prefix = `b${index}`;
  const recsync = await createRecsync({ redisUrl: redis.url, connectorsDir, prefix, env: { ...sandboxEnv, ...tracing } });
  const spansBefore = await sinkCount();
  const batches: unknown[][] = [];
  for (let i = 0; i < tasksPerRound; i += batchSize) {
    batches.push(
      Array.from({ length: Math.min(batchSize, tasksPerRound - i) }, (_, j) => ({
        connector: 'hubspot',
        object: 'contact',
        action: 'upsert',
        recordId: `${prefix}-${i + j}`,
        version: 1,
        payload: { email: `p${i + j}@${prefix}.example.com`, firstName: `F${i + j}`, lastName: 'Bench' },
      })),
    );
  }
  const cpu = process.cpuUsage();
  const started = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: senders }, async () => {
      while (next < batches.length) {
        const body = JSON.stringify(batches[next++]);
        const response = await fetch(`${recsync.url}/v1/tasks`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
        if (response.status !== 202) throw new Error(`ingest answered ${response.status}: ${await response.text()}`);
      }
    }),
  );
  const deadline = Date.now() + 300_000;
  for (;;) {
    const counters = await recsync.services.store.counters('hubspot');
    if (counters.accepted === tasksPerRound && counters.open === 0) {
      if (counters.delivered !== tasksPerRound) throw new Error(`round ${index}: ${JSON.stringify(counters)}`);
      break;
    }
    if (Date.now() > deadline) throw new Error(`round ${index} did not drain: ${JSON.stringify(counters)}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  const seconds = (performance.now() - started) / 1000;
  const used = process.cpuUsage(cpu);
  await recsync.close(); // flushes the spans still buffered
  return { mode, tasksPerS: tasksPerRound / seconds, cpuMsPerTask: (used.user + used.system) / 1000 / tasksPerRound, spans: (await sinkCount()) - spansBefore };
}

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
};

try {
  console.log(`tracing benchmark: ${tasksPerRound} tasks a round (batches of ${batchSize}, ${senders} senders), ${rounds} rounds per mode, alternating; one warm-up round each first`);
  let index = 0;
  const modes: Mode[] = ['off', 'on', '10%'];
  for (const mode of modes) await round(mode, index++);
  const results: Result[] = [];
  for (let r = 0; r < rounds; r += 1) {
    // Rotate which mode goes first, so a drift of the machine does not favour one.
    for (const mode of [...modes.slice(r % modes.length), ...modes.slice(0, r % modes.length)]) {
      const result = await round(mode, index++);
      results.push(result);
      console.log(`  ${mode.padEnd(4)} ${result.tasksPerS.toFixed(0).padStart(6)} tasks/s  ${result.cpuMsPerTask.toFixed(3)} CPU ms/task in the runtime's process  ${result.spans} spans exported`);
    }
  }
  const of = (mode: Mode) => results.filter((r) => r.mode === mode);
  const [off, on, tenth] = [of('off'), of('on'), of('10%')];
  const throughput = median(on.map((r) => r.tasksPerS)) / median(off.map((r) => r.tasksPerS));
  const cpu = median(on.map((r) => r.cpuMsPerTask)) / median(off.map((r) => r.cpuMsPerTask));
  // Per task: producer, consumer, six stages, one CRM request; per request: the server span.
  const expectedSpans = tasksPerRound * 9 + Math.ceil(tasksPerRound / batchSize);
  console.log(`median throughput: off ${median(off.map((r) => r.tasksPerS)).toFixed(0)} tasks/s, on ${median(on.map((r) => r.tasksPerS)).toFixed(0)} tasks/s: ratio on/off ${throughput.toFixed(3)} (cost ${((1 - throughput) * 100).toFixed(1)} %; target ≤ 15 %)`);
  console.log(`median CPU per task in the runtime's process: off ${median(off.map((r) => r.cpuMsPerTask)).toFixed(3)} ms, on ${median(on.map((r) => r.cpuMsPerTask)).toFixed(3)} ms: ratio on/off ${cpu.toFixed(3)}`);
  const sampled = median(tenth.map((r) => r.tasksPerS)) / median(off.map((r) => r.tasksPerS));
  console.log(`one trace in ten sampled: ${median(tenth.map((r) => r.tasksPerS)).toFixed(0)} tasks/s, ratio to off ${sampled.toFixed(3)} (cost ${((1 - sampled) * 100).toFixed(1)} %); CPU ${median(tenth.map((r) => r.cpuMsPerTask)).toFixed(3)} ms/task`);
  console.log(`spans exported per traced round: ${on.map((r) => r.spans).join(', ')} (expected ${expectedSpans}; fewer means the batch processor dropped some)`);
} finally {
  for (const proc of children) proc.kill('SIGTERM');
  await redis.stop();
  await rm(redisDir, { recursive: true, force: true });
  await rm(connectorsDir, { recursive: true, force: true });
}
