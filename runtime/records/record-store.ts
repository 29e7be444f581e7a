import { LuaScript, type ScriptClient } from '../redis/lua-script.ts';

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
  lastError: unknown;
}

export interface Counters {
  accepted: number;
  delivered: number;
  superseded: number;
  deadLettered: number;
  retried: number;
  /** Accepted changes not yet delivered, superseded or dead-lettered. */
  open: number;
}

export interface StoreClient extends ScriptClient {
  hGetAll(key: string): Promise<Record<string, string>>;
  get(key: string): Promise<string | null>;
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

export function countersKey(prefix: string, connector: string): string {
  return `${prefix}:{${connector}}:counters`;
}

export function deadLetterKeys(prefix: string, connector: string): [index: string, entries: string] {
  return [`${prefix}:{${connector}}:dlq:index`, `${prefix}:{${connector}}:dlq:entries`];
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

  #keys(ref: RecordRef): string[] {
    const key = recordKey(this.prefix, ref);
    return [key, countersKey(this.prefix, ref.connector), ...deadLetterKeys(this.prefix, ref.connector), `${key}:p`, `${key}:e`];
  }

  /**
   * Accepts one change. A version not newer than the latest accepted one is counted as superseded
   * at once. Returns the job sequence the record needs (0 when no work is owed).
   */
  async ingest(ref: RecordRef, change: { version?: number; action: Action; payload: unknown }): Promise<{ status: 'new' | 'stale'; version: number; seq: number }> {
    const [status, version, seq] = (await script.run(this.#client, this.#keys(ref), [
      'ingest',
      change.version === undefined ? '' : String(change.version),
      actions[change.action],
      JSON.stringify(change.payload ?? null),
    ])) as [string, string, number];
    return { status: status as 'new' | 'stale', version: Number(version), seq: Number(seq) };
  }

  async claim(ref: RecordRef, seq: number): Promise<{ kind: 'work'; claimed: Claimed } | { kind: 'idle' } | { kind: 'stale-job' }> {
    const reply = (await script.run(this.#client, this.#keys(ref), ['claim', seq])) as string[];
    if (reply[0] !== 'work') return { kind: reply[0] as 'idle' | 'stale-job' };
    const [, version, action, payload, crmId, attempts] = reply as [string, string, string, string, string, string];
    return {
      kind: 'work',
      claimed: {
        version: Number(version),
        action: fromCode(action) ?? 'upsert',
        payload: payload === '' ? null : JSON.parse(payload),
        crmId: crmId === '' ? undefined : crmId,
        attempts: Number(attempts),
      },
    };
  }

  /** Marks `version` delivered. Returns true when a newer version is already waiting. */
  async complete(ref: RecordRef, version: number, action: Action, crmId: string | undefined): Promise<boolean> {
    return (await script.run(this.#client, this.#keys(ref), ['complete', version, crmId ?? '', actions[action]])) === 1;
  }

  /** Records a failed attempt; returns the attempts spent on this version (-1 if it is no longer in flight). */
  async retry(ref: RecordRef, version: number, error: unknown): Promise<number> {
    return Number(await script.run(this.#client, this.#keys(ref), ['retry', version, JSON.stringify(error)]));
  }

  /** Moves `version` to the dead-letter queue, atomically with leaving the record's in-flight slot. Returns true when newer work waits. */
  async deadLetter(ref: RecordRef, version: number, error: unknown, entryId: string, entry: Record<string, unknown>): Promise<boolean> {
    return (await script.run(this.#client, this.#keys(ref), ['dead', version, JSON.stringify(error), entryId, JSON.stringify(entry)])) === 1;
  }

  async status(ref: RecordRef): Promise<RecordStatus | undefined> {
    const key = recordKey(this.prefix, ref);
    const [f, error] = await Promise.all([this.#client.hGetAll(key), this.#client.get(`${key}:e`)]);
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
      lastError: error === null ? null : JSON.parse(error),
    };
  }

  async counters(connector: string): Promise<Counters> {
    const f = await this.#client.hGetAll(countersKey(this.prefix, connector));
    const n = (key: string) => Number(f[key] ?? 0);
    return { accepted: n('accepted'), delivered: n('delivered'), superseded: n('superseded'), deadLettered: n('deadLettered'), retried: n('retried'), open: n('open') };
  }
}
