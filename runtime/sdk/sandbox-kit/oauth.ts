import { randomBytes } from 'node:crypto';

/**
 * A small OAuth 2.0 token service for sandboxes: client authentication, the refresh_token and
 * client_credentials grants, access tokens with an expiry on the sandbox clock (fixed, or renewed at
 * every use like a Salesforce session), revocation, and "expire every token now" for tests. It decides;
 * each sandbox renders the answers in its CRM's words (Salesforce and Entra ID word errors differently).
 */

export type Grant = 'refresh_token' | 'client_credentials';

export interface OAuthClient {
  clientId: string;
  clientSecret: string;
}

export interface TokenServiceOptions {
  /** The sandbox clock. */
  now: () => number;
  clients: OAuthClient[];
  /** The grants the endpoint accepts. */
  grants: Grant[];
  /** How long an access token lives, in clock ms; undefined: until revoked or expired by `expireAccessTokens()`. */
  accessTokenTtlMs?: number;
  /** Renew the lifetime at every successful use (an inactivity timeout) instead of counting from issue. */
  idleExpiry?: boolean;
  /** Put in front of every access token, e.g. an org id. */
  tokenPrefix?: string;
  /** Give a new refresh token at every refresh, invalidating the old one (rotation). Default false. */
  rotateRefreshTokens?: boolean;
}

/** Why a token request was refused; the sandbox words it. */
export type GrantFailure =
  /** grant_type missing or not one of `grants`. */
  | 'unsupported_grant_type'
  /** A required parameter is missing (client_id, refresh_token). */
  | 'invalid_request'
  /** No client with that id. */
  | 'unknown_client'
  /** The client exists but the secret is wrong. */
  | 'bad_secret'
  /** The refresh token is unknown, revoked, or belongs to another client. */
  | 'invalid_grant';

export type GrantResult =
  | {
    ok: true;
    grant: Grant;
    accessToken: string;
    /** Clock ms; undefined when the token has no fixed lifetime. */
    expiresAt: number | undefined;
    /** Seconds, as `expires_in` would say; undefined when the token has no fixed lifetime. */
    expiresIn: number | undefined;
    /** Set when a new refresh token was issued (rotation). */
    refreshToken?: string;
    clientId: string;
    /** Whose token it is: the refresh token's user, or the client itself for client_credentials. */
    subject: string;
    issuedAt: number;
  }
  | { ok: false; failure: GrantFailure; grant: string | undefined; clientId: string | undefined };

export type TokenCheck =
  | { ok: true; subject: string; clientId: string }
  | { ok: false; reason: 'unknown' | 'expired' | 'revoked' };

interface AccessToken {
  clientId: string;
  subject: string;
  expiresAt: number | undefined;
  dead: boolean;
  refreshToken: string | undefined;
}

interface RefreshToken {
  clientId: string;
  subject: string;
  revoked: boolean;
}

export interface TokenStats {
  /** Access tokens issued. */
  issued: number;
  /** Token requests refused, by failure. */
  refused: Partial<Record<GrantFailure, number>>;
  /** Requests that presented an expired, revoked or unknown access token. */
  rejectedTokens: number;
}

export class TokenService {
  readonly #options: TokenServiceOptions;
  #access = new Map<string, AccessToken>();
  #refresh = new Map<string, RefreshToken>();
  #initialRefresh: Array<[string, RefreshToken]> = [];
  #stats: TokenStats = { issued: 0, refused: {}, rejectedTokens: 0 };

  constructor(options: TokenServiceOptions) {
    if (options.clients.length === 0) throw new TypeError('a token service needs at least one client');
    this.#options = options;
  }

  get stats(): TokenStats {
    return { issued: this.#stats.issued, refused: { ...this.#stats.refused }, rejectedTokens: this.#stats.rejectedTokens };
  }

  /** Registers a refresh token (a random one when none is given) for a client and user; it survives reset(). */
  addRefreshToken(clientId: string, subject: string, token: string = randomToken('rt.')): string {
    if (!this.#options.clients.some((c) => c.clientId === clientId)) throw new TypeError(`unknown client: ${clientId}`);
    const entry: RefreshToken = { clientId, subject, revoked: false };
    this.#refresh.set(token, entry);
    this.#initialRefresh.push([token, { ...entry }]);
    return token;
  }

  /**
   * Handles a token request: `fields` is the form body; `authorization` the request's Authorization
   * header, whose `Basic` credentials may carry the client id and secret instead of the body.
   */
  grant(fields: URLSearchParams, authorization?: string): GrantResult {
    const grant = fields.get('grant_type') ?? undefined;
    let clientId = fields.get('client_id') ?? undefined;
    let clientSecret = fields.get('client_secret') ?? undefined;
    const basic = /^Basic\s+(\S+)$/i.exec(authorization ?? '');
    if (basic !== null) {
      const decoded = Buffer.from(basic[1] ?? '', 'base64').toString('utf8');
      const colon = decoded.indexOf(':');
      if (colon > 0) {
        clientId ??= decodeURIComponent(decoded.slice(0, colon));
        clientSecret ??= decodeURIComponent(decoded.slice(colon + 1));
      }
    }
    const refuse = (failure: GrantFailure): GrantResult => {
      this.#stats.refused[failure] = (this.#stats.refused[failure] ?? 0) + 1;
      return { ok: false, failure, grant, clientId };
    };
    if (grant === undefined || !(this.#options.grants as string[]).includes(grant)) return refuse('unsupported_grant_type');
    if (clientId === undefined || clientId === '') return refuse('invalid_request');
    const client = this.#options.clients.find((c) => c.clientId === clientId);
    if (client === undefined) return refuse('unknown_client');
    if (clientSecret !== client.clientSecret) return refuse('bad_secret');

    if (grant === 'client_credentials') return this.#issue('client_credentials', clientId, clientId, undefined);
    const refreshToken = fields.get('refresh_token') ?? '';
    if (refreshToken === '') return refuse('invalid_request');
    const entry = this.#refresh.get(refreshToken);
    if (entry === undefined || entry.revoked || entry.clientId !== clientId) return refuse('invalid_grant');
    if (this.#options.rotateRefreshTokens !== true) return this.#issue('refresh_token', clientId, entry.subject, refreshToken);
    entry.revoked = true;
    const next = randomToken('rt.');
    this.#refresh.set(next, { clientId, subject: entry.subject, revoked: false });
    const issued = this.#issue('refresh_token', clientId, entry.subject, next);
    return issued.ok ? { ...issued, refreshToken: next } : issued;
  }

  /** Checks an access token presented to the API; with idle expiry a valid token's lifetime starts over. */
  check(token: string | undefined): TokenCheck {
    const entry = token === undefined ? undefined : this.#access.get(token);
    const reject = (reason: 'unknown' | 'expired' | 'revoked'): TokenCheck => {
      this.#stats.rejectedTokens += 1;
      return { ok: false, reason };
    };
    if (entry === undefined) return reject('unknown');
    if (entry.dead) return reject('revoked');
    const now = this.#options.now();
    if (entry.expiresAt !== undefined && now >= entry.expiresAt) {
      entry.dead = true;
      return reject('expired');
    }
    if (this.#options.idleExpiry === true && this.#options.accessTokenTtlMs !== undefined) entry.expiresAt = now + this.#options.accessTokenTtlMs;
    return { ok: true, subject: entry.subject, clientId: entry.clientId };
  }

  /** Revokes an access token, or a refresh token together with every access token it gave. False when unknown. */
  revoke(token: string): boolean {
    const access = this.#access.get(token);
    if (access !== undefined) {
      access.dead = true;
      return true;
    }
    const refresh = this.#refresh.get(token);
    if (refresh === undefined) return false;
    refresh.revoked = true;
    for (const entry of this.#access.values()) if (entry.refreshToken === token) entry.dead = true;
    return true;
  }

  /** Every access token issued so far stops working (a session timeout, a password reset); refresh tokens still work. */
  expireAccessTokens(): number {
    let count = 0;
    for (const entry of this.#access.values()) {
      if (!entry.dead) count += 1;
      entry.dead = true;
    }
    return count;
  }

  /** Forgets every access token and restores the refresh tokens registered with addRefreshToken(). */
  reset(): void {
    this.#access = new Map();
    this.#refresh = new Map(this.#initialRefresh.map(([token, entry]) => [token, { ...entry }]));
    this.#stats = { issued: 0, refused: {}, rejectedTokens: 0 };
  }

  #issue(grant: Grant, clientId: string, subject: string, refreshToken: string | undefined): GrantResult {
    const now = this.#options.now();
    const ttl = this.#options.accessTokenTtlMs;
    const accessToken = randomToken(this.#options.tokenPrefix ?? 'at.');
    const expiresAt = ttl === undefined ? undefined : now + ttl;
    this.#access.set(accessToken, { clientId, subject, expiresAt, dead: false, refreshToken });
    this.#stats.issued += 1;
    return {
      ok: true,
      grant,
      accessToken,
      expiresAt,
      expiresIn: ttl === undefined ? undefined : Math.floor(ttl / 1000),
      clientId,
      subject,
      issuedAt: now,
    };
  }
}

function randomToken(prefix: string): string {
  return `${prefix}${randomBytes(24).toString('base64url')}`;
}
