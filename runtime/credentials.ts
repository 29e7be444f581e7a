import { request } from 'undici';
import { RecsyncError } from './errors.ts';

export type AuthConfig =
  | { type: 'none' }
  | { type: 'bearer'; token: string }
  | { type: 'oauth2'; grant: 'refresh_token' | 'client_credentials'; tokenUrl: string; clientId: string; clientSecret: string; refreshToken?: string; scope?: string };

/** Where a connector's requests get their `Authorization` header. Secrets stay inside. */
export interface Credentials {
  /** The header value, e.g. `Bearer …`, or undefined for `auth: none`. Refreshes first when the token is about to expire. */
  authorization(): Promise<{ value: string | undefined; generation: number }>;
  /** True when a refused token can be replaced (oauth2). */
  readonly refreshable: boolean;
  /**
   * The CRM refused the token of `generation`: the next `authorization()` obtains a new one. A
   * refusal of an already replaced token changes nothing, so concurrent refusals refresh once.
   */
  invalidate(generation: number): void;
}

/** A token is refreshed this long before the expiry the token endpoint announced. */
const refreshMarginMs = 60_000;

export function createCredentials(auth: AuthConfig, options: { timeoutMs: number; now?: () => number } = { timeoutMs: 10_000 }): Credentials {
  if (auth.type === 'none') return { refreshable: false, authorization: async () => ({ value: undefined, generation: 0 }), invalidate: () => {} };
  if (auth.type === 'bearer') return { refreshable: false, authorization: async () => ({ value: `Bearer ${auth.token}`, generation: 0 }), invalidate: () => {} };
  return new OAuth2Credentials(auth, options.timeoutMs, options.now ?? Date.now);
}

class OAuth2Credentials implements Credentials {
  readonly refreshable = true;
  readonly #auth: Extract<AuthConfig, { type: 'oauth2' }>;
  readonly #timeoutMs: number;
  readonly #now: () => number;
  #token: { value: string; expiresAt: number } | undefined;
  #generation = 0;
  #refreshing: Promise<void> | undefined;
  #refreshToken: string | undefined;

  constructor(auth: Extract<AuthConfig, { type: 'oauth2' }>, timeoutMs: number, now: () => number) {
    this.#auth = auth;
    this.#timeoutMs = timeoutMs;
    this.#now = now;
    this.#refreshToken = auth.refreshToken;
  }

  async authorization(): Promise<{ value: string; generation: number }> {
    if (!this.#token || this.#now() >= this.#token.expiresAt - refreshMarginMs) {
      // One refresh at a time: concurrent callers wait for the same one.
      this.#refreshing ??= this.#refresh().finally(() => {
        this.#refreshing = undefined;
      });
      await this.#refreshing;
    }
    return { value: `Bearer ${this.#token!.value}`, generation: this.#generation };
  }

  invalidate(generation: number): void {
    if (generation === this.#generation) this.#token = undefined;
  }

  async #refresh(): Promise<void> {
    const form = new URLSearchParams({ grant_type: this.#auth.grant, client_id: this.#auth.clientId, client_secret: this.#auth.clientSecret });
    if (this.#auth.grant === 'refresh_token') form.set('refresh_token', this.#refreshToken ?? '');
    if (this.#auth.scope !== undefined) form.set('scope', this.#auth.scope);
    let status: number;
    let body: Record<string, unknown>;
    try {
      const response = await request(this.#auth.tokenUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
        body: form.toString(),
        signal: AbortSignal.timeout(this.#timeoutMs),
      });
      status = response.statusCode;
      const text = await response.body.text();
      try {
        body = JSON.parse(text) as Record<string, unknown>;
      } catch {
        body = {};
      }
    } catch (error) {
      throw new RecsyncError('RECSYNC_ERR_CRM_NETWORK', `token endpoint ${new URL(this.#auth.tokenUrl).origin}: ${(error as Error).message}`);
    }
    if (status !== 200 || typeof body['access_token'] !== 'string') {
      // Only the endpoint's own error fields: never the request, which carries the secrets.
      const reason = [body['error'], body['error_description']].filter((v) => typeof v === 'string').join(': ') || `HTTP ${status}`;
      throw new RecsyncError(status >= 500 ? 'RECSYNC_ERR_CRM_RETRYABLE' : 'RECSYNC_ERR_CRM_AUTH', `token endpoint ${new URL(this.#auth.tokenUrl).origin} refused the ${this.#auth.grant} grant: ${reason}`);
    }
    const expiresIn = typeof body['expires_in'] === 'number' ? body['expires_in'] : Number(body['expires_in']);
    // Without expires_in (Salesforce) the token is used until the CRM refuses it.
    this.#token = { value: body['access_token'], expiresAt: Number.isFinite(expiresIn) && expiresIn > 0 ? this.#now() + expiresIn * 1000 : Number.POSITIVE_INFINITY };
    if (typeof body['refresh_token'] === 'string') this.#refreshToken = body['refresh_token'];
    this.#generation += 1;
  }
}
