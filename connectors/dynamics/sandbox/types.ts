/** Public types of the Dynamics 365 / Dataverse sandbox. `connectors/dynamics/sandbox.ts` re-exports all of them. */
import type { SandboxBaseOptions, SandboxControls } from '../../../runtime/sdk/sandbox-kit/index.ts';

export type { FaultKind, FaultSpec, LoggedRequest } from '../../../runtime/sdk/sandbox-kit/index.ts';

/** The entity sets the sandbox serves. */
export type EntitySet = 'contacts';

export const ENTITY_SETS: readonly EntitySet[] = ['contacts'];

/** Dataverse service protection, per user (per application user for client credentials). */
export interface ServiceProtectionLimits {
  /** Requests per user in any sliding `windowMs`, default 6000. */
  requests?: number;
  /** The sliding window in clock ms, default 300000 (5 minutes). */
  windowMs?: number;
  /** Requests of one user in flight at once, default 52. */
  concurrent?: number;
  /**
   * Clock ms added to a user's block for every request sent while blocked, default 1000: the
   * Retry-After of a client that keeps sending while throttled grows, as Dataverse's does.
   */
  penaltyMs?: number;
}

export interface DynamicsSandboxOptions extends SandboxBaseOptions {
  /** Injectable clock in ms, default Date.now. Drives timestamps, the service-protection window and token expiry. */
  now?: () => number;
  /** Default {requests: 6000, windowMs: 300000, concurrent: 52, penaltyMs: 1000}; false turns service protection off. */
  limits?: ServiceProtectionLimits | false;
  /** Access-token lifetime by the clock, default 3599 s (what Entra ID usually gives; expires_in says it). */
  tokenLifetimeMs?: number;
  /** The Entra ID tenant in the token URL, default a fixed GUID. */
  tenantId?: string;
  /** The app registration's client id, default 'sandbox-client-id'. */
  clientId?: string;
  /** Its client secret, default 'sandbox-client-secret'. */
  clientSecret?: string;
  /** Alternate keys of contacts (single-attribute keys), default ['new_externalid']. */
  alternateKeys?: string[];
  /** More writable string attributes of contacts (max length 4000), e.g. ['new_loyaltytier']. */
  extraAttributes?: string[];
  /** The first number of the GUID sequence, default 1. */
  firstId?: number;
}

/** A record as the sandbox stores it. */
export interface SandboxEntity {
  /** The primary key (contactid), a lower-case GUID. */
  id: string;
  /** Set attributes only (system attributes excluded). */
  attributes: Record<string, string>;
  createdAt: string;
  updatedAt: string;
  /** The row version; the ETag is W/"<version>". */
  version: number;
  /** Writes that touched the record (create and each update). */
  writes: number;
}

export interface DynamicsSandboxStats {
  /** API and token requests received (control API excluded). */
  requests: number;
  /** By HTTP status; '0' counts requests that got no HTTP answer. */
  byStatus: Record<string, number>;
  /** By route, e.g. 'PATCH /api/data/v9.2/contacts({key})'. */
  byRoute: Record<string, number>;
  /** Requests a fault was applied to. */
  faulted: number;
  /** 429 answers of the sandbox's own service protection (injected faults not counted). */
  throttled: number;
  throttledByLimit: { requests: number; concurrent: number };
  /** Highest number of one user's requests in flight at once, 429s excluded. */
  peakConcurrent: number;
  /** The longest Retry-After sent, in seconds. */
  maxRetryAfterSeconds: number;
  /** 401 answers to API requests (missing, unknown or expired token). */
  unauthorized: number;
  /** Access tokens issued by the token endpoint. */
  tokensIssued: number;
  /** Token requests refused. */
  tokensRefused: number;
  created: number;
  updated: number;
  deleted: number;
}

/** The kit's controls (url, close, requests, injectFault, clearFaults) and the dynamics sandbox's own. */
export interface DynamicsSandbox extends SandboxControls {
  /** The Entra-ID-like token endpoint: `${url}/${tenantId}/oauth2/v2.0/token`. */
  tokenUrl: string;
  clientId: string;
  clientSecret: string;
  /** `${url}/.default`. */
  scope: string;
  /** { DYNAMICS_BASE_URL, DYNAMICS_TOKEN_URL, DYNAMICS_CLIENT_ID, DYNAMICS_CLIENT_SECRET, DYNAMICS_SCOPE } */
  env: Record<string, string>;
  objects(set: EntitySet): SandboxEntity[];
  stats(): DynamicsSandboxStats;
  /** Every access token issued so far stops working (the next API call gets 401). Returns how many were live. */
  expireTokens(): number;
  /** Drops every record, token, counter, log entry, fault and throttling state; the GUID sequence starts over. */
  reset(): void;
}
