import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { createRateLimiter, type RateLimiter, type RateWindow } from '../runtime/limiter/rate-limiter.ts';
import { useRedis, uniqueName } from './helpers/redis.ts';

const redis = await useRedis();
const newClient = () => new Redis(redis.url, { lazyConnect: true });
type Client = Redis;
const clients: Client[] = [];

before(async () => {
  for (let i = 0; i < 4; i += 1) {
    const client = newClient();
    client.on('error', () => {});
    await client.connect();
    clients.push(client);
  }
});

after(async () => {
  await Promise.all(clients.map((client) => client.quit()));
});

function client(i = 0): Client {
  return clients[i % clients.length]!;
}

function limiters(windows: RateWindow[], prefix: string): RateLimiter[] {
  return clients.map((c) => createRateLimiter(c, windows, { prefix }));
}

/** Most grants inside any sliding window (t - perMs, t] (sorted input). */
function maxInWindow(sorted: number[], perMs: number): number {
  let max = 0;
  let i = 0;
  for (let j = 0; j < sorted.length; j += 1) {
    while (sorted[i]! <= sorted[j]! - perMs) i += 1;
    max = Math.max(max, j - i + 1);
  }
  return max;
}

/** Start times of bursts: grants more than `gapMs` after the previous one start a new burst. */
function burstStarts(sorted: number[], gapMs: number): number[] {
  return sorted.filter((g, i) => i === 0 || g - sorted[i - 1]! > gapMs);
}

/**
 * `holders` concurrent workers, spread over the clients (= processes), each running jobs one after
 * another: acquire → (wait waitMs → acquire again, same job id) → next job. Returns every granted nowMs.
 */
async function hammer(ls: RateLimiter[], account: string, holders: number, runMs: number): Promise<number[] & { deferred: number }> {
  const grants: number[] = [];
  let deferred = 0; // came back for a slot and were told to wait a little longer (they were late)
  const stop = AbortSignal.timeout(runMs);
  await Promise.all(
    Array.from({ length: holders }, async (_, h) => {
      const limiter = ls[h % ls.length]!;
      let job = 0;
      let slot = 0;
      while (!stop.aborted) {
        const answer = await limiter.acquire(account, `job-${h}-${job}`);
        if (answer.ok) {
          grants.push(answer.nowMs);
          job += 1;
          slot = 0;
          continue;
        }
        if (slot !== 0 && answer.nowMs + answer.waitMs !== slot) deferred += 1;
        slot = answer.nowMs + answer.waitMs;
        try {
          await sleep(answer.waitMs, undefined, { signal: stop });
        } catch {
          return;
        }
      }
    }),
  );
  return Object.assign(grants.sort((a, b) => a - b), { deferred });
}

/**
 * Ask as `holder` until ok (sleeping the answered waits), failing after deadlineMs. A grant that is
 * a throttle probe is answered as the CRM would when the throttle is over: `clear`.
 */
async function acquireWhenDue(limiter: RateLimiter, account: string, holder: string, deadlineMs = 5000) {
  const deadline = Date.now() + deadlineMs;
  const waits: Array<{ nowMs: number; waitMs: number }> = [];
  for (;;) {
    const answer = await limiter.acquire(account, holder);
    if (answer.ok) {
      if (answer.probe !== undefined) await limiter.clear(account, answer.probe);
      return { granted: answer, waits };
    }
    waits.push(answer);
    assert.ok(Date.now() < deadline, `${holder} still waiting after ${deadlineMs} ms`);
    await sleep(answer.waitMs);
  }
}

async function accountKeys(prefix: string, account: string): Promise<string[]> {
  return client().keys(`${prefix}:{${account}}:*`);
}

test('(1) accuracy under concurrency: 200 holders on 20 per 1000 ms never exceed 20 in any sliding 1000 ms window and use ≥ 95 %', async (t) => {
  const prefix = uniqueName('rl1');
  const windows = [{ requests: 20, perMs: 1000 }];
  const grants = await hammer(limiters(windows, prefix), 'hubspot:acme', 200, 3400);
  const max = maxInWindow(grants, 1000);
  // With a backlog the grants come in bursts, one per window. Steady rate after the first window:
  // grants from the second burst up to (not including) the last one, over the time between them.
  const bursts = burstStarts(grants, 100);
  assert.ok(bursts.length >= 4, `the run covered ${bursts.length} bursts`);
  const from = bursts[1]!;
  const to = bursts.at(-1)!;
  const steady = grants.filter((g) => g >= from && g < to).length;
  const utilisation = steady / ((to - from) / 1000) / 20;
  t.diagnostic(
    `grants=${grants.length} deferred=${grants.deferred} bursts(ms after first)=${bursts.map((b) => b - grants[0]!).join(',')} max-in-any-1000ms=${max} ` +
      `steady=${steady} in ${to - from} ms = ${((steady / (to - from)) * 1000).toFixed(2)}/s, utilisation=${(utilisation * 100).toFixed(1)}%`,
  );
  assert.ok(max <= 20, `a sliding 1000 ms window held ${max} grants`);
  assert.ok(utilisation >= 0.95, `utilisation ${utilisation} < 95 %`);
});

test('(2) two windows at once (5 per 200 ms and 12 per 1000 ms): neither is ever exceeded', async (t) => {
  const prefix = uniqueName('rl2');
  const windows = [
    { requests: 5, perMs: 200 },
    { requests: 12, perMs: 1000 },
  ];
  const grants = await hammer(limiters(windows, prefix), 'hubspot:two', 30, 2600);
  const max200 = maxInWindow(grants, 200);
  const max1000 = maxInWindow(grants, 1000);
  t.diagnostic(`grants=${grants.length} deferred=${grants.deferred} max-in-200ms=${max200} max-in-1000ms=${max1000}`);
  assert.ok(max200 <= 5, `a sliding 200 ms window held ${max200}`);
  assert.ok(max1000 <= 12, `a sliding 1000 ms window held ${max1000}`);
  assert.ok(grants.length >= 30, `only ${grants.length} grants: the limiter should run at ~12/s`);
});

test('(2b) a full daily window answers at once with a wait of about a day', async () => {
  const [limiter] = limiters([{ requests: 3, perMs: 86_400_000 }, { requests: 100, perMs: 10_000 }], uniqueName('rl2b'));
  for (let i = 0; i < 3; i += 1) assert.equal((await limiter!.acquire('hubspot:day', `j${i}`)).ok, true);
  const started = performance.now();
  const answer = await limiter!.acquire('hubspot:day', 'j3');
  assert.ok(performance.now() - started < 200, 'slot search jumps bucket to bucket');
  assert.equal(answer.ok, false);
  if (!answer.ok) {
    assert.ok(answer.waitMs > 86_400_000 - 1000 && answer.waitMs <= 86_400_000 + 864_000, `waitMs ${answer.waitMs}`);
  }
});

test('(3) the same holder asking twice holds one slot; its reservation becomes ok once due and is counted once', async () => {
  const prefix = uniqueName('rl3');
  const [limiter] = limiters([{ requests: 2, perMs: 1000 }], prefix);
  const account = 'hubspot:reuse';
  // A short block makes a, b (and then c, d) share one slot time, so slot equality shows who was counted.
  await limiter!.pushBack(account, 100);

  const a1 = await limiter!.acquire(account, 'a');
  const a2 = await limiter!.acquire(account, 'a');
  assert.ok(!a1.ok && !a2.ok, 'a waits for the block');
  const slotA = a1.nowMs + a1.waitMs;
  assert.equal(a2.nowMs + a2.waitMs, slotA, 'asking again answers the same slot');
  assert.ok(a2.waitMs <= a1.waitMs);
  assert.equal((await limiter!.usage(account)).reserved, 1, 'one reservation for a');

  const b = await limiter!.acquire(account, 'b');
  assert.ok(!b.ok);
  assert.equal(b.nowMs + b.waitMs, slotA, 'a holds one slot, so b shares its batch of 2');
  const c = await limiter!.acquire(account, 'c');
  assert.ok(!c.ok);
  const slotC = c.nowMs + c.waitMs;
  assert.ok(slotC > slotA + 1000 && slotC <= slotA + 1050, `the batch of 2 is full: c waits a window (${slotC - slotA} ms)`);
  const d = await limiter!.acquire(account, 'd');
  assert.ok(!d.ok);
  assert.equal(d.nowMs + d.waitMs, slotC);
  assert.equal((await limiter!.usage(account)).reserved, 4);

  // One after the other: the first start after a push back is the throttle probe (see test 4b).
  const aDone = await acquireWhenDue(limiter!, account, 'a');
  const bDone = await acquireWhenDue(limiter!, account, 'b');
  assert.notEqual(aDone.granted.probe, undefined, 'the first start after the push back probes');
  for (const done of [aDone, bDone]) {
    assert.ok(done.granted.nowMs >= slotA, 'no start before the slot');
    for (const w of done.waits) assert.equal(w.nowMs + w.waitMs, slotA, 'every early ask answers the same slot');
  }
  const usage = await limiter!.usage(account);
  assert.equal(usage.windows[0]!.used, 2, 'a and b are counted once each');
  assert.equal(usage.windows[0]!.left, 0);
  assert.equal(usage.reserved, 2, 'c and d still hold their reservations');
  const e = await limiter!.acquire(account, 'e');
  assert.ok(!e.ok && e.nowMs + e.waitMs > slotC + 1000, 'e queues behind c and d');
});

test('(3b) a holder back long after its slot starts when the real starts leave room, and later holders wait only as long as needed', async () => {
  const prefix = uniqueName('rl3b');
  const [limiter] = limiters([{ requests: 2, perMs: 1000 }], prefix);
  const lateBy = 300;

  const queued = (async () => {
    const account = 'hubspot:late-full';
    await limiter!.pushBack(account, 100);
    const a = await limiter!.acquire(account, 'a');
    const b = await limiter!.acquire(account, 'b');
    const c = await limiter!.acquire(account, 'c');
    const d = await limiter!.acquire(account, 'd');
    assert.ok(!a.ok && !b.ok && !c.ok && !d.ok);
    const slotA = a.nowMs + a.waitMs;
    const slotC = c.nowMs + c.waitMs;
    assert.equal(d.nowMs + d.waitMs, slotC);
    const grants: number[] = [];
    const bDone = await acquireWhenDue(limiter!, account, 'b'); // on time
    grants.push(bDone.granted.nowMs);
    await sleep(slotA + lateBy - bDone.granted.nowMs);
    const aLate = await limiter!.acquire(account, 'a'); // 300 ms late: only b started in its window
    assert.ok(aLate.ok, 'the late holder starts: its window holds only b');
    assert.ok(aLate.nowMs >= slotA + lateBy);
    grants.push(aLate.nowMs);
    // c and d come at their slot; a started 300 ms late, so one of them must wait until a leaves the window.
    const [cDone, dDone] = await Promise.all([acquireWhenDue(limiter!, account, 'c'), acquireWhenDue(limiter!, account, 'd')]);
    grants.push(cDone.granted.nowMs, dDone.granted.nowMs);
    const [first, second] = [cDone, dDone].sort((x, y) => x.granted.nowMs - y.granted.nowMs);
    assert.ok(first!.granted.nowMs >= slotC && first!.granted.nowMs < slotC + 100, 'one starts at the slot');
    assert.ok(second!.granted.nowMs >= aLate.nowMs + 1000, 'the other waits until a leaves the window');
    assert.ok(second!.granted.nowMs <= aLate.nowMs + 1000 + 100, 'and not longer (no requeue)');
    assert.ok(second!.waits.at(-1)!.waitMs < 500, 'its extra wait is short');
    grants.sort((x, y) => x - y);
    assert.ok(maxInWindow(grants, 1000) <= 2, `grants ${grants.map((g) => g - slotA).join(',')}`);
  })();

  const room = (async () => {
    const account = 'hubspot:late-room';
    await limiter!.pushBack(account, 100);
    const x = await limiter!.acquire(account, 'x');
    assert.ok(!x.ok);
    await sleep(x.waitMs + lateBy);
    const late = await limiter!.acquire(account, 'x');
    assert.ok(late.ok, 'with room it starts at once');
    await limiter!.clear(account, late.probe!);
    assert.ok(late.nowMs >= x.nowMs + x.waitMs + lateBy);
    const usage = await limiter!.usage(account);
    assert.equal(usage.windows[0]!.used, 1, 'it started');
    assert.equal(usage.windows[0]!.left, 1, 'its count moved to the real start, not counted twice');
    assert.equal(usage.reserved, 0);
  })();

  await Promise.all([queued, room]);
});

test('(4) pushBack blocks every holder until the time passes and never shortens a block', async () => {
  const prefix = uniqueName('rl4');
  const [limiter] = limiters([{ requests: 100, perMs: 1000 }], prefix);
  const account = 'hubspot:429';
  assert.equal((await limiter!.acquire(account, 'a')).ok, true);

  await limiter!.pushBack(account, 400);
  const b = await limiter!.acquire(account, 'b');
  assert.ok(!b.ok && b.waitMs > 300 && b.waitMs <= 400, `b waits for the block, got ${JSON.stringify(b)}`);
  const blockedUntil = b.nowMs + b.waitMs;

  await limiter!.pushBack(account, 50);
  const usage = await limiter!.usage(account);
  assert.ok(usage.blockedForMs > 250, `a shorter push back does not shorten the block (${usage.blockedForMs} ms left)`);
  const c = await limiter!.acquire(account, 'c');
  assert.ok(!c.ok && c.nowMs + c.waitMs === blockedUntil, 'c waits for the original block');

  const bDone = await acquireWhenDue(limiter!, account, 'b');
  const cDone = await acquireWhenDue(limiter!, account, 'c');
  for (const done of [bDone, cDone]) {
    assert.ok(done.granted.nowMs >= blockedUntil, 'granted only after the block');
    for (const w of done.waits) assert.ok(w.nowMs < blockedUntil);
  }
  assert.equal((await limiter!.acquire(account, 'd')).ok, true, 'after the block new holders start at once');

  // A reservation made before the push back also waits for the block.
  const account2 = 'hubspot:429-2';
  const [slow] = limiters([{ requests: 1, perMs: 300 }], prefix);
  assert.equal((await slow!.acquire(account2, 'x')).ok, true);
  const y = await slow!.acquire(account2, 'y');
  assert.ok(!y.ok);
  const slotY = y.nowMs + y.waitMs;
  await slow!.pushBack(account2, 700);
  const y2 = await slow!.acquire(account2, 'y');
  assert.ok(!y2.ok);
  const blocked2 = y2.nowMs + y2.waitMs;
  assert.ok(blocked2 > slotY + 300, 'the reserved slot is pushed behind the block');
  const yDone = await acquireWhenDue(slow!, account2, 'y');
  assert.ok(yDone.granted.nowMs >= blocked2, 'the early reservation starts only after the block');
});

test('(4b) after a push back one request probes alone; a throttled probe keeps the account held, an answered one lifts the block', async () => {
  const prefix = uniqueName('rl4b');
  const [limiter, other] = limiters([{ requests: 100, perMs: 1000 }], prefix);
  const account = 'hubspot:probe';
  const plain = await limiter!.acquire(account, 'before');
  assert.ok(plain.ok && plain.probe === undefined, 'no probe before any push back');

  await limiter!.pushBack(account, 150);
  const holders = ['a', 'b', 'c', 'd'];
  const first = await Promise.all(holders.map((h, i) => (i % 2 ? other! : limiter!).acquire(account, h)));
  const due = Math.max(...first.map((f) => (f.ok ? f.nowMs : f.nowMs + f.waitMs)));
  await sleep(due - first[0]!.nowMs);

  // The block is over: four holders come at once from two instances; exactly one starts.
  const round1 = await Promise.all(holders.map((h, i) => (i % 2 ? other! : limiter!).acquire(account, h)));
  const probes1 = round1.filter((r) => r.ok);
  assert.equal(probes1.length, 1, `one probe, got ${JSON.stringify(round1)}`);
  const probe1 = probes1[0]!;
  assert.ok(probe1.ok && probe1.probe !== undefined && probe1.probe === probe1.nowMs + 150, 'the probe holds the account for the last push back');
  for (const r of round1.filter((x) => !x.ok)) assert.ok(!r.ok && r.waitMs > 100 && r.waitMs <= 150, 'the others wait for the probe');

  // The probe is throttled again: the CRM's 429 pushes back, the account stays held.
  await limiter!.pushBack(account, 150);
  await limiter!.clear(account, probe1.ok ? probe1.probe! : 0); // a stale token lifts nothing
  assert.ok((await limiter!.usage(account)).blockedForMs > 100, 'a stale probe token does not lift a newer block');
  const rest = holders.filter((_, i) => !round1[i]!.ok);
  const waitAgain = await limiter!.usage(account);
  await sleep(waitAgain.blockedForMs + 5);
  const round2 = await Promise.all(rest.map((h) => limiter!.acquire(account, h)));
  const probes2 = round2.filter((r) => r.ok);
  assert.equal(probes2.length, 1, 'after the second block, again one probe');

  // This probe is answered: the block is lifted and the others start at once.
  const probe2 = probes2[0]!;
  assert.ok(probe2.ok);
  await limiter!.clear(account, probe2.probe!);
  assert.equal((await limiter!.usage(account)).blockedForMs, 0, 'the answered probe lifts the block');
  const round3 = await Promise.all(rest.filter((_, i) => !round2[i]!.ok).map((h) => limiter!.acquire(account, h)));
  assert.ok(round3.every((r) => r.ok && r.probe === undefined), 'the throttle is over: every holder starts, none probes');
});

test('(5) release drops a reservation (its slot stays counted)', async () => {
  const prefix = uniqueName('rl5');
  const [limiter] = limiters([{ requests: 1, perMs: 1000 }], prefix);
  const account = 'hubspot:release';
  assert.equal((await limiter!.acquire(account, 'a')).ok, true);
  const b1 = await limiter!.acquire(account, 'b');
  assert.ok(!b1.ok);
  assert.equal((await limiter!.usage(account)).reserved, 1);
  await limiter!.release(account, 'b');
  await limiter!.release(account, 'unknown');
  assert.equal((await limiter!.usage(account)).reserved, 0, 'the reservation is gone');
  const b2 = await limiter!.acquire(account, 'b');
  assert.ok(!b2.ok);
  assert.ok(b2.nowMs + b2.waitMs >= b1.nowMs + b1.waitMs + 1000, 'b queues anew behind its released (still counted) slot');
});

test('(6) usage reports used and left per window, the block and open reservations, and writes nothing', async () => {
  const prefix = uniqueName('rl6');
  const windows = [
    { requests: 5, perMs: 1000 },
    { requests: 50, perMs: 60_000 },
  ];
  const [limiter] = limiters(windows, prefix);
  const account = 'hubspot:usage';
  assert.deepEqual(await limiter!.usage(account), {
    windows: [
      { requests: 5, perMs: 1000, used: 0, left: 5 },
      { requests: 50, perMs: 60_000, used: 0, left: 50 },
    ],
    blockedForMs: 0,
    reserved: 0,
  });
  assert.deepEqual(await accountKeys(prefix, account), [], 'usage is read-only');

  for (let i = 0; i < 3; i += 1) assert.equal((await limiter!.acquire(account, `j${i}`)).ok, true);
  let usage = await limiter!.usage(account);
  assert.deepEqual(
    usage.windows.map((w) => [w.used, w.left]),
    [
      [3, 2],
      [3, 47],
    ],
  );
  for (let i = 3; i < 6; i += 1) await limiter!.acquire(account, `j${i}`);
  await limiter!.pushBack(account, 5000);
  usage = await limiter!.usage(account);
  assert.deepEqual(
    usage.windows.map((w) => [w.used, w.left]),
    [
      [5, 0],
      [5, 45],
    ],
  );
  assert.equal(usage.reserved, 1);
  assert.ok(usage.blockedForMs > 4000 && usage.blockedForMs <= 5000);
});

test('(7) every key has a PTTL near its window and goes away when idle; window hashes stay bounded', async (t) => {
  const prefix = uniqueName('rl7');
  const account = 'hubspot:ttl';
  const K = 100;
  const ls = limiters([{ requests: 1000, perMs: 100 }], prefix); // 1 ms buckets, K = 100
  const key = `${prefix}:{${account}}:w:1000:100`;
  const startedKey = `${key}:started`;
  let maxLen = 0;
  const sampling = (async () => {
    const stop = Date.now() + 1500;
    while (Date.now() < stop) {
      maxLen = Math.max(maxLen, await client().hlen(key), await client().hlen(startedKey));
      await sleep(20);
    }
  })();
  const grants = await hammer(ls, account, 8, 1500);
  await sampling;
  const buckets = new Set(grants).size;
  assert.ok(buckets > 3 * K, `the run touched ${buckets} buckets (> 3K)`);
  maxLen = Math.max(maxLen, await client().hlen(key), await client().hlen(startedKey));
  assert.ok(maxLen <= K + 9 + 8, `a hash held ${maxLen} fields (K = ${K}, 8 holders)`);
  t.diagnostic(`buckets touched=${buckets} max hash fields=${maxLen}`);

  await ls[0]!.pushBack(account, 200);
  await ls[0]!.acquire(account, 'late');
  const keys = await accountKeys(prefix, account);
  assert.deepEqual(keys.map((k) => k.slice(k.lastIndexOf('}') + 1)).sort(), [':meta', ':res', ':w:1000:100', ':w:1000:100:started']);
  for (const k of keys) {
    const ttl = await client().pttl(k);
    // slot (<= 200 ms ahead, the block) + P + one bucket + 1 s slack
    assert.ok(ttl > 0 && ttl <= 200 + 100 + 1 + 1000 + 50, `${k} PTTL ${ttl}`);
  }
  const deadline = Date.now() + 4000;
  while ((await accountKeys(prefix, account)).length > 0) {
    assert.ok(Date.now() < deadline, 'idle keys expire');
    await sleep(100);
  }

  // A daily window's keys live about a day, not forever.
  const [daily] = limiters([{ requests: 250_000, perMs: 86_400_000 }], prefix);
  await daily!.acquire('hubspot:daily', 'j');
  for (const k of await accountKeys(prefix, 'hubspot:daily')) {
    const ttl = await client().pttl(k);
    assert.ok(ttl > 86_400_000 && ttl <= 86_400_000 + 864_000 + 1000, `${k} PTTL ${ttl}`);
  }
});

test('(8) invalid windows, accounts and arguments throw a clear Error', async () => {
  const c = client();
  const bad: unknown[] = [
    [],
    undefined,
    [{ requests: 0, perMs: 1000 }],
    [{ requests: 1.5, perMs: 1000 }],
    [{ requests: 5, perMs: -1 }],
    [{ requests: 5, perMs: Number.NaN }],
    [{ requests: '5', perMs: 1000 }],
    [{ requests: 5 }],
    [null],
    [
      { requests: 5, perMs: 1000 },
      { requests: 5, perMs: 1000 },
    ],
  ];
  for (const windows of bad) {
    assert.throws(() => createRateLimiter(c, windows as RateWindow[]), /createRateLimiter: windows/, JSON.stringify(windows));
  }
  const limiter = createRateLimiter(c, [{ requests: 1, perMs: 1000 }], { prefix: uniqueName('rl8') });
  await assert.rejects(limiter.acquire('', 'h'), /account must be a non-empty string/);
  await assert.rejects(limiter.acquire('a{b}', 'h'), /account must be/);
  await assert.rejects(limiter.acquire('hubspot:x', ''), /holder must be/);
  await assert.rejects(limiter.pushBack('hubspot:x', -5), /pushBack ms/);
});
