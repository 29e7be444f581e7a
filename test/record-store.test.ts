import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { jobIdOf, RecordStore, type RecordRef } from '../runtime/records/record-store.ts';
import { uniqueName, useRedis } from './helpers/redis.ts';

const redis = await useRedis();
const client = await redis.client();

describe('record store (record.lua on a real Redis)', () => {
  const store = new RecordStore(client, 'rs');
  let connector: string;
  const ref = (recordId: string): RecordRef => ({ connector, tenant: 'acme', object: 'contact', recordId });

  const fresh = () => {
    connector = uniqueName('c');
  };

  async function balanced(): Promise<void> {
    const c = await store.counters(connector);
    assert.equal(c.accepted, c.delivered + c.superseded + c.deadLettered + c.open, `counters out of balance: ${JSON.stringify(c)}`);
  }

  it('accepts a new version, owes a job, and delivers it', async () => {
    fresh();
    const r = ref('r1');
    const first = await store.ingest(r, { version: 5, action: 'upsert', payload: { a: 1 } });
    assert.deepEqual(first, { status: 'new', version: 5, seq: 1 });
    const claim = await store.claim(r, 1);
    assert.equal(claim.kind, 'work');
    assert.deepEqual(claim.kind === 'work' && claim.claimed, { version: 5, action: 'upsert', payload: { a: 1 }, crmId: undefined, attempts: 0 });
    assert.equal(await store.complete(r, 5, 'upsert', '901'), false);
    const status = await store.status(r);
    assert.equal(status?.deliveredVersion, 5);
    assert.equal(status?.crmId, '901');
    assert.equal(status?.pending, false);
    assert.equal(status?.inFlightVersion, null);
    assert.deepEqual(await store.counters(connector), { accepted: 1, delivered: 1, superseded: 0, deadLettered: 0, retried: 0, open: 0 });
  });

  it('counts an older or repeated version as superseded and owes no job when idle', async () => {
    fresh();
    const r = ref('r2');
    await store.ingest(r, { version: 3, action: 'upsert', payload: {} });
    await store.claim(r, 1);
    await store.complete(r, 3, 'upsert', 'x');
    assert.deepEqual(await store.ingest(r, { version: 3, action: 'upsert', payload: {} }), { status: 'stale', version: 3, seq: 0 });
    assert.deepEqual(await store.ingest(r, { version: 2, action: 'upsert', payload: {} }), { status: 'stale', version: 2, seq: 0 });
    const c = await store.counters(connector);
    assert.equal(c.superseded, 2);
    await balanced();
  });

  it('coalesces a burst: only the newest pending version is claimed, the others are superseded', async () => {
    fresh();
    const r = ref('r3');
    for (const version of [1, 2, 3, 4]) await store.ingest(r, { version, action: 'upsert', payload: { version } });
    const claim = await store.claim(r, 1);
    assert.equal(claim.kind === 'work' && claim.claimed.version, 4);
    assert.deepEqual(claim.kind === 'work' && claim.claimed.payload, { version: 4 });
    assert.equal((await store.counters(connector)).superseded, 3);
    await balanced();
  });

  it('a change arriving while one is in flight is sent after it, by the same job', async () => {
    fresh();
    const r = ref('r4');
    await store.ingest(r, { version: 1, action: 'upsert', payload: { n: 1 } });
    await store.claim(r, 1);
    const during = await store.ingest(r, { version: 2, action: 'upsert', payload: { n: 2 } });
    assert.equal(during.seq, 1, 'the running job still owns the record');
    assert.equal(await store.complete(r, 1, 'upsert', 'id-1'), true, 'more work is pending');
    const next = await store.claim(r, 1);
    assert.equal(next.kind === 'work' && next.claimed.version, 2);
    assert.equal(next.kind === 'work' && next.claimed.crmId, 'id-1');
    assert.equal(await store.complete(r, 2, 'upsert', ''), false);
    assert.equal((await store.status(r))?.crmId, 'id-1', 'an empty CRM id keeps the stored one');
    await balanced();
  });

  it('closes the job when idle, so the next change gets a new job id', async () => {
    fresh();
    const r = ref('r5');
    await store.ingest(r, { version: 1, action: 'upsert', payload: {} });
    await store.claim(r, 1);
    await store.complete(r, 1, 'upsert', 'a');
    assert.deepEqual(await store.claim(r, 1), { kind: 'stale-job' }, 'job 1 is closed');
    const again = await store.ingest(r, { version: 2, action: 'upsert', payload: {} });
    assert.equal(again.seq, 2);
    assert.notEqual(jobIdOf(r, 1), jobIdOf(r, 2));
  });

  it('a retried version keeps its attempts; a newer version resets them and supersedes it', async () => {
    fresh();
    const r = ref('r6');
    await store.ingest(r, { version: 1, action: 'upsert', payload: {} });
    await store.claim(r, 1);
    assert.equal(await store.retry(r, 1, { code: 'X' }), 1);
    const again = await store.claim(r, 1);
    assert.equal(again.kind === 'work' && again.claimed.attempts, 1);
    assert.equal(await store.retry(r, 1, { code: 'X' }), 2);
    await store.ingest(r, { version: 2, action: 'upsert', payload: {} });
    const newer = await store.claim(r, 1);
    assert.equal(newer.kind === 'work' && newer.claimed.version, 2);
    assert.equal(newer.kind === 'work' && newer.claimed.attempts, 0);
    const c = await store.counters(connector);
    assert.equal(c.retried, 2);
    assert.equal(c.superseded, 1);
    assert.equal(c.open, 1);
    await balanced();
  });

  it('dead-letters atomically: the entry exists, the version left flight, the counters balance', async () => {
    fresh();
    const r = ref('r7');
    await store.ingest(r, { version: 9, action: 'upsert', payload: { bad: true } });
    await store.claim(r, 1);
    const more = await store.deadLetter(r, 9, { code: 'RECSYNC_ERR_INPUT_INVALID' }, 'e1', { recordId: 'r7', version: 9 });
    assert.equal(more, false);
    const entries = await client.hGetAll(`rs:{${connector}}:dlq:entries`);
    const entry = JSON.parse(entries['e1']!);
    assert.equal(entry.version, 9);
    assert.equal(typeof entry.at, 'number');
    assert.equal(await client.zCard(`rs:{${connector}}:dlq:index`), 1);
    const status = await store.status(r);
    assert.equal(status?.inFlightVersion, null);
    assert.deepEqual(status?.lastError, { code: 'RECSYNC_ERR_INPUT_INVALID' });
    assert.equal((await store.counters(connector)).deadLettered, 1);
    await balanced();
  });

  it('a delivered delete forgets the CRM id', async () => {
    fresh();
    const r = ref('r8');
    await store.ingest(r, { version: 1, action: 'upsert', payload: {} });
    await store.claim(r, 1);
    await store.complete(r, 1, 'upsert', 'crm-8');
    await store.ingest(r, { version: 2, action: 'delete', payload: null });
    const claim = await store.claim(r, 2);
    assert.equal(claim.kind === 'work' && claim.claimed.action, 'delete');
    assert.equal(claim.kind === 'work' && claim.claimed.crmId, 'crm-8');
    await store.complete(r, 2, 'delete', undefined);
    const status = await store.status(r);
    assert.equal(status?.crmId, null);
    assert.equal(status?.deliveredAction, 'delete');
  });

  it('assigns increasing versions from Redis time when the producer sends none', async () => {
    fresh();
    const r = ref('r9');
    const a = await store.ingest(r, { action: 'upsert', payload: {} });
    const b = await store.ingest(r, { action: 'upsert', payload: {} });
    assert.ok(a.version > 1_600_000_000_000_000, 'microseconds since the epoch');
    assert.ok(b.version > a.version);
    assert.equal(b.status, 'new');
  });

  it('keeps a delivered record small (no payload kept)', async () => {
    fresh();
    const r = ref('r10');
    await store.ingest(r, { version: 1, action: 'upsert', payload: { big: 'x'.repeat(2000) } });
    await store.claim(r, 1);
    await store.complete(r, 1, 'upsert', '123456789');
    const key = `rs:{${connector}}:r:acme:contact:r10`;
    assert.equal(await client.exists(`${key}:p`), 0, 'the payload is dropped once delivered');
    const bytes = await client.memoryUsage(key);
    assert.ok(bytes !== null && bytes <= 200, `record uses ${bytes} bytes`);
  });
});
