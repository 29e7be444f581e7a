// The benchmark's scenarios. Each runs one system (recsync or the bare baseline) on a clean Redis
// and an empty sandbox and returns what it measured; the orchestrator alternates the systems.
import type { Redis } from 'ioredis';
import type { BenchEnv, Run, System } from './bench-env.ts';
import { cpuMeter, latencies, memoryOf, percentile, usedMemory, type Acks } from './measure.ts';

export interface Result {
  scenario: string;
  system: System;
  tasks: number;
  /** Delivered tasks per second (how it is timed depends on the scenario; see its function). */
  tasksPerS: number;
  offeredPerS?: number;
  latencyMs?: { p50: number; p90: number; p99: number; max: number };
  undelivered?: number;
  outOfOrder?: number;
  crmRequestsPerTask?: number;
  /** Share of one core, by process group, over the measured window. */
  cpu: Record<string, number>;
  /** CPU ms per delivered task, by process group. */
  cpuMsPerTask: Record<string, number>;
  workerRssMb: number;
  workerPeakMb: number;
  notes: Record<string, string | number>;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function groups(env: BenchEnv, run: Run): Record<string, number[]> {
  return { workers: run.workers.map((w) => w.pid), redis: [env.redis.pid], crm: [run.sandbox.pid], loadgen: [run.loadgen.pid] };
}

/** Until every sent task is settled: recsync's counters say nothing is open; the baseline's CRM has seen every task. */
async function waitDone(run: Run, sent: number, timeoutMs = Math.max(60_000, sent * 5)): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (run.system === 'recsync') {
      const counters = await run.counters();
      if ((counters['accepted'] ?? 0) >= sent && counters['open'] === 0) return;
    } else if ((await run.sandbox.call<number>('count')) >= sent) return;
    if (Date.now() > deadline) throw new Error(`${run.system}: ${sent} tasks not settled within ${timeoutMs} ms: ${JSON.stringify(await run.counters())}, CRM acks ${await run.sandbox.call('count')}`);
    await sleep(50);
  }
}

function workerMemory(run: Run): { workerRssMb: number; workerPeakMb: number } {
  const memory = run.workers.map((w) => memoryOf(w.pid));
  return { workerRssMb: Math.max(...memory.map((m) => m.rss)) / 2 ** 20, workerPeakMb: Math.max(...memory.map((m) => m.peak)) / 2 ** 20 };
}

function perTask(cpu: Record<string, { cores: number; seconds: number }>, tasks: number) {
  return {
    cpu: Object.fromEntries(Object.entries(cpu).map(([k, v]) => [k, v.cores])),
    cpuMsPerTask: Object.fromEntries(Object.entries(cpu).map(([k, v]) => [k, (v.seconds * 1000) / tasks])),
  };
}

function latencyOf(sorted: Float64Array) {
  return { p50: percentile(sorted, 50), p90: percentile(sorted, 90), p99: percentile(sorted, 99), max: percentile(sorted, 100) };
}

/** A second of traffic nobody measures: JIT, connection pools and Redis's script cache warm up. */
async function warmUp(run: Run): Promise<void> {
  const { sent } = await run.loadgen.call<{ sent: number }>('run', { tag: 'warm', rate: 500, durationMs: 1000, batch: 50, inFlight: 16 });
  await waitDone(run, sent);
  await run.sandbox.call('take');
}

/**
 * Drain a prefilled backlog. The queue is paused while the backlog is written (Redis memory per
 * waiting task is measured then), resumed with the clock started; tasks/s runs from the resume to
 * the CRM's last acknowledgement. What stays in Redis once everything is delivered, per task, is
 * the cost of a delivered record kept (recsync keeps each record's state and CRM id).
 */
export async function drain(env: BenchEnv, system: System, tasks: number): Promise<Result> {
  return env.run(system, { paused: true }, async (run) => {
    const events = run.system === 'recsync' ? `${run.prefix}:q:{hubspot}:events` : `${run.prefix}:{bench}:events`;
    const streamBytes = async () => Number(await env.admin.call('MEMORY', 'USAGE', events, 'SAMPLES', '0')) || 0;
    const before = await usedMemory(env.admin);
    const tag = 'd';
    await run.loadgen.call('run', { tag, count: tasks, batch: 500, inFlight: 8 });
    const waiting = await usedMemory(env.admin);
    const streamWaiting = await streamBytes();
    const keys = await sampleKeys(env.admin, run, `${tag}-0`);
    const meter = cpuMeter(groups(env, run));
    const t0 = Date.now();
    await run.resume();
    await waitDone(run, tasks);
    const cpu = meter.stop();
    const acks = await run.sandbox.call<Acks>('take');
    const lastAck = acks.times.reduce((a, b) => Math.max(a, b), 0);
    await sleep(200);
    const after = await usedMemory(env.admin);
    const streamAfter = await streamBytes();
    const delivered: Record<string, number> = run.system === 'recsync' ? { deliveredRecordHashBytes: Number(await env.admin.call('MEMORY', 'USAGE', `${run.prefix}:{hubspot}:r:default:contact:${tag}-0`, 'SAMPLES', '0')) || 0 } : {};
    return {
      scenario: 'drain',
      system,
      tasks,
      tasksPerS: tasks / ((lastAck - t0) / 1000),
      crmRequestsPerTask: acks.ids.length / tasks,
      ...perTask(cpu, tasks),
      ...workerMemory(run),
      // BullMQ's events stream is capped (about 10,000 entries a queue): a fixed cost, shown apart
      // from the per-task figures so that they do not depend on the backlog's size.
      notes: {
        redisBytesPerWaitingTask: Math.round((waiting - before - streamWaiting) / tasks),
        redisBytesPerDeliveredTask: Math.round((after - before - streamAfter) / tasks),
        eventsStreamKB: Math.round(streamAfter / 1024),
        ...keys,
        ...delivered,
      },
    };
  });
}

/** MEMORY USAGE of one waiting task's keys: the record state (recsync) and the job hash. */
async function sampleKeys(admin: Redis, run: Run, recordId: string): Promise<Record<string, number>> {
  const usage = async (key: string) => Number(await admin.call('MEMORY', 'USAGE', key, 'SAMPLES', '0')) || 0;
  if (run.system === 'baseline') return { jobHashBytes: await usage(`${run.prefix}:{bench}:${recordId}|1`) };
  const record = `${run.prefix}:{hubspot}:r:default:contact:${recordId}`;
  return {
    recordHashBytes: await usage(record),
    payloadBytes: await usage(`${record}:p`),
    jobHashBytes: await usage(`${run.prefix}:q:{hubspot}:r|default|contact|${recordId}|1`),
  };
}

/**
 * An offered rate (open loop) for `durationMs`, after a warm-up: latency from each task's due
 * time to the CRM's acknowledgement; tasks/s from the first due time to the last acknowledgement.
 * `hotRecords`: the tasks update that many records over and over (coalescing's case).
 */
export async function offered(env: BenchEnv, system: System, name: string, rate: number, durationMs: number, hotRecords?: number): Promise<Result> {
  return env.run(system, {}, async (run) => {
    await warmUp(run);
    const requestsBefore = (await run.sandbox.call<{ requests: number }>('stats')).requests;
    const meter = cpuMeter(groups(env, run));
    const tag = 'o';
    const t0 = Date.now();
    const sent = await run.loadgen.call<{ sent: number; times: number[]; maxLagMs: number }>('run', { tag, rate, durationMs, hotRecords, batch: 200, inFlight: 64 });
    await waitDone(run, sent.sent);
    const cpu = meter.stop();
    const acks = await run.sandbox.call<Acks>('take');
    const lat = latencies(tag, sent.times, hotRecords, acks);
    const stats = await run.sandbox.call<{ requests: number }>('stats');
    return {
      scenario: name,
      system,
      tasks: sent.sent,
      offeredPerS: rate,
      tasksPerS: sent.sent / ((lat.lastAck - t0) / 1000),
      latencyMs: latencyOf(lat.sorted),
      undelivered: lat.undelivered,
      outOfOrder: lat.outOfOrder,
      crmRequestsPerTask: (stats.requests - requestsBefore) / sent.sent,
      ...perTask(cpu, sent.sent),
      ...workerMemory(run),
      notes: { generatorMaxLagMs: Math.round(sent.maxLagMs) },
    };
  });
}

/**
 * As many tasks as the load generator can put in (closed loop, 16 batches of 100 in flight) for
 * `durationMs`, with the workers delivering at the same time: tasks/s counts the acknowledgements
 * that arrived while the producer ran, over that time.
 */
export async function max(env: BenchEnv, system: System, durationMs: number): Promise<Result> {
  return env.run(system, {}, async (run) => {
    await warmUp(run);
    const meter = cpuMeter(groups(env, run));
    const tag = 'm';
    const t0 = Date.now();
    const sent = await run.loadgen.call<{ sent: number; times: number[]; elapsedMs: number }>('run', { tag, count: Number.MAX_SAFE_INTEGER, durationMs, batch: 100, inFlight: 16 });
    const t1 = Date.now();
    const cpu = meter.stop();
    await waitDone(run, sent.sent);
    const acks = await run.sandbox.call<Acks>('take');
    const during = acks.times.filter((t) => t <= t1).length;
    const lat = latencies(tag, sent.times, undefined, acks);
    return {
      scenario: 'max',
      system,
      tasks: sent.sent,
      tasksPerS: during / ((t1 - t0) / 1000),
      latencyMs: latencyOf(lat.sorted),
      undelivered: lat.undelivered,
      ...perTask(cpu, during),
      ...workerMemory(run),
      notes: { acceptedPerS: Math.round(sent.sent / ((t1 - t0) / 1000)), backlogAtEnd: sent.sent - during },
    };
  });
}

/**
 * recsync against a rate-limited CRM (the sandbox's own limiter at `limit` requests per 10 s, and
 * the manifest declaring the same): a backlog of `tasks` is released at once. The limit holds when
 * the sandbox's highest count in any rolling 10 s window stays at or under `limit` with no 429;
 * utilisation is the tasks delivered over what the limit allowed from the first acknowledgement
 * to the last (a compliant schedule delivers at most limit × (span / 10 s + 1)).
 */
export async function limited(env: BenchEnv, limit: number, tasks: number): Promise<Result> {
  return env.run('recsync', { paused: true, limited: limit }, async (run) => {
    await run.loadgen.call('run', { tag: 'l', count: tasks, batch: 500, inFlight: 8 });
    const meter = cpuMeter(groups(env, run));
    const t0 = Date.now();
    await run.resume();
    await waitDone(run, tasks, Math.ceil(tasks / limit) * 12_000 + 60_000);
    const cpu = meter.stop();
    const acks = await run.sandbox.call<Acks>('take');
    const first = acks.times.reduce((a, b) => Math.min(a, b), Infinity);
    const last = acks.times.reduce((a, b) => Math.max(a, b), 0);
    const stats = await run.sandbox.call<{ requests: number; throttled: number; maxInTenSecondWindow: number }>('stats');
    const allowed = limit * ((last - first) / 10_000 + 1);
    return {
      scenario: 'rate-limited',
      system: 'recsync',
      tasks,
      tasksPerS: tasks / ((last - t0) / 1000),
      crmRequestsPerTask: stats.requests / tasks,
      ...perTask(cpu, tasks),
      ...workerMemory(run),
      notes: { limitPer10s: limit, maxInAny10s: stats.maxInTenSecondWindow, throttled: stats.throttled, utilisation: Number((tasks / allowed).toFixed(3)) },
    };
  });
}

/**
 * Redis commands per task, counted by MONITOR on a small drain (apart from the throughput runs:
 * MONITOR slows Redis down). Only commands clients send count (round trips, pipelined or not);
 * those a Lua script runs inside Redis do not. Split into the ingest side and the worker side.
 */
export async function roundTrips(env: BenchEnv, system: System, tasks: number): Promise<Result> {
  return env.run(system, { paused: true }, async (run) => {
    const monitor = await env.admin.monitor();
    const own = String((env.admin as unknown as { stream: { localPort: number } }).stream.localPort);
    let phase: Map<string, number> = new Map();
    monitor.on('monitor', (_time: string, args: string[], source: string) => {
      if (source === 'lua' || source.endsWith(`:${own}`)) return;
      const name = String(args[0]).toLowerCase();
      phase.set(name, (phase.get(name) ?? 0) + 1);
    });
    await run.loadgen.call('run', { tag: 'rt', count: tasks, batch: 100, inFlight: 4 });
    await sleep(300);
    const ingest = phase;
    phase = new Map();
    await run.resume();
    await waitDone(run, tasks);
    await sleep(300);
    const worker = phase;
    await monitor.disconnect();
    await run.sandbox.call('take');
    const describe = (counts: Map<string, number>) =>
      [...counts]
        .filter(([name]) => !['monitor', 'info', 'client', 'hello'].includes(name))
        .sort((a, b) => b[1] - a[1])
        .map(([name, n]) => `${name} ${(n / tasks).toFixed(2)}`)
        .join(', ');
    const total = (counts: Map<string, number>) => [...counts.values()].reduce((a, b) => a + b, 0) / tasks;
    return {
      scenario: 'round-trips',
      system,
      tasks,
      tasksPerS: NaN,
      cpu: {},
      cpuMsPerTask: {},
      ...workerMemory(run),
      notes: { ingestCommandsPerTask: Number(total(ingest).toFixed(2)), workerCommandsPerTask: Number(total(worker).toFixed(2)), ingest: describe(ingest), worker: describe(worker) },
    };
  });
}

/**
 * The soak: recsync at `rate` for `durationMs` over a rotating set of records (so that the number
 * of records, and with it Redis's data, levels off), sampling worker RSS and Redis memory.
 */
export async function soak(env: BenchEnv, rate: number, durationMs: number, records: number, onSample: (line: string) => void): Promise<Result> {
  return env.run('recsync', {}, async (run) => {
    const samples: Array<{ at: number; rss: number; redis: number }> = [];
    const t0 = Date.now();
    const timer = setInterval(() => {
      void usedMemory(env.admin).then((redis) => {
        const sample = { at: (Date.now() - t0) / 1000, rss: workerMemory(run).workerRssMb, redis: redis / 2 ** 20 };
        samples.push(sample);
        onSample(`  soak ${sample.at.toFixed(0)} s: worker RSS ${sample.rss.toFixed(1)} MB, Redis used_memory ${sample.redis.toFixed(1)} MB`);
      });
    }, 30_000);
    const meter = cpuMeter(groups(env, run));
    try {
      const sent = await run.loadgen.call<{ sent: number; times: number[] }>('run', { tag: 's', rate, durationMs, hotRecords: records, batch: 200, inFlight: 64 });
      await waitDone(run, sent.sent);
      const cpu = meter.stop();
      const acks = await run.sandbox.call<Acks>('take');
      const lat = latencies('s', sent.times, records, acks);
      const half = samples.filter((s) => s.at >= durationMs / 2000);
      return {
        scenario: 'soak',
        system: 'recsync',
        tasks: sent.sent,
        offeredPerS: rate,
        tasksPerS: sent.sent / ((lat.lastAck - t0) / 1000),
        latencyMs: latencyOf(lat.sorted),
        undelivered: lat.undelivered,
        ...perTask(cpu, sent.sent),
        ...workerMemory(run),
        notes: {
          rssSecondHalfMb: half.length ? `${Math.min(...half.map((s) => s.rss)).toFixed(1)}–${Math.max(...half.map((s) => s.rss)).toFixed(1)}` : 'n/a',
          redisSecondHalfMb: half.length ? `${Math.min(...half.map((s) => s.redis)).toFixed(1)}–${Math.max(...half.map((s) => s.redis)).toFixed(1)}` : 'n/a',
        },
      };
    } finally {
      clearInterval(timer);
    }
  });
}
