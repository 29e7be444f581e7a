import { fatal, outcomeFromStatus, rateLimited, reauthenticate, retry, retryAfterMs, type HttpResponse, type Outcome } from '../../runtime/sdk/index.ts';

/** HubSpot's error dialect, shared by writes (connector.ts) and reads (inbound.ts). */

export interface HubSpotError {
  status?: string;
  message?: string;
  category?: string;
  correlationId?: string;
  policyName?: string;
  errors?: Array<{ message?: string }>;
}

/** HubSpot gives no Retry-After on a 429; its own SDK waits out the 10-second window. */
const tenSecondWindowMs = 10_000;

export function describe(response: HttpResponse): string {
  const body = (response.body ?? {}) as HubSpotError;
  const text = typeof response.body === 'string' ? response.body.slice(0, 200) : body.message ?? '';
  return `HubSpot ${response.status}${body.category ? ` ${body.category}` : ''}: ${text}${body.correlationId ? ` (correlationId ${body.correlationId})` : ''}`;
}

/** Reads HubSpot's error dialect; `undefined` for 2xx. */
export function readError(response: HttpResponse, now: number = Date.now()): Outcome | undefined {
  const { status } = response;
  if (status >= 200 && status < 300) return undefined;
  const message = describe(response);
  const body = (response.body ?? {}) as HubSpotError;
  switch (status) {
    case 429: {
      if (body.policyName === 'DAILY') {
        const midnight = new Date(now);
        midnight.setUTCHours(24, 0, 0, 0);
        return rateLimited(message, { status, afterMs: midnight.getTime() - now });
      }
      return rateLimited(message, { status, afterMs: retryAfterMs(response.headers['retry-after'], now) ?? tenSecondWindowMs });
    }
    case 423:
      // The record or account lock is held for about 2 s.
      return retry('RECSYNC_ERR_CRM_RETRYABLE', message, { status, afterMs: 2_000 });
    case 477: {
      // Migration in progress: the whole portal is unavailable for as long as Retry-After says.
      const afterMs = retryAfterMs(response.headers['retry-after'], now);
      return afterMs === undefined ? retry('RECSYNC_ERR_CRM_RETRYABLE', message, { status }) : rateLimited(message, { status, afterMs });
    }
    case 401:
      // An expired OAuth token is worth one refresh; a wrong token is not.
      return body.category === 'EXPIRED_AUTHENTICATION' ? reauthenticate(message, status) : fatal('RECSYNC_ERR_CRM_AUTH', message, status);
    case 525:
    case 526:
      return fatal('RECSYNC_ERR_CRM_REJECTED', message, status);
    default:
      return outcomeFromStatus(response, message);
  }
}
