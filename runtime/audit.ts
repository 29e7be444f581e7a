import type { RedisConnection as Redis } from './redis/connect.ts';

/** One mutation: who did what to which target, when, and how it ended. */
export interface AuditEntry {
  id: string;
  at: string;
  who: string;
  role: string;
  action: string;
  /** What it acted on, e.g. `{ connector: 'hubspot' }` or `{ id: '<dead letter id>' }`. */
  target: Record<string, string>;
  /** The HTTP status of the answer. */
  status: number;
  requestId: string;
  ip: string;
}

/** Entries kept: the stream is trimmed (approximately) beyond this many. */
export const auditRetention = 100_000;

/**
 * The audit log: a Redis stream `<prefix>:audit`, shared by every instance, newest last. Written
 * after each mutating request has been answered; never holds a secret or a request body.
 */
export class AuditLog {
  readonly #redis: Redis;
  readonly #key: string;

  constructor(redis: Redis, prefix: string) {
    this.#redis = redis;
    this.#key = `${prefix}:audit`;
  }

  async record(entry: Omit<AuditEntry, 'id' | 'at'>): Promise<void> {
    await this.#redis.xadd(this.#key, 'MAXLEN', '~', auditRetention, '*', 'e', JSON.stringify({ ...entry, at: new Date().toISOString() }));
  }

  /** Newest first; `before`: an entry id, to page on. */
  async list(options: { limit: number; before?: string }): Promise<{ items: AuditEntry[]; next: string | null }> {
    const end = options.before === undefined ? '+' : `(${options.before}`;
    const raw = await this.#redis.xrevrange(this.#key, end, '-', 'COUNT', options.limit + 1);
    const items = raw.slice(0, options.limit).map(([id, fields]) => ({ id, ...(JSON.parse(fields[1] ?? '{}') as Omit<AuditEntry, 'id'>) }));
    return { items, next: raw.length > options.limit ? items.at(-1)!.id : null };
  }
}
