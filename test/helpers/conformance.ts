// The connector conformance suite: what every connector must do against its own sandbox, through
// the real runtime (Redis, BullMQ, the whole pipeline). It needs nothing written for one CRM: the
// sample payload of each object is its first upsert fixture, the CRM's state is read through the
// sandbox kit's control API (GET /__sandbox/objects), and failures are injected with its faults.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, it } from 'node:test';
import { createRecsync, type Recsync } from '../../runtime/app.ts';
import { discover } from '../../runtime/connectors/registry.ts';
import { loadFixtures, mapFixture, type Fixture } from '../../runtime/kit/fixtures.ts';
import type { SandboxModule } from '../../runtime/sdk/index.ts';
import type { FaultSpec } from '../../runtime/sdk/sandbox-kit/index.ts';
import { onCleanup } from './cleanup.ts';
import { pollUntil } from './poll.ts';
import type { TestRedis } from './redis.ts';

interface Sandbox {
  url: string;
  env: Record<string, string>;
}

interface LoggedRequest {
  at: number;
  method: string;
  path: string;
  status: number;
  fault?: string;
  responseBody?: unknown;
}

/**
 * Starts the sandbox of every connector under `connectorsDir`, one recsync on all of them, and
 * registers the conformance tests of every object of every connector. Call it at the top level of
 * a test file, after useRedis(). Returns, per connector, the objects it registered scenarios for.
 */
export async function conformanceSuite(redis: TestRedis, connectorsDir: string): Promise<Map<string, string[]>> {
  const names = await discover(connectorsDir);
  const sandboxes = new Map<string, Sandbox | Error>();
  for (const name of names) sandboxes.set(name, await startSandboxOf(connectorsDir, name).catch((error: Error) => error));
  const env = Object.assign({}, ...[...sandboxes.values()].map((s) => (s instanceof Error ? {} : s.env))) as Record<string, string>;
  const recsync = await createRecsync({ redisUrl: redis.url, connectorsDir, env, prefix: `conf${process.pid}` });
  onCleanup(() => recsync.close());

  const covered = new Map<string, string[]>();
  for (const name of names) {
    const loaded = recsync.services.registry.slot(name)?.current;
    covered.set(name, loaded && !(sandboxes.get(name) instanceof Error) ? [...loaded.objects.keys()] : []);
    describe(`connector ${name}`, () => {
      const slot = recsync.services.registry.slot(name);
      const sandbox = sandboxes.get(name)!;
      it('loads, and ships a sandbox built on the sandbox kit', () => {
        assert.deepEqual(slot?.errors, [], `${name} does not load`);
        if (sandbox instanceof Error) assert.fail(sandbox.message);
      });
      if (slot?.current === undefined || sandbox instanceof Error) return;
      for (const object of slot.current.objects.keys()) objectScenarios(recsync, name, object, sandbox);
    });
  }
  return covered;
}

async function startSandboxOf(connectorsDir: string, name: string): Promise<Sandbox> {
  const { parseYamlFile } = await import('../../runtime/config/yaml-file.ts');
  const { readFile } = await import('node:fs/promises');
  const manifestFile = join(connectorsDir, name, 'manifest.yaml');
  const manifest = parseYamlFile(manifestFile, await readFile(manifestFile, 'utf8')).value as { sandbox?: string };
  if (manifest.sandbox === undefined) throw new Error(`${name}: the manifest names no sandbox; the conformance suite runs every connector against its own`);
  const module = (await import(pathToFileURL(join(connectorsDir, name, manifest.sandbox)).href)) as SandboxModule;
  const sandbox = await module.startSandbox({ host: '127.0.0.1', port: 0, freshIds: true });
  onCleanup(() => sandbox.close());
  return sandbox;
}

function objectScenarios(recsync: Recsync, connector: string, object: string, sandbox: Sandbox): void {
  const version = () => recsync.services.registry.get(connector)!;
  const store = recsync.services.store;
  let sample: { input: Record<string, unknown>; field: string } | undefined;
  let seq = 0;

  const control = async <T>(method: string, path: string, body?: unknown): Promise<T> => {
    const response = await fetch(`${sandbox.url}/__sandbox${path}`, body === undefined ? { method } : { method, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    assert.ok(response.ok, `sandbox control ${method} ${path}: ${response.status}`);
    return (response.status === 204 ? undefined : await response.json()) as T;
  };
  const crmObjects = async () => Object.values(await control<Record<string, unknown[]>>('GET', '/objects')).flat();
  const holding = async (text: string) => (await crmObjects()).filter((o) => JSON.stringify(o).includes(text)).length;
  const requestsSince = async (count: number) => (await control<LoggedRequest[]>('GET', '/requests')).slice(count);
  const fault = (spec: FaultSpec) => control('POST', '/faults', spec);

  /** The sample payload for one record: a marker in the chosen field, email-like values made unique (CRMs dedupe by email). */
  const payload = (recordId: string, marker: string) => {
    const input: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(sample!.input)) input[key] = typeof value === 'string' && /^[^@\s]+@[^@\s]+$/.test(value) ? `${recordId}.${value}` : value;
    input[sample!.field] = marker;
    return input;
  };
  const send = async (task: Record<string, unknown>) => {
    const response = await fetch(`${recsync.url}/v1/tasks`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ connector, object, ...task }) });
    assert.equal(response.status, 202, await response.text());
  };
  const settled = async (recordId: string, check: (status: NonNullable<Awaited<ReturnType<typeof store.status>>>) => boolean) =>
    pollUntil(
      async () => {
        const status = await store.status({ connector, tenant: 'default', object, recordId });
        return status !== undefined && status.inFlightVersion === null && !status.pending && check(status) ? status : undefined;
      },
      {
        timeoutMs: 30_000,
        describe: async () => {
          const recent = (await control<LoggedRequest[]>('GET', '/requests')).slice(-4).map((r) => `${r.method} ${r.path} ${r.status}${r.fault ? ` (${r.fault})` : ''}`);
          return `${JSON.stringify(await store.status({ connector, tenant: 'default', object, recordId }))}; the sandbox's last requests: ${recent.join(', ')}`;
        },
      },
    );
  const fresh = () => {
    seq += 1;
    return { recordId: `conf-${object}-${process.pid}-${seq}`, marker: `Mk${object}${process.pid}x${seq}` };
  };
  /** Creates a record and waits for its delivery; returns what the CRM held before. */
  const create = async (recordId: string, marker: string) => {
    await send({ action: 'upsert', recordId, version: 1, payload: payload(recordId, marker) });
    return settled(recordId, (s) => s.deliveredVersion === 1);
  };

  describe(`object ${object}`, () => {
    it('has an upsert fixture whose input carries a field through to the CRM object', async () => {
      const { fixtures } = await loadFixtures(version().dir, [object]);
      const first = fixtures.find((f): f is Fixture & { expect: { record: Record<string, unknown> } } => f.action === 'upsert' && 'record' in f.expect && f.expect.record !== null);
      assert.ok(first, `${connector}/fixtures/${object} needs an upsert fixture with an expected record (the sample payload)`);
      const input = first.input as Record<string, unknown>;
      // The first top-level string field that the mapping carries, unchanged, into the CRM object.
      for (const field of Object.keys(input).filter((k) => typeof input[k] === 'string')) {
        const marker = 'MkProbe42';
        const mapped = await mapFixture(version(), { ...first, input: { ...input, [field]: marker } });
        if (mapped.error === undefined && JSON.stringify(mapped.record).includes(marker)) {
          sample = { input, field };
          return;
        }
      }
      assert.fail(`no string field of ${first.file} reaches the CRM object unchanged`);
    });

    it('create: one CRM object holds the record, and its CRM id is stored', async () => {
      assert.ok(sample, 'needs the sample');
      const { recordId, marker } = fresh();
      const before = (await crmObjects()).length;
      const status = await create(recordId, marker);
      assert.ok(status.crmId, 'a CRM id is stored');
      assert.equal((await crmObjects()).length, before + 1);
      assert.equal(await holding(marker), 1);
    });

    it('update: the same CRM object holds the new version', async () => {
      assert.ok(sample, 'needs the sample');
      const { recordId, marker } = fresh();
      const created = await create(recordId, marker);
      const before = (await crmObjects()).length;
      await send({ action: 'upsert', recordId, version: 2, payload: payload(recordId, `${marker}v2`) });
      const status = await settled(recordId, (s) => s.deliveredVersion === 2);
      assert.equal(status.crmId, created.crmId);
      assert.equal((await crmObjects()).length, before);
      assert.equal(await holding(`${marker}v2`), 1);
    });

    it('delete: the CRM object is gone', async () => {
      assert.ok(sample, 'needs the sample');
      const { recordId, marker } = fresh();
      await create(recordId, marker);
      const before = (await crmObjects()).length;
      await send({ action: 'delete', recordId, version: 2 });
      const status = await settled(recordId, (s) => s.deliveredVersion === 2);
      assert.equal(status.deliveredAction, 'delete');
      assert.equal((await crmObjects()).length, before - 1);
      assert.equal(await holding(marker), 0);
    });

    it('duplicate create: a create that landed but answered 500 is retried without a second CRM object', async () => {
      assert.ok(sample, 'needs the sample');
      const { recordId, marker } = fresh();
      const before = (await crmObjects()).length;
      const { retried } = await store.counters(connector);
      const log = (await control<LoggedRequest[]>('GET', '/requests')).length;
      await fault({ status: 500, apply: true, times: 1 });
      await create(recordId, marker);
      const requests = await requestsSince(log);
      assert.equal(requests[0]?.fault, 'status', 'the first write met the fault');
      assert.equal((await store.counters(connector)).retried, retried + 1);
      assert.equal((await crmObjects()).length, before + 1);
      assert.equal(await holding(marker), 1);
    });

    it('rate limit: a 429 holds the record back for Retry-After without spending an attempt, then it is delivered', async () => {
      assert.ok(sample, 'needs the sample');
      const { recordId, marker } = fresh();
      const { retried, deadLettered } = await store.counters(connector);
      const log = (await control<LoggedRequest[]>('GET', '/requests')).length;
      await fault({ status: 429, headers: { 'retry-after': '1' }, times: 1 });
      await create(recordId, marker);
      const requests = await requestsSince(log);
      assert.deepEqual([requests[0]?.status, requests[1]?.status !== undefined && requests[1].status < 300], [429, true], JSON.stringify(requests.map((r) => [r.method, r.path, r.status])));
      assert.ok(requests[1]!.at - requests[0]!.at >= 950, `sent again ${requests[1]!.at - requests[0]!.at} ms after the 429`);
      const after = await store.counters(connector);
      assert.deepEqual([after.retried, after.deadLettered], [retried, deadLettered], 'no attempt spent, nothing dead-lettered');
      assert.equal(await holding(marker), 1);
    });

    it('transient error: a 502 is retried and the record delivered', async () => {
      assert.ok(sample, 'needs the sample');
      const { recordId, marker } = fresh();
      const { retried } = await store.counters(connector);
      await fault({ status: 502, times: 1 });
      await create(recordId, marker);
      assert.equal((await store.counters(connector)).retried, retried + 1);
      assert.equal(await holding(marker), 1);
    });

    // A 409 (the CRM refuses the write as a conflict) is final in every CRM's dialect; a plain 400 is
    // not a fair probe: Salesforce's sandbox answers its one data-independent 400, a row lock, which is retryable.
    it("fatal error: a 409 dead-letters the version at once with the CRM's error", async () => {
      assert.ok(sample, 'needs the sample');
      const { recordId, marker } = fresh();
      const { deadLettered, retried } = await store.counters(connector);
      const log = (await control<LoggedRequest[]>('GET', '/requests')).length;
      await fault({ status: 409, times: 1 });
      await send({ action: 'upsert', recordId, version: 1, payload: payload(recordId, marker) });
      const status = await settled(recordId, (s) => s.lastError !== null);
      const error = status.lastError as { code: string; message: string; status?: number };
      assert.deepEqual([error.code, error.status, status.deliveredVersion], ['RECSYNC_ERR_CRM_REJECTED', 409, null]);
      const after = await store.counters(connector);
      assert.deepEqual([after.deadLettered, after.retried], [deadLettered + 1, retried]);
      // The CRM's own words travel with the dead letter: some text of the 409's body is in the message.
      const [rejected] = await requestsSince(log);
      const words = strings(rejected?.responseBody).filter((s) => s.length >= 4);
      assert.ok(words.some((w) => error.message.includes(w)), `"${error.message}" quotes none of ${JSON.stringify(words)}`);
      const dlq = (await (await fetch(`${recsync.url}/v1/connectors/${connector}/dlq?limit=100`)).json()) as { items: Array<{ recordId: string; error: { code: string } }> };
      assert.equal(dlq.items.find((e) => e.recordId === recordId)?.error.code, 'RECSYNC_ERR_CRM_REJECTED');
      assert.equal(await holding(marker), 0);
    });
  });
}

function strings(value: unknown): string[] {
  if (typeof value === 'string') return [value];
  if (Array.isArray(value)) return value.flatMap(strings);
  if (value !== null && typeof value === 'object') return Object.values(value).flatMap(strings);
  return [];
}
