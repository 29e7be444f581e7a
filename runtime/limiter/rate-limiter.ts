import { LuaScript, type ScriptClient } from '../redis/lua-script.ts';

/** At most `requests` request starts inside any sliding window of `perMs` milliseconds. */
export interface RateWindow {
  requests: number;
  perMs: number;
}

/**
 * `ok`: start now; with `probe`, as the one request that tests a throttled account (call `clear`
 * with it when the CRM did not throttle). Otherwise the holder holds a slot `waitMs` from now: ask
 * again (same holder) then.
 */
export type Acquire = { ok: true; nowMs: number; probe?: number } | { ok: false; waitMs: number; nowMs: number };

export interface RateLimiter {
  /**
   * One decision, one round trip. A holder (a job id) that gets `ok: false` holds a reservation:
   * asking again before its time returns the remaining wait; asking at or after it returns `ok`
   * without counting the request a second time (a holder back so late that later slots already
   * started inside its window gets a short further wait, never a place at the back of the queue).
   */
  acquire(account: string, holder: string): Promise<Acquire>;
  /**
   * A CRM answered 429 / Retry-After: no request of `account` starts before now + ms (Redis time).
   * Never shortens a block. The account stays throttled: after the block one request starts alone
   * as a probe (blocking the account for another `ms`) until a probe is answered without a throttle.
   */
  pushBack(account: string, ms: number): Promise<void>;
  /** The probe `token` (from `acquire`) was answered without a throttle: lift the block it set. */
  clear(account: string, token: number): Promise<void>;
  /** Drop the holder's reservation (its job was superseded). The slot stays counted: conservative. */
  release(account: string, holder: string): Promise<void>;
  /**
   * Read-only snapshot at Redis time. Per window: `used` = requests started in the window ending now
   * (bucketed, so it may include up to one bucket more than the window), `left` = how many more could
   * be scheduled in it now (reservations due in it count as used up). Plus the block and open reservations.
   */
  usage(account: string): Promise<{ windows: Array<RateWindow & { used: number; left: number }>; blockedForMs: number; reserved: number }>;
}

const script = LuaScript.fromFile(new URL('./rate-limit.lua', import.meta.url));

/**
 * A distributed limiter over `windows` (all of them hold at once), kept per account in Redis under
 * `${prefix}:{${account}}:…` (hash-tagged, so it works on Redis Cluster). See docs/reference/rate-limits.md.
 */
export function createRateLimiter(client: ScriptClient, windows: RateWindow[], options: { prefix?: string } = {}): RateLimiter {
  const specs = validateWindows(windows);
  const prefix = options.prefix ?? 'rs:rl';
  if (typeof prefix !== 'string' || prefix === '') throw new Error('createRateLimiter: prefix must be a non-empty string');
  const windowArgs = specs.flatMap((w) => [w.requests, w.perMs]);

  function keys(account: string): string[] {
    if (typeof account !== 'string' || account === '' || /[{}]/.test(account)) {
      throw new Error(`rate limiter: account must be a non-empty string without '{' or '}', got ${JSON.stringify(account)}`);
    }
    const base = `${prefix}:{${account}}`;
    const windowKeys = specs.map((w) => `${base}:w:${w.requests}:${w.perMs}`);
    return [`${base}:meta`, `${base}:res`, ...windowKeys, ...windowKeys.map((key) => `${key}:started`)];
  }

  function checkHolder(holder: string): void {
    if (typeof holder !== 'string' || holder === '') throw new Error('rate limiter: holder must be a non-empty string');
  }

  async function run(account: string, op: string, arg: string | number): Promise<number[]> {
    const reply = await script.run(client, keys(account), [op, arg, ...windowArgs]);
    if (!Array.isArray(reply)) throw new Error(`rate limiter: unexpected reply ${JSON.stringify(reply)}`);
    return reply.map(Number);
  }

  return {
    async acquire(account, holder) {
      checkHolder(holder);
      const [ok, a, b] = await run(account, 'acquire', holder);
      if (ok === 1) return b === undefined ? { ok: true, nowMs: a! } : { ok: true, nowMs: a!, probe: b };
      return { ok: false, waitMs: a!, nowMs: b! };
    },

    async pushBack(account, ms) {
      if (typeof ms !== 'number' || !Number.isFinite(ms) || ms < 0) throw new Error(`rate limiter: pushBack ms must be a finite number >= 0, got ${ms}`);
      const whole = Math.ceil(ms);
      if (whole === 0) return;
      await run(account, 'pushback', whole);
    },

    async clear(account, token) {
      if (!Number.isSafeInteger(token)) throw new Error(`rate limiter: clear needs the probe token acquire returned, got ${token}`);
      await run(account, 'clear', token);
    },

    async release(account, holder) {
      checkHolder(holder);
      await run(account, 'release', holder);
    },

    async usage(account) {
      const [, blockedForMs, reserved, ...counts] = await run(account, 'usage', '');
      return {
        windows: specs.map((w, i) => {
          const started = counts[2 * i] ?? 0;
          const scheduled = counts[2 * i + 1] ?? 0;
          return { requests: w.requests, perMs: w.perMs, used: started, left: Math.max(0, w.requests - scheduled) };
        }),
        blockedForMs: blockedForMs ?? 0,
        reserved: reserved ?? 0,
      };
    },
  };
}

function validateWindows(windows: RateWindow[]): RateWindow[] {
  if (!Array.isArray(windows) || windows.length === 0) {
    throw new Error('createRateLimiter: windows must be a non-empty array of { requests, perMs }');
  }
  const seen = new Set<string>();
  return windows.map((w, i) => {
    const requests = (w as Partial<RateWindow> | null)?.requests;
    const perMs = (w as Partial<RateWindow> | null)?.perMs;
    if (!isPositiveInteger(requests) || !isPositiveInteger(perMs)) {
      throw new Error(
        `createRateLimiter: windows[${i}] must have positive integer requests and perMs, got ${JSON.stringify(w)}`,
      );
    }
    const id = `${requests}:${perMs}`;
    if (seen.has(id)) throw new Error(`createRateLimiter: windows[${i}] repeats the window ${requests} per ${perMs} ms`);
    seen.add(id);
    return { requests, perMs };
  });
}

function isPositiveInteger(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value > 0;
}
