// Measuring helpers of the pipeline benchmark: CPU and memory from /proc (so every process,
// redis-server included, is measured the same way, from outside), latency percentiles, and
// Redis's own memory and command counts.
import { readFileSync } from 'node:fs';
import { taskOf } from './workload.ts';

/** Kernel clock ticks per second for /proc/<pid>/stat (USER_HZ; 100 on Linux everywhere that matters). */
const ticksPerSecond = 100;

/** CPU seconds (user + system) the process has used so far. */
export function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name (which may hold spaces) start with the state, field 3 of proc(5).
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / ticksPerSecond;
}

/** Resident set size and its peak, in bytes. */
export function memoryOf(pid: number): { rss: number; peak: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? 0) * 1024;
  return { rss: kb('VmRSS'), peak: kb('VmHWM') };
}

/** CPU used by each named group of processes between `start()` and `stop()`, as a share of one core. */
export function cpuMeter(groups: Record<string, number[]>) {
  const read = () => Object.fromEntries(Object.entries(groups).map(([name, pids]) => [name, pids.reduce((sum, pid) => sum + cpuSeconds(pid), 0)]));
  const before = read();
  const t0 = performance.now();
  return {
    stop(): Record<string, { cores: number; seconds: number }> {
      const after = read();
      const wall = (performance.now() - t0) / 1000;
      return Object.fromEntries(Object.keys(groups).map((name) => [name, { seconds: after[name]! - before[name]!, cores: (after[name]! - before[name]!) / wall }]));
    },
  };
}

export function percentile(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

export interface Acks {
  ids: string[];
  versions: number[];
  times: number[];
}

export interface Latency {
  /** Sorted latencies (ms) of the tasks whose version (or a newer one) the CRM acknowledged. */
  sorted: Float64Array;
  /** Tasks whose version, or a newer one, never reached the CRM. */
  undelivered: number;
  /** Records whose last acknowledged write was not their newest version (an older one had the last word). */
  outOfOrder: number;
  firstAck: number;
  lastAck: number;
}

/**
 * A task is done when the CRM acknowledged its version or a newer one of the same record (a
 * coalesced update is delivered by the newer write that carries it). Its latency runs from its
 * enqueue time to the first such acknowledgement.
 */
export function latencies(tag: string, enqueued: number[], hotRecords: number | undefined, acks: Acks): Latency {
  const byRecord = new Map<string, Array<{ version: number; at: number }>>();
  let firstAck = Infinity;
  let lastAck = -Infinity;
  for (let i = 0; i < acks.ids.length; i += 1) {
    const at = acks.times[i]!;
    let list = byRecord.get(acks.ids[i]!);
    if (!list) byRecord.set(acks.ids[i]!, (list = []));
    list.push({ version: acks.versions[i]!, at });
    if (at < firstAck) firstAck = at;
    if (at > lastAck) lastAck = at;
  }
  for (const list of byRecord.values()) list.sort((a, b) => a.at - b.at);
  const out: number[] = [];
  let undelivered = 0;
  const newest = new Map<string, number>();
  for (let i = 0; i < enqueued.length; i += 1) {
    const { recordId, version } = taskOf(tag, i, hotRecords);
    newest.set(recordId, Math.max(newest.get(recordId) ?? 0, version));
    const list = byRecord.get(recordId);
    const ack = list?.find((a) => a.version >= version && a.at >= enqueued[i]! - 1);
    if (ack) out.push(Math.max(0, ack.at - enqueued[i]!));
    else undelivered += 1;
  }
  let outOfOrder = 0;
  for (const [recordId, version] of newest) {
    const list = byRecord.get(recordId);
    if (list && list[list.length - 1]!.version !== version) outOfOrder += 1;
  }
  return { sorted: Float64Array.from(out).sort(), undelivered, outOfOrder, firstAck, lastAck };
}

/** Redis's used_memory (bytes): what its data and bookkeeping take, allocator slack excluded. */
export async function usedMemory(redis: { info(section: string): Promise<string> }): Promise<number> {
  return Number(/^used_memory:(\d+)/m.exec(await redis.info('memory'))![1]);
}
