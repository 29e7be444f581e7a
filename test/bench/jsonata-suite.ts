/**
 * Runs every case of the JSONata project's language-neutral test suite against compileMapping and
 * reports how many compile, how many of those pass, and how many compile and give a different
 * answer (must be zero: an expression that cannot be compiled exactly falls back instead).
 *
 *   node test/bench/jsonata-suite.ts              # summary, fallback reasons, any difference
 *   JSONATA_SUITE=/path/to/suite node test/bench/jsonata-suite.ts --verbose
 *
 * The suite (MIT) is read at run time from ../shared/jsonata-test-suite next to this repository
 * (or JSONATA_SUITE);
 * it is not part of this repository. Each case runs with the limits it asks for: `timelimit` ->
 * timeout (10 s otherwise), `depth` -> stack (unlimited otherwise); the suite's U1001 (its own
 * runaway code) is met by D1011 / D1012.
 */
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { compileMapping, mappingStats, type MappingLimits } from '../../runtime/mapping/index.ts';

interface Case {
  group: string;
  file: string;
  expr: string;
  data?: unknown;
  dataset?: string | null;
  bindings?: Record<string, unknown>;
  result?: unknown;
  undefinedResult?: boolean;
  code?: string;
  error?: { code: string };
  timelimit?: number;
  depth?: number;
}

export interface SuiteReport {
  total: number;
  parseErrors: number;
  parseErrorsMatching: number;
  compiled: number;
  compiledPassed: number;
  different: { group: string; file: string; expr: string; expected: unknown; got: unknown }[];
  fallbackPassed: number;
  /** Compiled cases whose evaluation was re-run by the interpreter (an error inside concurrently evaluated items). */
  reruns: number;
  reasons: Map<string, number>;
}

export function suiteDir(): string {
  return process.env.JSONATA_SUITE ?? resolve(import.meta.dirname, '../../../shared/jsonata-test-suite');
}

export function loadCases(dir = suiteDir()): Case[] {
  const cases: Case[] = [];
  const groups = join(dir, 'groups');
  for (const group of readdirSync(groups).sort()) {
    for (const file of readdirSync(join(groups, group)).filter((f) => f.endsWith('.json')).sort()) {
      const parsed = JSON.parse(readFileSync(join(groups, group, file), 'utf8')) as unknown;
      const list = (Array.isArray(parsed) ? parsed : [parsed]) as (Case & { 'expr-file'?: string })[];
      list.forEach((c, i) => {
        const expr = c['expr-file'] !== undefined ? readFileSync(join(groups, group, c['expr-file']), 'utf8') : c.expr;
        cases.push({ ...c, expr, group, file: list.length > 1 ? `${file}#${i}` : file });
      });
    }
  }
  return cases;
}

function normalise(value: unknown): unknown {
  return value === undefined ? undefined : JSON.parse(JSON.stringify(value)) as unknown;
}

type Outcome = { value: unknown } | { code: string | undefined; message?: string };

function expectedCode(c: Case): string | undefined {
  return c.code ?? c.error?.code;
}

function passes(c: Case, out: Outcome): boolean {
  const code = expectedCode(c);
  if (code !== undefined) {
    if (!('code' in out)) return false;
    return out.code === code || (code === 'U1001' && (out.code === 'D1011' || out.code === 'D1012'));
  }
  if ('code' in out) return false;
  if (c.undefinedResult) return out.value === undefined;
  return isDeepStrictEqual(normalise(out.value), c.result);
}

async function run(evaluate: () => unknown): Promise<Outcome> {
  try {
    return { value: await evaluate() };
  } catch (error) {
    const e = error as { code?: string; message?: string };
    return { code: e.code, message: e.message };
  }
}

export async function runSuite(dir = suiteDir()): Promise<SuiteReport> {
  const datasets = new Map<string, unknown>();
  for (const f of readdirSync(join(dir, 'datasets'))) {
    datasets.set(f.replace(/\.json$/, ''), JSON.parse(readFileSync(join(dir, 'datasets', f), 'utf8')));
  }
  const report: SuiteReport = {
    total: 0, parseErrors: 0, parseErrorsMatching: 0, compiled: 0, compiledPassed: 0, different: [], fallbackPassed: 0, reruns: 0, reasons: new Map(),
  };
  for (const c of loadCases(dir)) {
    report.total++;
    const input = 'data' in c ? c.data : typeof c.dataset === 'string' ? datasets.get(c.dataset) : undefined;
    const limits: MappingLimits = { timeout: c.timelimit ?? 10_000, stack: c.depth ?? 0, sequence: Number.MAX_SAFE_INTEGER };
    let mapping;
    try {
      mapping = compileMapping(c.expr, limits);
    } catch (error) {
      report.parseErrors++;
      if (passes(c, { code: (error as { code?: string }).code })) report.parseErrorsMatching++;
      else if (process.env.SUITE_DEBUG) console.log("parse mismatch", c.group, c.file, (error as Error).message);
      continue;
    }
    // Deep copies: an expression may mutate its input (the interpreter does, in a few corners).
    const reruns = mappingStats.reruns;
    const out = await run(() => mapping.evaluate(structuredClone(input), structuredClone(c.bindings)));
    if (mapping.compiled) {
      report.compiled++;
      if (mappingStats.reruns > reruns) report.reruns++;
      if (passes(c, out)) report.compiledPassed++;
      else report.different.push({ group: c.group, file: c.file, expr: c.expr, expected: expectedCode(c) ?? c.result, got: out });
    } else {
      const reason = (mapping.reason ?? '').replace(/ \(at position \d+\)$/, '');
      report.reasons.set(reason, (report.reasons.get(reason) ?? 0) + 1);
      if (passes(c, out)) report.fallbackPassed++;
    }
  }
  return report;
}

if (import.meta.main) {
  if (!existsSync(suiteDir())) {
    console.error(`JSONata test suite not found at ${suiteDir()} (set JSONATA_SUITE)`);
    process.exit(2);
  }
  const r = await runSuite();
  const pct = (n: number, of: number) => `${((100 * n) / of).toFixed(1)} %`;
  console.log('| cases | compiled | compiled and passing | compiled and different | fallback (interpreter) passing | syntax errors (same code) |');
  console.log('|---|---|---|---|---|---|');
  console.log(
    `| ${r.total} | ${r.compiled} (${pct(r.compiled, r.total)}) | ${r.compiledPassed} | ${r.different.length} | ` +
      `${r.fallbackPassed} of ${r.total - r.compiled - r.parseErrors} | ${r.parseErrorsMatching} of ${r.parseErrors} |`,
  );
  console.log(`\nOf the compiled cases, ${r.reruns} raised an error inside concurrently evaluated items and were re-run by the interpreter.`);
  console.log('\nFallback reasons:');
  for (const [reason, n] of [...r.reasons].sort((a, b) => b[1] - a[1])) console.log(`  ${String(n).padStart(4)}  ${reason}`);
  if (r.different.length > 0) {
    console.log('\nDIFFERENT:');
    for (const d of r.different.slice(0, process.argv.includes('--verbose') ? undefined : 40)) {
      console.log(`  ${d.group}/${d.file}: ${d.expr.replace(/\s+/g, ' ').slice(0, 120)}\n    expected ${JSON.stringify(d.expected)?.slice(0, 200)}\n    got      ${JSON.stringify(d.got)?.slice(0, 200)}`);
    }
  }
  process.exitCode = r.different.length === 0 ? 0 : 1;
}
