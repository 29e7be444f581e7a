/** Public types of the Salesforce sandbox. `connectors/salesforce/sandbox.ts` re-exports all of them. */
import type { SandboxBaseOptions, SandboxControls } from '../../../runtime/sdk/sandbox-kit/index.ts';

export type { FaultKind, FaultSpec, LoggedRequest } from '../../../runtime/sdk/sandbox-kit/index.ts';

export type SObjectType = 'Contact' | 'Account';

export const SOBJECT_TYPES: readonly SObjectType[] = ['Contact', 'Account'];

/** A field value as stored: JSON scalars; an unset field is absent (null and "" clear a field). */
export type FieldValue = string | number | boolean;

export interface SalesforceLimits {
  /** Total API requests per org in any rolling 24 h, default 100000 (Enterprise base allocation). */
  dailyApiRequests?: number;
  /** Long-running requests allowed in flight at once, default 25 (production orgs; 5 in Developer Edition). */
  longRunningConcurrent?: number;
  /** Real ms after which a request in flight counts as long-running, default 20000. */
  longRunningMs?: number;
}

export interface SalesforceSandboxOptions extends SandboxBaseOptions {
  /** Injectable clock in ms, default Date.now. Drives timestamps, the rolling 24 h window and session expiry. */
  now?: () => number;
  /** Default {dailyApiRequests: 100000, longRunningConcurrent: 25, longRunningMs: 20000}; false: no limits and no Sforce-Limit-Info. */
  limits?: SalesforceLimits | false;
  /** Session timeout by the clock: a session dies after this long without use. Default 2 h (Salesforce's default). */
  sessionTimeoutMs?: number;
  /** The connected app's consumer key, default 'sandbox-client-id'. */
  clientId?: string;
  /** Its consumer secret, default 'sandbox-client-secret'. */
  clientSecret?: string;
  /** A refresh token the token endpoint accepts, default 'sandbox-refresh-token'. */
  refreshToken?: string;
  /** Issue a new refresh token at every refresh and retire the old one. Default false (Salesforce's default). */
  rotateRefreshTokens?: boolean;
  /** Highest API version served, default 62 (v62.0). Versions 20.0 up to it are served. */
  maxApiVersion?: number;
  /** More writable text fields per sObject, e.g. {Contact: ['Shoe_Size__c']}. */
  extraFields?: Partial<Record<SObjectType, string[]>>;
  /** The first number of the id sequence, default 1. */
  firstId?: number;
}

/** A record as the sandbox stores it. */
export interface SandboxRecord {
  /** 18-character id. */
  id: string;
  type: SObjectType;
  /** Set fields only (system fields excluded). */
  fields: Record<string, FieldValue>;
  createdAt: string;
  updatedAt: string;
  /** In the recycle bin. */
  deleted: boolean;
  deletedAt?: string;
  /** Writes that touched the record (create, each update, delete). */
  writes: number;
  /** The last writer's origin, as Change Data Capture would report it: `com/salesforce/api/rest/62.0;client=recsync`. */
  changeOrigin?: string;
}

export interface SalesforceSandboxStats {
  /** API and token requests received (control API excluded). */
  requests: number;
  /** By HTTP status; '0' counts requests that got no HTTP answer. */
  byStatus: Record<string, number>;
  /** By route, e.g. 'PATCH /services/data/vXX.X/sobjects/Contact/{field}/{value}'. */
  byRoute: Record<string, number>;
  /** Requests a fault was applied to. */
  faulted: number;
  /** API requests counted in the rolling 24 h window now. */
  apiUsage: number;
  /** The 24 h allocation; undefined with `limits: false`. */
  apiLimit: number | undefined;
  /** 403 REQUEST_LIMIT_EXCEEDED answers of the sandbox's own limits, by limit (injected faults not counted). */
  limitExceeded: { TotalRequests: number; ConcurrentRequests: number };
  /** 401 answers to API requests (expired, revoked, unknown or missing session). */
  sessionRejected: number;
  /** Access tokens issued by the token endpoint. */
  tokensIssued: number;
  /** Token requests refused (400/401 from the token endpoint). */
  tokensRefused: number;
  created: number;
  updated: number;
  deleted: number;
  /** Upserts answered 300 Multiple Choices. */
  multipleChoices: number;
}

/** The kit's controls (url, close, requests, injectFault, clearFaults) and the salesforce sandbox's own. */
export interface SalesforceSandbox extends SandboxControls {
  /** `${url}/services/oauth2/token`. */
  tokenUrl: string;
  clientId: string;
  clientSecret: string;
  refreshToken: string;
  /** { SALESFORCE_BASE_URL, SALESFORCE_TOKEN_URL, SALESFORCE_CLIENT_ID, SALESFORCE_CLIENT_SECRET, SALESFORCE_REFRESH_TOKEN } */
  env: Record<string, string>;
  objects(type: SObjectType, opts?: { includeDeleted?: boolean }): SandboxRecord[];
  /** Stores a record as given, bypassing validation and the uniqueness of Ext_Id__c (to set up a 300). Returns its id. */
  seed(type: SObjectType, fields: Record<string, FieldValue>): string;
  stats(): SalesforceSandboxStats;
  /** Every session issued so far is over: the next API call with it gets 401 INVALID_SESSION_ID. Returns how many were live. */
  expireSessions(): number;
  /** Revokes a refresh token (default: the configured one) and the sessions it gave. */
  revokeRefreshToken(token?: string): boolean;
  /** Drops every record, session, counter, log entry, fault and limit window; the id sequence starts over; refresh tokens are restored. */
  reset(): void;
}
