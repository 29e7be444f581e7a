import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { appendFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startSandbox, type HubSpotSandbox, type HubSpotSandboxOptions } from '../../connectors/hubspot/sandbox.ts';
import { createRecsync, type Recsync } from '../../runtime/app.ts';
import { onCleanup } from '../helpers/cleanup.ts';
import { copyConnectors } from '../helpers/connectors.ts';
import { pollUntil } from '../helpers/poll.ts';
import { useRedis, type TestRedis } from '../helpers/redis.ts';

/**
 * The fault suite's harness: a private Redis (AOF on), the HubSpot sandbox as the CRM and its
 * ledger, an API process-in-the-test that accepts tasks, worker processes that can be killed, and
 * a load generator that writes every acknowledged task to an append-only log outside Redis. The
 * audit reads the truth from that log and the sandbox, never from Redis alone.
 */
export interface ScenarioOptions {
  /**
   * Edits of connectors/hubspot/manifest.yaml for this scenario, as [search, replacement]. By
   * default the 10-second limit is raised to 5,000 (scenarios that test limits set their own).
   */
  manifest?: Array<[string, string]>;
  /** Replacement of connectors/hubspot/connector.ts, for poison scenarios. */
  connectorEdit?: (text: string) => string;
  sandbox?: HubSpotSandboxOptions;
  workers?: number;
}

export interface AuditReport {
  tasks: number;
  records: number;
  lost: number;
  deadLettered: number;
  duplicateWrites: number;
  duplicateObjects: number;
  /** Records whose last write at the CRM was not their newest version (an older one had the last word). */
  orderViolations: number;
  /**
   * Writes of an older version that landed after a newer one: only a timed-out request landing
   * late does that, and the newest version is then sent again (retry.lateWriteWindow).
   */
  lateOverwrites: number;
  /** Records whose newest version the CRM never received at all (and that are not dead-lettered). */
  neverWritten: number;
  maxInTenSeconds: number;
  crmRequests: number;
}

export class Scenario {
  readonly redis: TestRedis;
  readonly sandbox: HubSpotSandbox;
  readonly api: Recsync;
  readonly connectorsDir: string;
  readonly ackLog: string;
  readonly #workers = new Set<ChildProcess>();
  readonly #workerCount: number;
  #sent = 0;

  private constructor(redis: TestRedis, sandbox: HubSpotSandbox, api: Recsync, connectorsDir: string, ackLog: string, workers: number) {
    this.redis = redis;
    this.sandbox = sandbox;
    this.api = api;
    this.connectorsDir = connectorsDir;
    this.ackLog = ackLog;
    this.#workerCount = workers;
  }

  static async start(options: ScenarioOptions = {}): Promise<Scenario> {
    const redis = await useRedis({ appendOnly: true });
    const sandbox = await startSandbox({ requestLogSize: 200_000, ...options.sandbox });
    onCleanup(() => sandbox.close());
    const connectors = await copyConnectors(['hubspot']);
    const edits = options.manifest ?? [['{ requests: 100, per: 10s }', '{ requests: 5000, per: 10s }']];
    if (edits.length > 0) await connectors.edit('hubspot/manifest.yaml', (text) => edits.reduce((t, [from, to]) => t.replace(from, to), text));
    if (options.connectorEdit) await connectors.edit('hubspot/connector.ts', options.connectorEdit);
    const api = await createRecsync({ redisUrl: redis.url, connectorsDir: connectors.root, env: sandbox.env, workers: false });
    onCleanup(() => api.close());
    const dir = mkdtempSync(join(tmpdir(), 'recsync-chaos-'));
    onCleanup(() => rmSync(dir, { recursive: true, force: true }));
    const scenario = new Scenario(redis, sandbox, api, connectors.root, join(dir, 'acknowledged.jsonl'), options.workers ?? 2);
    onCleanup(() => scenario.stopWorkers());
    for (let i = 0; i < scenario.#workerCount; i += 1) await scenario.startWorker();
    return scenario;
  }

  async startWorker(): Promise<ChildProcess> {
    const child = spawn(process.execPath, [new URL('./worker-process.ts', import.meta.url).pathname], {
      env: { ...process.env, ...this.sandbox.env, REDIS_URL: this.redis.url, RECSYNC_CONNECTORS_DIR: this.connectorsDir },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    this.#workers.add(child);
    child.once('exit', () => this.#workers.delete(child));
    let output = '';
    child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    await pollUntil(() => (output.includes('ready') ? true : child.exitCode !== null ? Promise.reject(new Error('worker exited before ready')) : undefined), { timeoutMs: 20_000 });
    return child;
  }

  /** Restarts any worker process that dies (as an orchestrator would) until `stop()` is called. */
  supervise(): { restarts: () => number; stop: () => void } {
    let restarts = 0;
    let stopped = false;
    const watch = (child: ChildProcess) => {
      child.once('exit', (_code, signal) => {
        if (stopped || signal === 'SIGTERM') return;
        restarts += 1;
        void this.startWorker().then(watch, () => {});
      });
    };
    for (const child of this.workers()) watch(child);
    return { restarts: () => restarts, stop: () => (stopped = true) };
  }

  workers(): ChildProcess[] {
    return [...this.#workers];
  }

  async kill(child: ChildProcess): Promise<void> {
    const exited = once(child, 'exit');
    child.kill('SIGKILL');
    await exited;
  }

  async stopWorkers(): Promise<void> {
    await Promise.all(
      this.workers().map(async (child) => {
        const exited = once(child, 'exit');
        child.kill('SIGTERM');
        await exited;
      }),
    );
  }

  /**
   * Offers `tasks` changes over `records` records at about `perSecond`, each record's versions in
   * order (v1, v2, ...), retrying a batch until it is acknowledged; every acknowledged task is
   * appended to the log. The payload's firstName carries the version, so the sandbox shows it.
   */
  async load(options: { tasks: number; records: number; perSecond: number; prefix?: string; batch?: number }): Promise<void> {
    const batchSize = options.batch ?? 20;
    const prefix = options.prefix ?? 'r';
    const versions = new Map<string, number>();
    const batches: Array<Array<Record<string, unknown>>> = [];
    for (let i = 0; i < options.tasks; i += batchSize) {
      const batch = [];
      for (let j = i; j < Math.min(options.tasks, i + batchSize); j += 1) {
        const recordId = `${prefix}${j % options.records}`;
        const version = (versions.get(recordId) ?? 0) + 1;
        versions.set(recordId, version);
        batch.push({ connector: 'hubspot', object: 'contact', action: 'upsert', recordId, version, payload: { email: `${recordId}@chaos.example.com`, firstName: `v${version}` } });
      }
      batches.push(batch);
    }
    const intervalMs = (1000 * batchSize) / options.perSecond;
    const started = performance.now();
    await Promise.all(
      batches.map(async (batch, index) => {
        const due = started + index * intervalMs;
        await new Promise((resolve) => setTimeout(resolve, Math.max(0, due - performance.now())));
        for (;;) {
          try {
            const response = await fetch(`${this.api.url}/v1/tasks`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(batch) });
            if (response.status === 202) break;
            await response.arrayBuffer();
          } catch {
            // the API process is up; Redis may not be: try again
          }
          await new Promise((resolve) => setTimeout(resolve, 200));
        }
        appendFileSync(this.ackLog, batch.map((task) => JSON.stringify({ recordId: task['recordId'], version: task['version'] })).join('\n') + '\n');
        this.#sent += batch.length;
      }),
    );
  }

  /** Waits until every acknowledged record's newest version is in the CRM or dead-lettered, then audits. */
  async audit(timeoutMs: number): Promise<AuditReport> {
    const newest = new Map<string, number>();
    let tasks = 0;
    for (const line of readFileSync(this.ackLog, 'utf8').split('\n')) {
      if (line === '') continue;
      const { recordId, version } = JSON.parse(line) as { recordId: string; version: number };
      tasks += 1;
      newest.set(recordId, Math.max(newest.get(recordId) ?? 0, version));
    }
    const settled = async () => {
      const byRecord = new Map(this.sandbox.objects('contacts').map((o) => [o.properties['recsync_id'], o]));
      let lost = 0;
      let dead = 0;
      for (const [recordId, version] of newest) {
        if (byRecord.get(recordId)?.properties['firstname'] === `v${version}`) continue;
        const letter = await this.api.services.store.getDeadLetter('hubspot', `default|contact|${recordId}|${version}`);
        if (letter?.state === 'dead') dead += 1;
        else lost += 1;
      }
      return { lost, dead };
    };
    let last = { lost: -1, dead: 0 };
    try {
      await pollUntil(async () => {
        last = await settled();
        return last.lost === 0 ? true : undefined;
      }, { timeoutMs, intervalMs: 250 });
    } catch {
      // reported as lost below
    }
    const writes = new Map<string, number[]>();
    let duplicateWrites = 0;
    const seen = new Set<string>();
    // By arrival: the order in which the CRM applied writes (the log is kept in completion order).
    for (const request of this.sandbox.requests().sort((a, b) => a.at - b.at)) {
      if (request.status < 200 || request.status >= 300 || (request.method !== 'PATCH' && !request.path.endsWith('/batch/upsert'))) continue;
      const body = request.body as { properties?: Record<string, string>; inputs?: Array<{ properties: Record<string, string> }> };
      const properties = body.properties ?? body.inputs?.[0]?.properties;
      const recordId = properties?.['recsync_id'];
      const version = Number(properties?.['firstname']?.slice(1));
      if (recordId === undefined || !Number.isFinite(version)) continue;
      const key = `${recordId}@${version}`;
      if (seen.has(key)) duplicateWrites += 1;
      seen.add(key);
      writes.set(recordId, [...(writes.get(recordId) ?? []), version]);
    }
    let orderViolations = 0;
    let lateOverwrites = 0;
    for (const versions of writes.values()) {
      for (let i = 1; i < versions.length; i += 1) if (versions[i]! < versions[i - 1]!) lateOverwrites += 1;
      if (versions[versions.length - 1]! < Math.max(...versions)) orderViolations += 1;
    }
    let neverWritten = 0;
    for (const [recordId, version] of newest) {
      if (seen.has(`${recordId}@${version}`)) continue;
      const letter = await this.api.services.store.getDeadLetter('hubspot', `default|contact|${recordId}|${version}`);
      if (letter?.state !== 'dead') neverWritten += 1;
    }
    const counts = new Map<string, number>();
    for (const object of this.sandbox.objects('contacts', { includeArchived: true })) counts.set(object.properties['recsync_id']!, (counts.get(object.properties['recsync_id']!) ?? 0) + 1);
    const stats = this.sandbox.stats();
    return {
      tasks,
      records: newest.size,
      lost: last.lost,
      deadLettered: last.dead,
      duplicateWrites,
      duplicateObjects: [...counts.values()].filter((n) => n > 1).length,
      orderViolations,
      lateOverwrites,
      neverWritten,
      maxInTenSeconds: stats.maxInTenSecondWindow,
      crmRequests: stats.requests,
    };
  }
}

/** The report line of one scenario, in the table of docs/reliability.md. */
export function reportLine(name: string, report: AuditReport, recoverySeconds: number): string {
  return `| ${name} | ${report.tasks} | ${report.records} | ${report.lost} | ${report.duplicateWrites} | ${report.duplicateObjects} | ${report.deadLettered} | ${report.orderViolations} | ${report.lateOverwrites} | ${recoverySeconds.toFixed(1)} s | ${report.crmRequests} |`;
}

export function assertNothingLost(report: AuditReport): void {
  assert.equal(report.lost, 0, `${report.lost} acknowledged records neither delivered nor dead-lettered`);
  assert.equal(report.duplicateObjects, 0, 'a record has two CRM objects');
  assert.equal(report.orderViolations, 0, "an older version had the last word at the CRM");
}
