import { createHmac, timingSafeEqual } from 'node:crypto';
import type { FetchResult, HttpClient, InboundChange, InboundSupport, WebhookRequest } from '../../runtime/sdk/index.ts';
import { readError } from './read-error.ts';

/**
 * HubSpot webhooks (v3 signatures) and the read-back of a changed object. HubSpot's events carry
 * one property at most, so the runtime reads the whole object before mapping it, as real
 * integrations do.
 */

/** HubSpot: reject a request whose timestamp is more than 5 minutes old. */
export const maxAgeMs = 5 * 60_000;

/** Base64(HMAC-SHA256(secret, method + uri + body + timestamp)), as HubSpot signs v3 requests. */
export function signV3(secret: string, method: string, uri: string, body: Buffer | string, timestamp: string): string {
  return createHmac('sha256', secret).update(`${method}${uri}`).update(body).update(timestamp).digest('base64');
}

/**
 * HubSpot signs the URI with some characters decoded (its docs list them: `%3A` as `:`, `%2F` as
 * `/`, ...); decoding every escape gives the same string for the characters it lists.
 */
function signedUri(url: string): string {
  try {
    return decodeURIComponent(url);
  } catch {
    return url;
  }
}

export function verify(request: WebhookRequest, secret: string): { ok: true; requestId: string } | { ok: false; reason: 'signature' | 'stale'; message: string } {
  const signature = request.headers['x-hubspot-signature-v3'];
  const timestamp = request.headers['x-hubspot-request-timestamp'];
  if (signature === undefined || timestamp === undefined) return { ok: false, reason: 'signature', message: 'X-HubSpot-Signature-v3 and X-HubSpot-Request-Timestamp are required' };
  if (!/^\d{1,16}$/.test(timestamp)) return { ok: false, reason: 'signature', message: 'X-HubSpot-Request-Timestamp must be milliseconds since the epoch' };
  const expected = Buffer.from(signV3(secret, request.method, signedUri(request.url), request.body, timestamp), 'base64');
  const presented = Buffer.from(signature, 'base64');
  // The length of an HMAC-SHA256 is public: only equal-length buffers are compared, in constant time.
  const matches = presented.length === expected.length && timingSafeEqual(presented, expected);
  if (!matches) return { ok: false, reason: 'signature', message: 'X-HubSpot-Signature-v3 does not match the body' };
  // Checked after the signature, so that an unsigned request learns nothing about the clock.
  const age = request.now - Number(timestamp);
  if (age > maxAgeMs || age < -maxAgeMs) return { ok: false, reason: 'stale', message: `X-HubSpot-Request-Timestamp is ${Math.round(age / 1000)} s away from now (more than 300 s)` };
  return { ok: true, requestId: signature };
}

const objectOfType: Record<string, string> = { contact: 'contact', company: 'company' };
const deletions = new Set(['deletion', 'privacyDeletion']);
const changesOfState = new Set(['creation', 'propertyChange', 'restore', 'merge', ...deletions]);

/** Reads HubSpot's array of events (at most 100); association changes carry no property of ours and are ignored. */
export function changes(body: unknown): { changes: InboundChange[]; ignored: number } | { errors: Array<{ field: string; message: string }> } {
  if (!Array.isArray(body)) return { errors: [{ field: '(body)', message: 'must be an array of events' }] };
  if (body.length === 0 || body.length > 100) return { errors: [{ field: '(body)', message: 'must hold 1 to 100 events' }] };
  const out: InboundChange[] = [];
  const errors: Array<{ field: string; message: string }> = [];
  let ignored = 0;
  body.forEach((event: unknown, index) => {
    const at = (field: string) => `[${index}].${field}`;
    if (event === null || typeof event !== 'object') {
      errors.push({ field: `[${index}]`, message: 'must be an object' });
      return;
    }
    const e = event as Record<string, unknown>;
    const type = typeof e['subscriptionType'] === 'string' ? e['subscriptionType'] : undefined;
    if (type === undefined) errors.push({ field: at('subscriptionType'), message: 'must be a string like contact.propertyChange' });
    for (const field of ['objectId', 'occurredAt', 'eventId'] as const) {
      if (!Number.isSafeInteger(e[field]) || (e[field] as number) < 0) errors.push({ field: at(field), message: 'must be a non-negative integer' });
    }
    if (type === undefined || errors.length > 0) return;
    const [prefix = '', kind = ''] = type.split('.');
    const object = objectOfType[prefix];
    if (object === undefined || !changesOfState.has(kind)) {
      ignored += 1;
      return;
    }
    // A merge leaves the surviving object under newObjectId (the primary one) when HubSpot names it.
    const id = kind === 'merge' && Number.isSafeInteger(e['newObjectId']) ? e['newObjectId'] : e['objectId'];
    const change: InboundChange = { object, crmId: String(id), action: deletions.has(kind) ? 'delete' : 'upsert', occurredAt: e['occurredAt'] as number, eventId: String(e['eventId']) };
    if (typeof e['changeSource'] === 'string') change.source = e['changeSource'];
    out.push(change);
  });
  return errors.length > 0 ? { errors } : { changes: out, ignored };
}

/** Reads the object with the properties the mapping models; an archived object answers as gone, with its last state. */
export async function fetchObject(context: { object: string; options: Readonly<Record<string, unknown>>; crmId: string; properties: readonly string[]; http: HttpClient }): Promise<FetchResult> {
  const type = context.options['type'];
  if (typeof type !== 'string' || !/^[a-z0-9_-]+$/.test(type)) throw new Error(`object "${context.object}" needs options.type (e.g. contacts)`);
  const path = `/crm/v3/objects/${type}/${encodeURIComponent(context.crmId)}`;
  const properties = context.properties.join(',');
  const read = async (archived: boolean) => context.http.request({ method: 'GET', path, query: { properties, archived: archived ? 'true' : undefined } });
  let response = await read(false);
  let archived = false;
  if (response.status === 404) {
    response = await read(true);
    archived = true;
    if (response.status === 404) return { kind: 'gone' };
  }
  const error = readError(response);
  if (error) return error;
  const object = response.body as Record<string, unknown>;
  const props = (object['properties'] ?? {}) as Record<string, unknown>;
  const recordId = typeof props['recsync_id'] === 'string' && props['recsync_id'] !== '' ? props['recsync_id'] : undefined;
  const base = archived || object['archived'] === true ? { kind: 'gone' as const, object } : { kind: 'found' as const, object };
  return recordId === undefined ? base : { ...base, recordId };
}

export const hubspotInbound: InboundSupport = { verify, changes, fetch: fetchObject };
