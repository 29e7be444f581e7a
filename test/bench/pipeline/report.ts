// The benchmark's printout: one markdown table (ready for docs/performance.md), the round with
// the median tasks/s standing for each scenario and system, and recsync's ratio to the baseline.
import type { Result } from './scenarios.ts';

const n = (value: number | undefined, digits = 0) => (value === undefined || !Number.isFinite(value) ? '—' : value.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits }));

function median(results: Result[]): Result {
  const sorted = [...results].sort((a, b) => a.tasksPerS - b.tasksPerS);
  return sorted[Math.floor((sorted.length - 1) / 2)]!;
}

export function formatResults(results: Result[]): string {
  const scenarios = [...new Set(results.map((r) => r.scenario))];
  const lines = [
    '| scenario | system | tasks | tasks/s | × baseline | p50 ms | p90 ms | p99 ms | CRM requests/task | CPU (cores): workers / redis / CRM / load gen | worker CPU ms/task | worker RSS MB (peak) |',
    '|---|---|---|---|---|---|---|---|---|---|---|---|',
  ];
  const notes: string[] = [];
  for (const scenario of scenarios) {
    const of = (system: string) => results.filter((r) => r.scenario === scenario && r.system === system);
    const baseline = of('baseline').length ? median(of('baseline')) : undefined;
    for (const system of ['baseline', 'recsync']) {
      if (of(system).length === 0) continue;
      const r = median(of(system));
      const ratio = system === 'recsync' && baseline && Number.isFinite(r.tasksPerS) ? n(r.tasksPerS / baseline.tasksPerS, 2) : '';
      const cpu = ['workers', 'redis', 'crm', 'loadgen'].map((k) => n(r.cpu[k], 2)).join(' / ');
      const lat = r.latencyMs;
      lines.push(
        `| ${scenario}${r.offeredPerS ? ` (${n(r.offeredPerS)}/s offered)` : ''} | ${system} | ${n(r.tasks)} | ${n(r.tasksPerS)} | ${ratio} | ${n(lat?.p50, 1)} | ${n(lat?.p90, 1)} | ${n(lat?.p99, 1)} | ${n(r.crmRequestsPerTask, 2)} | ${cpu} | ${n(r.cpuMsPerTask['workers'], 3)} | ${n(r.workerRssMb)} (${n(r.workerPeakMb)}) |`,
      );
      const extra = { ...r.notes, ...(r.undelivered ? { undelivered: r.undelivered } : {}), ...(r.outOfOrder ? { recordsEndingOnAnOlderVersion: r.outOfOrder } : {}) };
      if (Object.keys(extra).length > 0) notes.push(`- ${scenario}, ${system}: ${Object.entries(extra).map(([k, v]) => `${k} ${v}`).join('; ')}`);
    }
  }
  return [...lines, '', ...notes].join('\n');
}
