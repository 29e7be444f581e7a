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

  it('a job that stalled since its last claim keeps the record unsettled for the late-write window, once per stall', async () => {
    fresh();
    const r = ref('stalled');
    const window = { lateWriteWindowMs: 60_000 };
    await store.ingest(r, { version: 1, action: 'upsert', payload: { a: 1 } });
    const first = await store.claim(r, 1, { stalls: 0, ...window });
    assert.ok(first.kind === 'work' && first.claimed.uncertainUntil === undefined, 'a fresh job is settled');
    // The worker died holding the job, perhaps with the request on the wire; BullMQ counts a stall.
    const again = await store.claim(r, 1, { stalls: 1, ...window });
    assert.ok(again.kind === 'work' && again.claimed.version === 1);
    const until = again.claimed.uncertainUntil;
    assert.ok(until !== undefined && Math.abs(until - (Date.now() + 60_000)) < 5_000, `unsettled for the window, got ${until}`);
    // A later run of the same job (a wait, a retry) without a new stall does not move the window.
    const third = await store.claim(r, 1, { stalls: 1, ...window });
    assert.ok(third.kind === 'work' && third.claimed.uncertainUntil === until, 'the same stall is counted once');
    // A newer version superseding the one that was on the wire is unsettled too.
    await store.ingest(r, { version: 2, action: 'upsert', payload: { a: 2 } });
    const later = await store.claim(r, 1, { stalls: 2, lateWriteWindowMs: 90_000 });
    assert.ok(later.kind === 'work' && later.claimed.version === 2);
    assert.ok(later.claimed.uncertainUntil! > until! + 20_000, 'a new stall extends the window');
    // Delivering settles it: the next job of the record starts settled.
    assert.equal(await store.complete(r, 2, 'upsert', '7'), false);
    await store.ingest(r, { version: 3, action: 'upsert', payload: { a: 3 } });
    const next = await store.claim(r, 2, { stalls: 0, ...window });
    assert.ok(next.kind === 'work' && next.claimed.uncertainUntil === undefined);
    await balanced();
  });

  it('accepts a new version, owes a job, and delivers it', async () => {
    fresh();
    const r = ref('r1');
    const first = await store.ingest(r, { version: 5, action: 'upsert', payload: { a: 1 } });
    assert.deepEqual(first, { status: 'new', version: 5, seq: 1 });
    const claim = await store.claim(r, 1);
    assert.equal(claim.kind, 'work');
    assert.ok(claim.kind === 'work');
    const { acceptedAt, ...claimed } = claim.claimed;
    assert.deepEqual(claimed, { version: 5, action: 'upsert', payload: { a: 1 }, crmId: undefined, attempts: 0, uncertainUntil: undefined, traceparent: undefined });
    assert.ok(Math.abs(acceptedAt - Date.now()) < 5000, 'accepted at Redis time, now');
    assert.equal(await store.complete(r, 5, 'upsert', '901'), false);
    const status = await store.status(r);
    assert.equal(status?.deliveredVersion, 5);
    assert.equal(status?.crmId, '901');
    assert.equal(status?.pending, false);
    assert.equal(status?.inFlightVersion, null);
    assert.deepEqual(await store.counters(connector), { accepted: 1, delivered: 1, superseded: 0, deadLettered: 0, retried: 0, open: 0, replayed: 0 });
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

  it('dead-letters atomically with every attempt: the entry exists, the version left flight, the counters balance', async () => {
    fresh();
    const r = ref('r7');
    await store.ingest(r, { version: 9, action: 'upsert', payload: { bad: true } });
    await store.claim(r, 1);
    await store.retry(r, 9, { code: 'RECSYNC_ERR_CRM_RETRYABLE', status: 503 });
    const more = await store.deadLetter(r, { version: 9, action: 'upsert', payload: { bad: true } }, { code: 'RECSYNC_ERR_CRM_REJECTED', status: 400 }, { configVersion: 'v1', jobId: 'j' });
    assert.equal(more, false);
    const { items, total } = await store.deadLetters(connector, { limit: 10 });
    assert.equal(total, 1);
    const entry = items[0]!;
    assert.equal(entry.id, 'acme|contact|r7|9');
    assert.equal(entry.state, 'dead');
    assert.equal(entry.version, 9);
    assert.equal(entry.configVersion, 'v1');
    assert.deepEqual(entry.attempts, [{ code: 'RECSYNC_ERR_CRM_RETRYABLE', status: 503 }, { code: 'RECSYNC_ERR_CRM_REJECTED', status: 400 }]);
    assert.deepEqual((await store.getDeadLetter(connector, entry.id))?.payload, { bad: true });
    const status = await store.status(r);
    assert.equal(status?.inFlightVersion, null);
    assert.deepEqual(status?.lastError, { code: 'RECSYNC_ERR_CRM_REJECTED', status: 400 });
    assert.equal((await store.counters(connector)).deadLettered, 1);
    await balanced();
  });

  it('a replay sends the dead version again once; a second replay does nothing', async () => {
    fresh();
    const r = ref('r11');
    await store.ingest(r, { version: 3, action: 'upsert', payload: { n: 3 } });
    await store.claim(r, 1);
    await store.deadLetter(r, { version: 3, action: 'upsert', payload: { n: 3 } }, { code: 'X' }, { configVersion: 'v', jobId: 'j' });
    const first = await store.replay(connector, 'acme|contact|r11|3');
    assert.equal(first.result, 'replayed');
    assert.equal(first.result === 'replayed' && first.seq, 2, 'a new job, the old one finished');
    assert.deepEqual(await store.replay(connector, 'acme|contact|r11|3'), { result: 'skipped', reason: 'missing' });
    const claim = await store.claim(r, 2);
    assert.deepEqual(claim.kind === 'work' && [claim.claimed.version, claim.claimed.payload], [3, { n: 3 }]);
    const c = await store.counters(connector);
    assert.deepEqual([c.deadLettered, c.open, c.replayed], [0, 1, 1]);
    await balanced();
  });

  it('a newer delivered version marks the older dead letter superseded; replaying it sends nothing', async () => {
    fresh();
    const r = ref('r12');
    await store.ingest(r, { version: 1, action: 'upsert', payload: {} });
    await store.claim(r, 1);
    await store.deadLetter(r, { version: 1, action: 'upsert', payload: {} }, { code: 'X' }, { configVersion: 'v', jobId: 'j' });
    await store.ingest(r, { version: 2, action: 'upsert', payload: {} });
    await store.claim(r, 2);
    await store.complete(r, 2, 'upsert', 'id');
    const entry = await store.getDeadLetter(connector, 'acme|contact|r12|1');
    assert.equal(entry?.state, 'superseded');
    assert.deepEqual(await store.replay(connector, 'acme|contact|r12|1'), { result: 'skipped', reason: 'superseded' });
    const c = await store.counters(connector);
    assert.deepEqual([c.deadLettered, c.superseded, c.delivered], [0, 1, 1]);
    assert.equal((await store.deadLetters(connector, { limit: 10, state: 'dead' })).items.length, 0);
    await balanced();
  });

  it('replaying a dead letter whose record moved on marks it superseded instead', async () => {
    fresh();
    const r = ref('r13');
    await store.ingest(r, { version: 1, action: 'upsert', payload: {} });
    await store.claim(r, 1);
    await store.deadLetter(r, { version: 1, action: 'upsert', payload: {} }, { code: 'X' }, { configVersion: 'v', jobId: 'j' });
    await store.ingest(r, { version: 2, action: 'upsert', payload: {} });
    assert.deepEqual(await store.replay(connector, 'acme|contact|r13|1'), { result: 'superseded' });
    await balanced();
  });

  it('lists dead letters by time with filters and a cursor; drops one', async () => {
    fresh();
    for (let i = 0; i < 5; i += 1) {
      const r = ref(`l${i}`);
      await store.ingest(r, { version: 1, action: 'upsert', payload: {} });
      await store.claim(r, 1);
      await store.deadLetter(r, { version: 1, action: 'upsert', payload: {} }, { code: i % 2 === 0 ? 'EVEN' : 'ODD' }, { configVersion: 'v', jobId: 'j' });
    }
    const page1 = await store.deadLetters(connector, { limit: 2 });
    assert.equal(page1.items.length, 2);
    assert.ok(page1.next);
    const page2 = await store.deadLetters(connector, { limit: 2, cursor: page1.next! });
    const page3 = await store.deadLetters(connector, { limit: 2, cursor: page2.next! });
    const seen = [...page1.items, ...page2.items, ...page3.items].map((e) => e.recordId);
    assert.deepEqual([...seen].sort(), ['l0', 'l1', 'l2', 'l3', 'l4']);
    assert.equal(page3.next, null);
    const even = await store.deadLetters(connector, { limit: 10, code: 'EVEN' });
    assert.deepEqual(even.items.map((e) => e.recordId).sort(), ['l0', 'l2', 'l4']);
    const future = await store.deadLetters(connector, { limit: 10, from: Date.now() + 60_000 });
    assert.equal(future.items.length, 0);
    assert.equal(await store.dropDeadLetter(connector, 'acme|contact|l0|1'), true);
    assert.equal(await store.dropDeadLetter(connector, 'acme|contact|l0|1'), false);
    assert.equal((await store.deadLetters(connector, { limit: 10 })).total, 4);
  });

  it('an orphaned in-flight version (its job failed) is dead-lettered and newer work gets a new job', async () => {
    fresh();
    const r = ref('r14');
    await store.ingest(r, { version: 1, action: 'upsert', payload: { n: 1 } });
    await store.claim(r, 1);
    await store.ingest(r, { version: 2, action: 'upsert', payload: { n: 2 } });
    const seq = await store.deadLetterOrphan(r, { code: 'RECSYNC_ERR_INTERNAL', message: 'crashed' }, { configVersion: 'v', jobId: 'j' });
    assert.equal(seq, 2);
    const claim = await store.claim(r, 2);
    assert.equal(claim.kind === 'work' && claim.claimed.version, 2);
    assert.equal(await store.deadLetterOrphan(ref('nothing'), { code: 'X' }, { configVersion: 'v', jobId: 'j' }), 0);
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
    const bytes = (await client.call('MEMORY', 'USAGE', key)) as number | null;
    assert.ok(bytes !== null && bytes <= 200, `record uses ${bytes} bytes`);
  });
});
