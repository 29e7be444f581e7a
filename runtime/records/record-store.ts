import { LuaScript, type ScriptClient } from '../redis/lua-script.ts';
import { traceIdOf } from '../tracing.ts';

const script = LuaScript.fromFile(new URL('./record.lua', import.meta.url));

export type Action = 'upsert' | 'delete';

export interface RecordRef {
  connector: string;
  tenant: string;
  object: string;
  recordId: string;
}

export interface Claimed {
  version: number;
  action: Action;
  payload: unknown;
  crmId: string | undefined;
  attempts: number;
  /** When the newest version was accepted (ms since the epoch). */
  acceptedAt: number;
  /** Until when a timed-out request of this record may still land at the CRM (ms), if one did time out. */
  uncertainUntil: number | undefined;
  /** W3C traceparent of the task that brought this version (its producer span), when it was traced. */
  traceparent: string | undefined;
}

export interface RecordStatus {
  connector: string;
  tenant: string;
  object: string;
  recordId: string;
  latestVersion: number | null;
  latestAction: Action | null;
  /** True while the latest version waits for a worker. */
  pending: boolean;
  /** The version a worker is sending (or waiting to retry), if any. */
  inFlightVersion: number | null;
  attempts: number;
  deliveredVersion: number | null;
  deliveredAction: Action | null;
  deliveredAt: string | null;
  crmId: string | null;
  /** The rule that decided the latest version, when it came as an event; null for a task. */
  rule: string | null;
  /** When the latest version was accepted (ISO time). */
  acceptedAt: string | null;
  lastError: unknown;
  /** The last two-way sync decision about this record (an echo suppressed, a conflict decided), if any. */
  decision: SyncDecision | null;
}

/** What the two-way sync decided about a record, kept on its status. */
export interface SyncDecision {
  kind: 'echo' | 'conflict';
  /** conflict: which side won; echo: always `ours` (the CRM holds what we wrote). */
  winner: 'crm' | 'ours';
  policy?: string;
  /** When the CRM's change happened (ms) and when ours was accepted (ms), for a conflict. */
  crmChangedAt?: number;
  oursAcceptedAt?: number;
  /** The version this decision is about. */
  version: number;
  at: number;
}

export interface Counters {
  accepted: number;
  delivered: number;
  superseded: number;
  deadLettered: number;
  retried: number;
  /** Accepted changes not yet delivered, superseded or dead-lettered. */
  open: number;
  /** Dead letters sent again (they moved from deadLettered back to open). */
  replayed: number;
}

/** The ioredis calls the store makes besides its script. */
export interface StoreClient extends ScriptClient {
  hgetall(key: string): Promise<Record<string, string>>;
  get(key: string): Promise<string | null>;
  hmget(key: string, ...fields: string[]): Promise<(string | null)[]>;
  zrangebyscore(key: string, min: number | string, max: number | string, withScores: 'WITHSCORES', limit: 'LIMIT', offset: number, count: number): Promise<string[]>;
  zcard(key: string): Promise<number>;
  hincrby(key: string, field: string, increment: number): Promise<number>;
  zrangebyscore(key: string, min: number | string, max: number | string, limit: 'LIMIT', offset: number, count: number): Promise<string[]>;
  zadd(key: string, ...args: Array<string | number>): Promise<number | string | null>;
  set(key: string, value: string): Promise<unknown>;
  psetex(key: string, ms: number, value: string): Promise<unknown>;
  del(key: string): Promise<number>;
  exists(key: string): Promise<number>;
}

const actions = { upsert: 'u', delete: 'd' } as const;
const fromCode = (code: string | undefined): Action | null => (code === 'u' ? 'upsert' : code === 'd' ? 'delete' : null);

/**
 * Keys are hash-tagged by connector (`{name}`), the same tag as the connector's queue, so that a
 * connector's queue, records and counters live on one Redis Cluster slot and scripts may touch
 * them together. Parts are URI-encoded so that ids may contain any character.
 */
export function recordKey(prefix: string, ref: RecordRef): string {
  return `${prefix}:{${ref.connector}}:r:${encodeURIComponent(ref.tenant)}:${encodeURIComponent(ref.object)}:${encodeURIComponent(ref.recordId)}`;
}

/** Records whose job is owed (zset: record key -> ms it was last owed), for the sweeper. */
export function owedKey(prefix: string, connector: string): string {
  return `${prefix}:{${connector}}:owed`;
}

/** The record a record key names (the inverse of `recordKey`). */
export function refOfRecordKey(prefix: string, connector: string, key: string): RecordRef | undefined {
  const head = `${prefix}:{${connector}}:r:`;
  if (!key.startsWith(head)) return undefined;
  const parts = key.slice(head.length).split(':');
  if (parts.length !== 3) return undefined;
  const [tenant, object, recordId] = parts.map(decodeURIComponent) as [string, string, string];
  return { connector, tenant, object, recordId };
}

export function countersKey(prefix: string, connector: string): string {
  return `${prefix}:{${connector}}:counters`;
}

export function deadLetterKeys(prefix: string, connector: string) {
  const base = `${prefix}:{${connector}}:dlq`;
  return { index: `${base}:index`, entries: `${base}:entries`, states: `${base}:states`, payloads: `${base}:payloads` };
}

/** A dead letter's id: the record's address and the version that failed. */
export function deadLetterId(ref: Omit<RecordRef, 'connector'>, version: number): string {
  return `${encodeURIComponent(ref.tenant)}|${encodeURIComponent(ref.object)}|${encodeURIComponent(ref.recordId)}|${version}`;
}

/** The record address and version encoded in a dead letter's id, or undefined when it is not one. */
export function parseDeadLetterId(id: string): { tenant: string; object: string; recordId: string; version: number } | undefined {
  const parts = id.split('|');
  if (parts.length !== 4 || !/^\d+$/.test(parts[3]!)) return undefined;
  try {
    return { tenant: decodeURIComponent(parts[0]!), object: decodeURIComponent(parts[1]!), recordId: decodeURIComponent(parts[2]!), version: Number(parts[3]) };
  } catch {
    return undefined;
  }
}

export interface DeadLetter {
  id: string;
  /** dead: waiting for an operator; superseded: a newer version of the record was delivered since. */
  state: 'dead' | 'superseded';
  at: string;
  connector: string;
  tenant: string;
  object: string;
  recordId: string;
  version: number;
  action: Action;
  configVersion: string;
  jobId: string;
  /** The trace of the task whose version failed (absent when it was not traced). */
  traceId?: string;
  error: { code: string; message: string; status?: number; [key: string]: unknown };
  /** Every failed attempt of this version, oldest first (the last 20). */
  attempts: unknown[];
  payload?: unknown;
}

export interface DeadLetterQuery {
  /** Inclusive bounds, ms since the epoch. */
  from?: number;
  to?: number;
  code?: string;
  state?: 'dead' | 'superseded';
  limit: number;
  /** Opaque: the `next` of the previous page. */
  cursor?: string;
}

/** The job id of a record's job number `seq`: no ':' (BullMQ reserves it), never all digits. */
export function jobIdOf(ref: Omit<RecordRef, 'connector'>, seq: number): string {
  return `r|${encodeURIComponent(ref.tenant)}|${encodeURIComponent(ref.object)}|${encodeURIComponent(ref.recordId)}|${seq}`;
}

/** The record state machine in Redis: one script call per transition, one round trip each. */
export class RecordStore {
  readonly #client: StoreClient;
  readonly prefix: string;

  constructor(client: StoreClient, prefix = 'rs') {
    this.#client = client;
    this.prefix = prefix;
  }

  /** The connector's keys that every record shares (counters, dead-letter queue), built once per connector. */
  readonly #shared = new Map<string, { counters: string; dlq: ReturnType<typeof deadLetterKeys>; owed: string }>();

  #keys(ref: RecordRef): string[] {
    const key = recordKey(this.prefix, ref);
    let shared = this.#shared.get(ref.connector);
    if (!shared) this.#shared.set(ref.connector, (shared = { counters: countersKey(this.prefix, ref.connector), dlq: deadLetterKeys(this.prefix, ref.connector), owed: owedKey(this.prefix, ref.connector) }));
    const { counters, dlq, owed } = shared;
    return [key, counters, dlq.index, dlq.entries, `${key}:p`, `${key}:e`, `${key}:a`, dlq.states, dlq.payloads, owed];
  }

  /**
   * Accepts one change. A version not newer than the latest accepted one is counted as superseded
   * at once. Returns the job sequence the record needs (0 when no work is owed). `traceparent`: the
   * task's producer span, kept with the version so that the worker joins its trace;
   * `supersededTraceparent`: that of the waiting version this one replaced, if it had one.
   */
  /**
   * `rule`: the rule that decided this change (sent as an event); shown in the record's status.
   * `traceparent`: the producer span of this version, continued by the worker that sends it.
   */
  async ingest(
    ref: RecordRef,
    change: { version?: number; action: Action; payload: unknown; rule?: string },
    traceparent = '',
  ): Promise<{ status: 'new' | 'stale'; version: number; seq: number; supersededTraceparent?: string }> {
    const [status, version, seq, superseded] = (await script.run(this.#client, this.#keys(ref), [
      'ingest',
      change.version === undefined ? '' : String(change.version),
      actions[change.action],
      JSON.stringify(change.payload ?? null),
      change.rule ?? '',
      traceparent,
    ])) as [string, string, number, string];
    const result: { status: 'new' | 'stale'; version: number; seq: number; supersededTraceparent?: string } = { status: status as 'new' | 'stale', version: Number(version), seq: Number(seq) };
    if (superseded) result.supersededTraceparent = superseded;
    return result;
  }

  /**
   * Claims the record's newest version for job `seq`. `stalled`: how many times BullMQ found the job
   * stalled; a stall since the last claim means a request may still be on its way, and the record
   * stays unsettled for `lateWriteWindowMs` (see `retry`).
   */
  async claim(ref: RecordRef, seq: number, stalled?: { stalls: number; lateWriteWindowMs: number }): Promise<{ kind: 'work'; claimed: Claimed } | { kind: 'idle' } | { kind: 'stale-job' }> {
    const args = stalled === undefined ? ['claim', seq, '', 0] : ['claim', seq, stalled.stalls, Math.ceil(stalled.lateWriteWindowMs)];
    const reply = (await script.run(this.#client, this.#keys(ref), args)) as string[];
    if (reply[0] !== 'work') return { kind: reply[0] as 'idle' | 'stale-job' };
    const [, version, action, payload, crmId, attempts, acceptedAt, uncertainUntil, traceparent] = reply as [string, string, string, string, string, string, string, string, string];
    return {
      kind: 'work',
      claimed: {
        version: Number(version),
        action: fromCode(action) ?? 'upsert',
        payload: payload === '' ? null : JSON.parse(payload),
        crmId: crmId === '' ? undefined : crmId,
        attempts: Number(attempts),
        acceptedAt: Number(acceptedAt),
        uncertainUntil: uncertainUntil === '' ? undefined : Number(uncertainUntil),
        traceparent: traceparent === '' ? undefined : traceparent,
      },
    };
  }

  /**
   * Marks `version` delivered, or with `skipped` finished without sending (counted superseded: an
   * echo, or a conflict the other side won). Returns true when a newer version is already waiting.
   */
  async complete(ref: RecordRef, version: number, action: Action, crmId: string | undefined, skipped = false): Promise<boolean> {
    return (await script.run(this.#client, this.#keys(ref), ['complete', version, crmId ?? '', actions[action], skipped ? 's' : ''])) === 1;
  }

  /** Keeps the record's last two-way sync decision (shown in its status; read by the other direction). */
  async decide(ref: RecordRef, decision: SyncDecision): Promise<void> {
    await this.#client.set(`${recordKey(this.prefix, ref)}:d`, JSON.stringify(decision));
  }

  async decision(ref: RecordRef): Promise<SyncDecision | null> {
    const text = await this.#client.get(`${recordKey(this.prefix, ref)}:d`);
    return text === null ? null : (JSON.parse(text) as SyncDecision);
  }

  /**
   * Fingerprints of the last writes to the CRM of one record, newest first (at most three: the
   * write on the wire and the ones whose webhooks may still be on their way).
   */
  async fingerprints(ref: RecordRef): Promise<string[]> {
    const text = await this.#client.get(`${recordKey(this.prefix, ref)}:f`);
    return text === null ? [] : text.split(',');
  }

  /** One write to the CRM at a time per record (the record's job), so read-modify-write is safe here. */
  async addFingerprint(ref: RecordRef, fingerprint: string): Promise<void> {
    const kept = (await this.fingerprints(ref)).filter((f) => f !== fingerprint).slice(0, 2);
    await this.#client.set(`${recordKey(this.prefix, ref)}:f`, [fingerprint, ...kept].join(','));
  }

  /**
   * Marks a write of the record to the CRM as on its way (until `endWrite`, or `ttlMs` after a
   * crash). With `decide` it forms a handshake: each side writes its mark, then reads the other's.
   */
  async beginWrite(ref: RecordRef, ttlMs: number): Promise<void> {
    await this.#client.psetex(`${recordKey(this.prefix, ref)}:s`, Math.max(1, Math.ceil(ttlMs)), '1');
  }

  async endWrite(ref: RecordRef): Promise<void> {
    await this.#client.del(`${recordKey(this.prefix, ref)}:s`);
  }

  async writing(ref: RecordRef): Promise<boolean> {
    return (await this.#client.exists(`${recordKey(this.prefix, ref)}:s`)) === 1;
  }

  /** Adds to the connector's two-way sync counters (echoes suppressed, conflicts by winner, webhooks rejected, ...). */
  async countSync(connector: string, field: string, n = 1): Promise<void> {
    await this.#client.hincrby(`${this.prefix}:{${connector}}:sync`, field, n);
  }

  async syncCounters(connector: string): Promise<Record<string, number>> {
    const raw = await this.#client.hgetall(`${this.prefix}:{${connector}}:sync`);
    return Object.fromEntries(Object.entries(raw).map(([key, value]) => [key, Number(value)]));
  }

  /**
   * Records a failed attempt; returns the attempts spent on this version (-1 if it is no longer in
   * flight). `uncertainUntil`: the attempt timed out, and its write may still land until then.
   */
  async retry(ref: RecordRef, version: number, error: unknown, uncertainUntil?: number): Promise<number> {
    return Number(await script.run(this.#client, this.#keys(ref), ['retry', version, JSON.stringify(error), uncertainUntil === undefined ? '' : Math.ceil(uncertainUntil)]));
  }

  /**
   * Moves `version` to the dead-letter queue, atomically with leaving the record's in-flight slot,
   * with every attempt's error. Returns true when newer work waits (the same job goes on).
   */
  async deadLetter(ref: RecordRef, claimed: Pick<Claimed, 'version' | 'action' | 'payload'>, error: Record<string, unknown>, context: { configVersion: string; jobId: string; traceId?: string }): Promise<boolean> {
    const id = deadLetterId(ref, claimed.version);
    const entry = { connector: ref.connector, tenant: ref.tenant, object: ref.object, recordId: ref.recordId, version: claimed.version, action: claimed.action, configVersion: context.configVersion, jobId: context.jobId, ...traceIdEntry(context.traceId), error };
    return (await script.run(this.#client, this.#keys(ref), ['dead', claimed.version, JSON.stringify(error), id, JSON.stringify(entry), JSON.stringify(claimed.payload ?? null), ''])) === 1;
  }

  /**
   * The record's job is gone (BullMQ failed it: its processor crashed again and again). Whatever
   * version was in flight goes to the dead-letter queue; returns the sequence of a new job to
   * queue when newer work waits, else 0.
   */
  async deadLetterOrphan(ref: RecordRef, error: Record<string, unknown>, context: { configVersion: string; jobId: string }): Promise<number> {
    const current = await this.status(ref);
    if (!current) return 0;
    if (current.inFlightVersion === null) {
      // Nothing was in flight, so nothing to dead-letter; work still owed gets a new job.
      const seq = Number(await script.run(this.#client, this.#keys(ref), ['dead', '', '{}', '', '{}', 'null', '1']));
      return seq > 0 ? seq : 0;
    }
    const version = current.inFlightVersion;
    const id = deadLetterId(ref, version);
    const key = recordKey(this.prefix, ref);
    const [payload, [traceparent]] = await Promise.all([this.#client.get(`${key}:p`), this.#client.hmget(key, 'ctp')]);
    const entry = { connector: ref.connector, tenant: ref.tenant, object: ref.object, recordId: ref.recordId, version, action: current.latestAction ?? 'upsert', configVersion: context.configVersion, jobId: context.jobId, ...traceIdEntry(traceIdOf(traceparent ?? undefined)), error };
    const result = Number(await script.run(this.#client, this.#keys(ref), ['dead', version, JSON.stringify(error), id, JSON.stringify(entry), payload ?? 'null', '1']));
    return result > 0 ? result : 0;
  }

  /** Sends a dead letter again through today's pipeline, or marks it superseded when its record moved on. */
  async replay(connector: string, id: string, traceparent = ''): Promise<{ result: 'replayed'; seq: number; ref: RecordRef } | { result: 'superseded' | 'skipped'; reason?: string }> {
    const parsed = parseDeadLetterId(id);
    if (!parsed) return { result: 'skipped', reason: 'not a dead-letter id' };
    const ref: RecordRef = { connector, tenant: parsed.tenant, object: parsed.object, recordId: parsed.recordId };
    const reply = (await script.run(this.#client, this.#keys(ref), ['replay', id, parsed.version, traceparent])) as [string, string | number];
    if (reply[0] === 'replayed') return { result: 'replayed', seq: Number(reply[1]), ref };
    if (reply[0] === 'superseded') return { result: 'superseded' };
    return { result: 'skipped', reason: String(reply[1]) };
  }

  /** Drops one dead letter for good; the change stays counted as dead-lettered. */
  async dropDeadLetter(connector: string, id: string): Promise<boolean> {
    const parsed = parseDeadLetterId(id);
    if (!parsed) return false;
    const ref: RecordRef = { connector, tenant: parsed.tenant, object: parsed.object, recordId: parsed.recordId };
    return (await script.run(this.#client, this.#keys(ref), ['drop', id])) === 1;
  }

  async getDeadLetter(connector: string, id: string): Promise<DeadLetter | undefined> {
    const keys = deadLetterKeys(this.prefix, connector);
    const [entry, state, payload] = await Promise.all([this.#client.hmget(keys.entries, id), this.#client.hmget(keys.states, id), this.#client.hmget(keys.payloads, id)]);
    if (!entry[0]) return undefined;
    return { ...toDeadLetter(id, entry[0], state[0]), payload: payload[0] ? JSON.parse(payload[0]) : null };
  }

  /** Dead letters by time, oldest first, filtered; `next` continues the listing. */
  async deadLetters(connector: string, query: DeadLetterQuery): Promise<{ items: DeadLetter[]; next: string | null; total: number }> {
    const keys = deadLetterKeys(this.prefix, connector);
    let [minScore, afterId] = [query.from ?? 0, ''];
    if (query.cursor) {
      const [score, id] = Buffer.from(query.cursor, 'base64url').toString().split('\n');
      minScore = Number(score);
      afterId = id ?? '';
    }
    const items: DeadLetter[] = [];
    const max = query.to ?? '+inf';
    let next: string | null = null;
    // Scan a bounded number of entries per call, so a rare filter cannot make one call unbounded.
    for (let scanned = 0, offset = 0; ; ) {
      const flat = await this.#client.zrangebyscore(keys.index, minScore, max, 'WITHSCORES', 'LIMIT', offset, 200);
      const page: Array<{ value: string; score: number }> = [];
      for (let i = 0; i < flat.length; i += 2) page.push({ value: flat[i]!, score: Number(flat[i + 1]) });
      if (page.length === 0) break;
      offset += page.length;
      const candidates = page.filter((p) => !(p.score === minScore && afterId !== '' && p.value <= afterId));
      const ids = candidates.map((p) => p.value);
      const [entries, states] = ids.length === 0 ? [[], []] : await Promise.all([this.#client.hmget(keys.entries, ...ids), this.#client.hmget(keys.states, ...ids)]);
      for (let i = 0; i < ids.length; i += 1) {
        scanned += 1;
        const text = entries[i];
        if (!text) continue;
        const item = toDeadLetter(ids[i]!, text, states[i] ?? null);
        if ((query.code === undefined || item.error.code === query.code) && (query.state === undefined || item.state === query.state)) items.push(item);
        if (items.length === query.limit) {
          next = Buffer.from(`${candidates[i]!.score}\n${ids[i]}`).toString('base64url');
          break;
        }
      }
      if (next !== null || page.length < 200) break;
      if (scanned >= query.limit * 20 && candidates.length > 0) {
        // The scan budget is spent but entries remain: hand back a cursor, not an end.
        const last = candidates[candidates.length - 1]!;
        next = Buffer.from(`${last.score}\n${last.value}`).toString('base64url');
        break;
      }
    }
    return { items, next, total: await this.#client.zcard(keys.index) };
  }

  /** Dead letters kept for the connector, in any state. */
  async deadLetterCount(connector: string): Promise<number> {
    return this.#client.zcard(deadLetterKeys(this.prefix, connector).index);
  }

  async status(ref: RecordRef): Promise<RecordStatus | undefined> {
    const key = recordKey(this.prefix, ref);
    const [f, error, decision] = await Promise.all([this.#client.hgetall(key), this.#client.get(`${key}:e`), this.#client.get(`${key}:d`)]);
    if (Object.keys(f).length === 0) return undefined;
    const num = (value: string | undefined) => (value === undefined ? null : Number(value));
    return {
      ...ref,
      latestVersion: num(f['v']),
      latestAction: fromCode(f['a']),
      pending: f['pend'] === '1',
      inFlightVersion: num(f['c']),
      attempts: Number(f['att'] ?? 0),
      deliveredVersion: num(f['dv']),
      deliveredAction: fromCode(f['da']),
      deliveredAt: f['dt'] === undefined ? null : new Date(Number(f['dt'])).toISOString(),
      crmId: f['id'] ?? null,
      rule: f['r'] ?? null,
      acceptedAt: f['t0'] === undefined ? null : new Date(Number(f['t0'])).toISOString(),
      lastError: error === null ? null : JSON.parse(error),
      decision: decision === null ? null : (JSON.parse(decision) as SyncDecision),
    };
  }

  /** Adds to the connector's decision counters, by `<rule>|<decision>` (rule `(none)`: nothing matched). */
  async countDecisions(connector: string, counts: ReadonlyMap<string, number>): Promise<void> {
    if (counts.size === 0) return;
    // Sent back to back on one connection: as cheap as a pipeline.
    await Promise.all([...counts].map(([field, n]) => this.#client.hincrby(`${this.prefix}:{${connector}}:rules`, field, n)));
  }

  /** Decisions per rule since the start of time: `{ rule: { upsert, delete, skip } }`. */
  async decisionCounters(connector: string): Promise<Record<string, Record<'upsert' | 'delete' | 'skip', number>>> {
    const raw = await this.#client.hgetall(`${this.prefix}:{${connector}}:rules`);
    const out: Record<string, Record<'upsert' | 'delete' | 'skip', number>> = {};
    for (const [field, value] of Object.entries(raw)) {
      const cut = field.lastIndexOf('|');
      const rule = field.slice(0, cut);
      const decision = field.slice(cut + 1) as 'upsert' | 'delete' | 'skip';
      (out[rule] ??= { upsert: 0, delete: 0, skip: 0 })[decision] = Number(value);
    }
    return out;
  }

  /**
   * Records that have owed a job since before `olderThanMs` ago, with the job's sequence: the
   * sweeper checks that each such job exists. `touch` moves them to now, so a record whose job is
   * fine (a long wait) is checked once per period, not at every sweep.
   */
  async owedBefore(connector: string, olderThanMs: number, limit: number): Promise<Array<{ ref: RecordRef; seq: number }>> {
    const key = owedKey(this.prefix, connector);
    const cutoff = Date.now() - olderThanMs;
    const members = await this.#client.zrangebyscore(key, '-inf', cutoff, 'LIMIT', 0, limit);
    const found = await Promise.all(
      members.map(async (member) => {
        const ref = refOfRecordKey(this.prefix, connector, member);
        const [seq] = await this.#client.hmget(member, 'j');
        return ref && seq ? { ref, seq: Number(seq) } : undefined;
      }),
    );
    const now = Date.now();
    if (members.length > 0) await this.#client.zadd(key, 'XX', ...members.flatMap((member) => [now, member]));
    return found.filter((x): x is { ref: RecordRef; seq: number } => x !== undefined);
  }

  async counters(connector: string): Promise<Counters> {
    const f = await this.#client.hgetall(countersKey(this.prefix, connector));
    const n = (key: string) => Number(f[key] ?? 0);
    return { accepted: n('accepted'), delivered: n('delivered'), superseded: n('superseded'), deadLettered: n('deadLettered'), retried: n('retried'), open: n('open'), replayed: n('replayed') };
  }
}

function traceIdEntry(traceId: string | undefined): { traceId?: string } {
  return traceId === undefined ? {} : { traceId };
}

function toDeadLetter(id: string, text: string, state: string | null | undefined): DeadLetter {
  const entry = JSON.parse(text) as Omit<DeadLetter, 'id' | 'state' | 'at'> & { at: number };
  return { id, state: state === 'superseded' ? 'superseded' : 'dead', ...entry, at: new Date(entry.at).toISOString() };
}
