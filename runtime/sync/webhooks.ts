import { createHash } from 'node:crypto';
import type { ConnectorRegistry } from '../connectors/registry.ts';
import { RecsyncError } from '../errors.ts';
import type { Ingest, Task } from '../ingest.ts';
import type { RecordStore } from '../records/record-store.ts';
import type { WebhookRequest } from '../sdk/index.ts';
import { inboundName } from './two-way.ts';

/** How long a signature is remembered against replays: past the 5-minute age limit, with room for clock skew. */
export const replayWindowMs = 10 * 60_000;

export interface ReplayClient {
  set(key: string, value: string, px: 'PX', ms: number, nx: 'NX'): Promise<'OK' | null>;
  del(key: string): Promise<number>;
}

export interface WebhookAnswer {
  /** Events in the delivery. */
  received: number;
  /** Changes that became a new inbound version of their record. */
  accepted: number;
  /** Duplicates and changes older than one already taken (retries, reordering). */
  stale: number;
  /** Events of kinds or objects this connector does not take back. */
  ignored: number;
}

/**
 * Receives one webhook delivery: checks the signature on the raw body and the age (the
 * connector's dialect), refuses a replayed request, reads the events, and writes each change into
 * the record state of the way back (`<name>.in`, keyed by the CRM's id, versioned by when the
 * change happened) and its queue. It answers only after Redis acknowledged all of it; the work
 * (read back, map, deliver) happens later, in the worker, well within the CRM's 5-second timeout.
 */
export class WebhookReceiver {
  readonly #registry: ConnectorRegistry;
  readonly #ingest: Ingest;
  readonly #store: RecordStore;
  readonly #redis: ReplayClient;
  readonly #prefix: string;

  constructor(deps: { registry: ConnectorRegistry; ingest: Ingest; store: RecordStore; redis: ReplayClient; prefix: string }) {
    this.#registry = deps.registry;
    this.#ingest = deps.ingest;
    this.#store = deps.store;
    this.#redis = deps.redis;
    this.#prefix = deps.prefix;
  }

  async receive(name: string, request: WebhookRequest, publicBase: (publicUrl: string | undefined) => string): Promise<WebhookAnswer> {
    const version = this.#registry.get(name);
    const inbound = version?.inbound;
    const support = version?.connector.inbound;
    if (!version || !inbound || !support) throw new RecsyncError('RECSYNC_ERR_INBOUND_OFF', `connector "${name}" takes no webhooks (no inbound in its manifest, or an empty secret)`);
    const verdict = support.verify({ ...request, url: publicBase(inbound.publicUrl) }, inbound.secret);
    if (!verdict.ok) {
      await this.#store.countSync(name, verdict.reason === 'stale' ? 'rejected.stale' : 'rejected.signature').catch(() => {});
      throw new RecsyncError(verdict.reason === 'stale' ? 'RECSYNC_ERR_WEBHOOK_STALE' : 'RECSYNC_ERR_WEBHOOK_SIGNATURE', verdict.message);
    }

    let body: unknown;
    try {
      body = JSON.parse(request.body.toString('utf8'));
    } catch (error) {
      throw new RecsyncError('RECSYNC_ERR_BAD_JSON', `the body is not valid JSON: ${(error as Error).message}`, [{ field: '(body)', message: (error as Error).message }]);
    }
    const read = support.changes(body);
    if ('errors' in read) throw new RecsyncError('RECSYNC_ERR_VALIDATION', read.errors.map((e) => `${e.field} ${e.message}`).join('; '), read.errors);

    // A signed request is unique by its signature (it covers the timestamp): seen before, it is a
    // replay. A CRM's retry is a new request with a new timestamp, and gets through.
    const replayKey = `${this.#prefix}:{${inboundName(name)}}:seen:${createHash('sha256').update(verdict.requestId).digest('base64url')}`;
    if ((await this.#redis.set(replayKey, '1', 'PX', replayWindowMs, 'NX')) === null) {
      await this.#store.countSync(name, 'rejected.replayed').catch(() => {});
      throw new RecsyncError('RECSYNC_ERR_WEBHOOK_REPLAYED', 'this signed request was received before (a replay); a retry of the CRM carries a new timestamp and signature');
    }

    const tasks: Task[] = [];
    let ignored = read.ignored;
    for (const change of read.changes) {
      if (!inbound.objects.has(change.object)) {
        ignored += 1;
        continue;
      }
      const payload: Record<string, unknown> = { eventId: change.eventId };
      if (change.source !== undefined) payload['source'] = change.source;
      tasks.push({ connector: inboundName(name), object: change.object, action: change.action, recordId: change.crmId, version: change.occurredAt, payload });
    }
    try {
      const accepted = await this.#ingest.accept(tasks);
      const fresh = accepted.filter((a) => a.status === 'accepted').length;
      await this.#store.countSync(name, 'webhooks');
      return { received: read.changes.length + read.ignored, accepted: fresh, stale: accepted.length - fresh, ignored };
    } catch (error) {
      // Not acknowledged: the CRM will retry, and the retry must not be taken for a replay.
      await this.#redis.del(replayKey).catch(() => {});
      throw error;
    }
  }
}
