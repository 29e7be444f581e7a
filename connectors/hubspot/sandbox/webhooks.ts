import { createHmac } from 'node:crypto';
import type { ObjectType } from './types.ts';

/** Where the sandbox sends webhooks, and how. Set through `PUT /__sandbox/webhooks`. */
export interface WebhookSettings {
  /** The app's target URL; HubSpot signs this exact URL. */
  targetUrl: string;
  /** The app's client secret: the key of the v3 signature. */
  secret: string;
  /** HubSpot sends up to 100 events per request. */
  maxBatch?: number;
  /** How long events gather before a request goes (real ms), default 50. */
  flushMs?: number;
  /** Share of requests sent a second time (new timestamp, same events), default 0: HubSpot may duplicate. */
  duplicateRate?: number;
  /** Attempts per request before giving up (HubSpot: 10, over 24 h), default 10. */
  maxAttempts?: number;
  /** First retry delay (real ms), doubled per attempt, default 100. */
  retryDelayMs?: number;
  /** How long the target has to answer (HubSpot: 5 s). */
  timeoutMs?: number;
}

export interface WebhookStats {
  /** Events handed to the queue (one per changed property, creation or deletion). */
  events: number;
  /** Requests sent, retries and duplicates included. */
  requests: number;
  /** Requests answered 2xx. */
  acknowledged: number;
  /** Requests retried after a non-2xx answer, a timeout or a connection failure. */
  retried: number;
  duplicated: number;
  /** Requests given up after maxAttempts. */
  abandoned: number;
  /** Events waiting or in a request not yet acknowledged. */
  pending: number;
}

export interface WebhookEvent {
  eventId: number;
  subscriptionId: number;
  portalId: number;
  appId: number;
  occurredAt: number;
  subscriptionType: string;
  attemptNumber: number;
  objectId: number;
  changeSource: string;
  sourceId?: string;
  propertyName?: string;
  propertyValue?: string;
}

/** A write the store made: what HubSpot would announce. `source`: CRM_UI for changes "made in the CRM", INTEGRATION for API writes. */
export interface WriteNotice {
  type: ObjectType;
  id: string;
  kind: 'creation' | 'propertyChange' | 'deletion';
  /** Changed properties and their new values ('' when cleared). */
  changed: Record<string, string>;
  at: number;
  source: 'INTEGRATION' | 'CRM_UI';
}

const singular: Record<ObjectType, string> = { contacts: 'contact', companies: 'company' };
export const APP_ID = 1_001_001;

/** Base64(HMAC-SHA256(secret, method + uri + body + timestamp)): HubSpot's v3 signature. */
export function hubspotSignatureV3(secret: string, method: string, uri: string, body: string, timestamp: string): string {
  return createHmac('sha256', secret).update(method + uri + body + timestamp).digest('base64');
}

/**
 * HubSpot's webhook delivery: events batched (up to 100 a request), signed with the v3 signature,
 * retried with backoff on any non-2xx answer, timeout or connection failure, and, when asked,
 * sometimes sent twice. Events of one record may arrive out of order across requests, as at HubSpot.
 */
export class WebhookEmitter {
  #settings: WebhookSettings | undefined;
  #queue: WebhookEvent[] = [];
  #timer: NodeJS.Timeout | undefined;
  #inFlight = new Set<Promise<void>>();
  #pendingInFlight = 0;
  #nextEventId = 1;
  #stats = { events: 0, requests: 0, acknowledged: 0, retried: 0, duplicated: 0, abandoned: 0 };
  readonly #portalId: number;
  readonly #random: () => number;

  constructor(portalId: number, random: () => number = Math.random) {
    this.#portalId = portalId;
    this.#random = random;
  }

  configure(settings: WebhookSettings | undefined): void {
    if (settings !== undefined) {
      if (!/^https?:\/\//.test(settings.targetUrl)) throw new TypeError('targetUrl must be an http(s) URL');
      if (typeof settings.secret !== 'string' || settings.secret === '') throw new TypeError('secret must be a non-empty string');
      const rate = settings.duplicateRate ?? 0;
      if (typeof rate !== 'number' || rate < 0 || rate > 1) throw new TypeError('duplicateRate must be between 0 and 1');
    }
    this.#settings = settings;
  }

  get settings(): WebhookSettings | undefined {
    return this.#settings;
  }

  stats(): WebhookStats {
    return { ...this.#stats, pending: this.#queue.length + this.#pendingInFlight };
  }

  notice(write: WriteNotice): void {
    if (this.#settings === undefined) return;
    const base = { subscriptionId: 1, portalId: this.#portalId, appId: APP_ID, occurredAt: write.at, attemptNumber: 0, objectId: Number(write.id), changeSource: write.source };
    const source = write.source === 'INTEGRATION' ? { sourceId: `${APP_ID}` } : { sourceId: 'userId:1' };
    const type = singular[write.type];
    if (write.kind === 'propertyChange') {
      for (const [name, value] of Object.entries(write.changed)) {
        this.#queue.push({ ...base, ...source, eventId: this.#nextEventId++, subscriptionType: `${type}.propertyChange`, propertyName: name, propertyValue: value });
      }
    } else {
      this.#queue.push({ ...base, ...source, eventId: this.#nextEventId++, subscriptionType: `${type}.${write.kind}` });
    }
    this.#stats.events = this.#nextEventId - 1;
    this.#timer ??= setTimeout(() => this.#flush(), this.#settings.flushMs ?? 50);
  }

  #flush(): void {
    this.#timer = undefined;
    const settings = this.#settings;
    if (settings === undefined) return;
    while (this.#queue.length > 0) {
      const batch = this.#queue.splice(0, Math.min(100, settings.maxBatch ?? 100));
      this.#track(this.#deliver(settings, batch, 0), batch.length);
      if (this.#random() < (settings.duplicateRate ?? 0)) {
        this.#stats.duplicated += 1;
        this.#track(this.#deliver(settings, batch, 0), 0);
      }
    }
  }

  #track(delivery: Promise<void>, events: number): void {
    this.#pendingInFlight += events;
    const tracked = delivery.finally(() => {
      this.#pendingInFlight -= events;
      this.#inFlight.delete(tracked);
    });
    this.#inFlight.add(tracked);
  }

  async #deliver(settings: WebhookSettings, batch: WebhookEvent[], attempt: number): Promise<void> {
    for (let n = attempt; n < (settings.maxAttempts ?? 10); n += 1) {
      const body = JSON.stringify(batch.map((event) => ({ ...event, attemptNumber: n })));
      const timestamp = String(Date.now());
      this.#stats.requests += 1;
      try {
        const response = await fetch(settings.targetUrl, {
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            'x-hubspot-signature-v3': hubspotSignatureV3(settings.secret, 'POST', settings.targetUrl, body, timestamp),
            'x-hubspot-request-timestamp': timestamp,
          },
          body,
          signal: AbortSignal.timeout(settings.timeoutMs ?? 5_000),
        });
        await response.arrayBuffer().catch(() => undefined);
        if (response.ok) {
          this.#stats.acknowledged += 1;
          return;
        }
      } catch {
        // No answer in time or no connection: retried like any failure.
      }
      if (this.#settings !== settings) return;
      this.#stats.retried += 1;
      await new Promise((resolve) => setTimeout(resolve, (settings.retryDelayMs ?? 100) * 2 ** (n - attempt)).unref());
    }
    this.#stats.abandoned += 1;
  }

  /** Stops sending: queued events are dropped and retries end after their current wait. */
  reset(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#queue = [];
    this.#settings = undefined;
    this.#stats = { events: 0, requests: 0, acknowledged: 0, retried: 0, duplicated: 0, abandoned: 0 };
    this.#nextEventId = 1;
  }

  async close(): Promise<void> {
    this.reset();
    await Promise.allSettled([...this.#inFlight]);
  }
}
