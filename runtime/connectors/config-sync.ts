import { watch, type FSWatcher } from 'node:fs';
import { hostname } from 'node:os';
import { randomUUID } from 'node:crypto';
import type { RedisConnection as Redis } from '../redis/connect.ts';
import type { ErrorDetail } from '../errors.ts';
import type { ConnectorVersion } from './load-connector.ts';
import type { ConnectorRegistry } from './registry.ts';

/** What one instance runs, as it last reported (every `heartbeatMs`). */
export interface InstanceReport {
  id: string;
  host: string;
  pid: number;
  startedAt: string;
  seenAt: string;
  /** Connector name -> configuration version in service (null: none loaded). */
  versions: Record<string, string | null>;
}

export type ReloadResult = { ok: true; version: ConnectorVersion; changed: boolean } | { ok: false; errors: ErrorDetail[]; current: string | null };

export interface ConfigSyncOptions {
  registry: ConnectorRegistry;
  /** A connection for commands (publish, the instance table). */
  redis: Redis;
  /** Makes the dedicated subscriber connection (a subscribed connection can run nothing else). */
  subscriber: () => Redis;
  prefix: string;
  /** Called after a connector version went into service (a new connector needs its worker). */
  onLoaded: (version: ConnectorVersion) => void;
  heartbeatMs?: number;
  /** Debounce of file events per connector: an editor's save is several events. */
  debounceMs?: number;
}

/**
 * Keeps every instance on the same connector configuration. A reload (API call or a watched file
 * change) builds and validates a complete new version before the registry swaps it in; only a
 * version that loaded is announced on Redis pub/sub, and every other instance then reloads the
 * connector from its own copy of the files. A version that fails to load changes nothing but the
 * reported errors. Each instance reports the versions it runs in a shared table.
 */
export class ConfigSync {
  readonly id = randomUUID();
  readonly #options: ConfigSyncOptions;
  readonly #channel: string;
  readonly #table: string;
  readonly #startedAt = new Date().toISOString();
  #subscriber: Redis | undefined;
  #watcher: FSWatcher | undefined;
  #heartbeat: NodeJS.Timeout | undefined;
  readonly #pending = new Map<string, NodeJS.Timeout>();
  /** One reload at a time per connector: a file event during a load reloads again after it. */
  readonly #loading = new Map<string, Promise<ReloadResult>>();
  /** Reloads (successful or refused) since start, by outcome: for status and metrics. */
  readonly reloads = { loaded: 0, refused: 0 };

  constructor(options: ConfigSyncOptions) {
    this.#options = options;
    this.#channel = `${options.prefix}:config`;
    this.#table = `${options.prefix}:instances`;
  }

  async start(): Promise<void> {
    const subscriber = this.#options.subscriber();
    subscriber.on('error', () => {}); // reconnects and resubscribes by itself
    subscriber.on('message', (_channel: string, message: string) => {
      const { connector, from } = JSON.parse(message) as { connector: string; from: string };
      if (from !== this.id) void this.#load(connector, false);
    });
    await subscriber.subscribe(this.#channel);
    this.#subscriber = subscriber;
    await this.report();
    this.#heartbeat = setInterval(() => void this.report().catch(() => {}), this.#options.heartbeatMs ?? 10_000);
    this.#heartbeat.unref();
  }

  /** Reloads `connector` here and, when the new version loaded, on every instance. */
  reload(connector: string): Promise<ReloadResult> {
    return this.#load(connector, true);
  }

  /** Watches the connectors folder: any change under `<root>/<name>/` reloads that connector. */
  watch(): void {
    const root = this.#options.registry.root;
    this.#watcher = watch(root, { recursive: true }, (_event, filename) => {
      const name = filename?.toString().split(/[\\/]/)[0];
      if (!name || name.startsWith('.') || name.startsWith('_')) return;
      clearTimeout(this.#pending.get(name));
      const timer = setTimeout(() => {
        this.#pending.delete(name);
        void this.#load(name, true);
      }, this.#options.debounceMs ?? 250);
      timer.unref();
      this.#pending.set(name, timer);
    });
    this.#watcher.on('error', () => {}); // a deleted root: reloads report the missing files
  }

  async #load(connector: string, announce: boolean): Promise<ReloadResult> {
    const running = this.#loading.get(connector);
    if (running) await running.catch(() => undefined);
    const attempt = this.#reloadOnce(connector, announce);
    this.#loading.set(connector, attempt);
    try {
      return await attempt;
    } finally {
      if (this.#loading.get(connector) === attempt) this.#loading.delete(connector);
    }
  }

  async #reloadOnce(connector: string, announce: boolean): Promise<ReloadResult> {
    const { registry } = this.#options;
    if (!(await registry.isConnector(connector))) {
      return { ok: false, errors: [{ file: `${registry.root}/${connector}`, message: 'no such connector folder (a folder with a manifest.yaml)' }], current: null };
    }
    const before = registry.get(connector)?.version ?? null;
    const result = await registry.reload(connector);
    if (!result.ok) {
      this.reloads.refused += 1;
      return { ok: false, errors: result.errors, current: registry.get(connector)?.version ?? null };
    }
    this.reloads.loaded += 1;
    const changed = result.version.version !== before;
    this.#options.onLoaded(result.version);
    if (announce && changed) await this.#options.redis.publish(this.#channel, JSON.stringify({ connector, version: result.version.version, from: this.id }));
    await this.report().catch(() => {});
    return { ok: true, version: result.version, changed };
  }

  /** Writes this instance's line of the instance table. */
  async report(): Promise<void> {
    const versions: Record<string, string | null> = {};
    for (const slot of this.#options.registry.slots()) versions[slot.name] = slot.current?.version ?? null;
    const line: InstanceReport = { id: this.id, host: hostname(), pid: process.pid, startedAt: this.#startedAt, seenAt: new Date().toISOString(), versions };
    await this.#options.redis.hset(this.#table, this.id, JSON.stringify(line));
  }

  /** Instances seen within three heartbeats; older lines are removed. */
  async instances(): Promise<InstanceReport[]> {
    const raw = await this.#options.redis.hgetall(this.#table);
    const horizon = Date.now() - 3 * (this.#options.heartbeatMs ?? 10_000);
    const live: InstanceReport[] = [];
    const gone: string[] = [];
    for (const [id, json] of Object.entries(raw)) {
      const line = JSON.parse(json) as InstanceReport;
      if (Date.parse(line.seenAt) >= horizon) live.push(line);
      else gone.push(id);
    }
    if (gone.length > 0) await this.#options.redis.hdel(this.#table, ...gone);
    return live.sort((a, b) => a.startedAt.localeCompare(b.startedAt));
  }

  async close(): Promise<void> {
    clearInterval(this.#heartbeat);
    for (const timer of this.#pending.values()) clearTimeout(timer);
    this.#watcher?.close();
    await Promise.allSettled([...this.#loading.values()]);
    await this.#options.redis.hdel(this.#table, this.id).catch(() => {});
    await this.#subscriber?.quit().catch(() => this.#subscriber?.disconnect());
  }
}
