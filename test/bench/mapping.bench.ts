// Cost of a mapping per record: the jsonata interpreter, the compiled mapping, and (for the
// HubSpot contact mapping) the same mapping written by hand in JavaScript. Every mapping in
// connectors/**/mappings/*.jsonata, on records generated from its input schema (seeded).
// Prints a markdown table (medians of 5 alternating rounds). Run: node test/bench/mapping.bench.ts
// (BENCH_SCALE=0.2 for a quick run).
import assert from 'node:assert/strict';
import { globSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import jsonata from 'jsonata';
import { parse } from 'yaml';
import { mappingLimits } from '../../runtime/connectors/load-connector.ts';
import { compileMapping } from '../../runtime/mapping/index.ts';
import { fromSchema, rng } from '../helpers/mapping-generators.ts';

const scale = Number(process.env['BENCH_SCALE'] ?? 1);
const root = resolve(import.meta.dirname, '../..');

/** JSONata's $trim: runs of blanks become one space, then one leading and one trailing space go. */
function trim(s: string): string {
  let r = s.replace(/[ \t\n\r]+/g, ' ');
  if (r.charAt(0) === ' ') r = r.substring(1);
  if (r.charAt(r.length - 1) === ' ') r = r.substring(0, r.length - 1);
  return r;
}

type Contact = {
  email?: string; firstName?: string; lastName?: string; phone?: string; mobile?: string; title?: string; lifecycle?: string;
  website?: string; company?: { name?: string; domain?: string }; address?: { street?: string; city?: string; region?: string; postalCode?: string; country?: string };
};

/** connectors/hubspot/mappings/contact.jsonata by hand, for inputs that satisfy the input schema. */
function hubspotContact(c: Contact, bindings: { recordId: string }): Record<string, unknown> {
  const o: Record<string, unknown> = {};
  if (c.email !== undefined) o['email'] = trim(c.email).toLowerCase();
  if (c.firstName !== undefined) o['firstname'] = c.firstName;
  if (c.lastName !== undefined) o['lastname'] = c.lastName;
  if (c.phone !== undefined) o['phone'] = c.phone;
  if (c.mobile !== undefined) o['mobilephone'] = c.mobile;
  if (c.company?.name !== undefined) o['company'] = c.company.name;
  const website = c.website ? c.website : c.company?.domain ? `https://${c.company.domain}` : undefined;
  if (website !== undefined) o['website'] = website;
  if (c.title !== undefined) o['jobtitle'] = c.title;
  if (c.lifecycle !== undefined) o['lifecyclestage'] = c.lifecycle;
  const a = c.address;
  if (a?.street !== undefined) o['address'] = a.street;
  if (a?.city !== undefined) o['city'] = a.city;
  if (a?.region !== undefined) o['state'] = a.region;
  if (a?.postalCode !== undefined) o['zip'] = a.postalCode;
  if (a?.country !== undefined) o['country'] = a.country.toUpperCase();
  o['recsync_id'] = bindings.recordId;
  return o;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] as number;
}

function timePerCall(n: number, run: (i: number) => unknown): number {
  for (let i = 0; i < Math.min(n, 20_000); i++) run(i);
  const started = performance.now();
  for (let i = 0; i < n; i++) run(i);
  return ((performance.now() - started) * 1000) / n;
}

async function timeAsync(n: number, run: (i: number) => Promise<unknown>): Promise<number> {
  for (let i = 0; i < Math.min(n, 500); i++) await run(i);
  const started = performance.now();
  for (let i = 0; i < n; i++) await run(i);
  return ((performance.now() - started) * 1000) / n;
}

const schemas = new Map<string, object>();
for (const manifest of globSync('connectors/*/manifest.yaml', { cwd: root })) {
  const dir = join(root, dirname(manifest));
  const doc = parse(readFileSync(join(root, manifest), 'utf8')) as { objects?: Record<string, { input?: string; mapping?: string }> };
  for (const o of Object.values(doc.objects ?? {})) {
    if (o.input && o.mapping) schemas.set(resolve(dir, o.mapping), JSON.parse(readFileSync(resolve(dir, o.input), 'utf8')) as object);
  }
}

const files = globSync('connectors/**/mappings/*.jsonata', { cwd: root }).sort();
// Warm both engines on every mapping first, so the first mapping measured is not the one paying for the JIT.
for (const file of files) {
  const text = readFileSync(join(root, file), 'utf8');
  const warm = jsonata(text, { ...mappingLimits });
  const compiled = compileMapping(text, { ...mappingLimits });
  const r = rng(7);
  const records = Array.from({ length: 100 }, () => fromSchema(r, schemas.get(join(root, file)) ?? { type: 'object' }, 0));
  for (let i = 0; i < 3000 * scale; i++) {
    await warm.evaluate(records[i % 100], { recordId: 'w' });
    compiled.evaluate(records[i % 100], { recordId: 'w' });
  }
}

const tables: { title: string; presence: number; rows: string[] }[] = [
  { title: 'each optional field present with probability 0.75 (many record shapes)', presence: 0.75, rows: [] },
  { title: 'every field present (one record shape)', presence: 1, rows: [] },
];
for (const table of tables) for (const file of files) {
  const rows = table.rows;
  const text = readFileSync(join(root, file), 'utf8');
  const schema = schemas.get(join(root, file)) ?? { type: 'object' };
  const r = rng(2024);
  const records = Array.from({ length: 1000 }, () => fromSchema(r, schema, 0, 4, table.presence));
  const bindings = { recordId: 'rec-0001' };
  const interpreter = jsonata(text, { ...mappingLimits });
  const compiled = compileMapping(text, { ...mappingLimits });
  for (const record of records.slice(0, 50)) {
    assert.equal(JSON.stringify(compiled.evaluate(record, bindings)), JSON.stringify(await interpreter.evaluate(record, bindings)));
  }
  // Rounds alternate the engines, so a change of machine load hits all of them; medians are reported.
  const rounds = 5;
  const times = { interpreter: [] as number[], compiled: [] as number[], hand: [] as number[] };
  const isHubspotContact = file === 'connectors/hubspot/mappings/contact.jsonata';
  if (isHubspotContact) {
    for (const record of records) {
      assert.equal(JSON.stringify(hubspotContact(record as Contact, bindings)), JSON.stringify(compiled.evaluate(record, bindings)));
    }
  }
  for (let round = 0; round < rounds; round++) {
    times.interpreter.push(await timeAsync(Math.round(4_000 * scale), (i) => interpreter.evaluate(records[i % 1000], bindings)));
    if (compiled.compiled) times.compiled.push(timePerCall(Math.round(100_000 * scale), (i) => compiled.evaluate(records[i % 1000], bindings)));
    if (isHubspotContact) times.hand.push(timePerCall(Math.round(200_000 * scale), (i) => hubspotContact(records[i % 1000] as Contact, bindings)));
  }
  const interpreted = median(times.interpreter);
  const fast = compiled.compiled ? median(times.compiled) : NaN;
  const hand = isHubspotContact ? median(times.hand).toFixed(2) : '';
  rows.push(`| ${file} | ${compiled.compiled ? 'yes' : `no: ${compiled.reason}`} | ${interpreted.toFixed(1)} | ${fast.toFixed(2)} | ${(interpreted / fast).toFixed(0)}× | ${hand} |`);
}

console.log(`Node ${process.version}, ${new Date().toISOString().slice(0, 10)}: µs per record (lower is better), medians of 5 rounds,`);
console.log('on 1,000 records generated (seeded) from each mapping\'s input schema.');
for (const table of tables) {
  console.log(`\nRecords with ${table.title}:\n`);
  console.log('| mapping | compiled | interpreter | compiled | speed-up | hand-written JS |');
  console.log('|---|---|---|---|---|---|');
  for (const row of table.rows) console.log(row);
}
