/** Public types of the HubSpot sandbox. `connectors/hubspot/sandbox.ts` re-exports all of them. */
import type { SandboxBaseOptions, SandboxControls } from '../../../runtime/sdk/sandbox-kit/index.ts';
import type { WebhookSettings, WebhookStats } from './webhooks.ts';

export type ObjectType = 'contacts' | 'companies';

export const OBJECT_TYPES: readonly ObjectType[] = ['contacts', 'companies'];

export interface RateLimits {
  /** Requests per token in any rolling 10 s window (search excluded). HubSpot private apps: 100 (Free/Starter), 190 (Pro/Enterprise). */
  perTenSeconds: number;
  /** Requests per portal per UTC day. */
  daily: number;
  /** Search requests per token per rolling second (default 5, as HubSpot). */
  searchPerSecond?: number;
}

export interface HubSpotSandboxOptions extends SandboxBaseOptions {
  /** Accepted private-app bearer tokens; default ['sandbox-token']. */
  tokens?: string[];
  /** Default {perTenSeconds: 100, daily: 250000, searchPerSecond: 5}; false turns every limit off (benchmarks). */
  limits?: RateLimits | false;
  /** Injectable clock in ms, default Date.now. Drives record timestamps, rate-limit windows and the daily reset. */
  now?: () => number;
  /** More writable properties per object type, on top of the built-in ones. */
  extraProperties?: Partial<Record<ObjectType, string[]>>;
  /** How long (by the clock) a write takes to become visible to search, default 0. HubSpot's index lags a few seconds. */
  searchIndexLagMs?: number;
  /**
   * First object id, default 1001. `npm start` passes a time-based one: recsync's record state
   * outlives a restarted sandbox, and a reissued id would point a stored CRM id at another object.
   */
  firstId?: number;
}

/** A record as the sandbox stores it. `properties` holds only non-empty values; system properties are not stored. */
export interface SandboxObject {
  id: string;
  properties: Record<string, string>;
  createdAt: string;
  updatedAt: string;
  archived: boolean;
  archivedAt?: string;
  /** How many writes changed this record (the create counts as one, the archive as one; no-op updates count zero). */
  writes: number;
}

export type RateLimitPolicy = 'TEN_SECONDLY_ROLLING' | 'DAILY' | 'SECONDLY';

export interface SandboxStats {
  /** API requests received (control API excluded). */
  requests: number;
  /** Responses by HTTP status; '0' counts requests that got no HTTP response (dropped, hung, or the client left first). */
  byStatus: Record<string, number>;
  /** Requests by route, e.g. 'POST /crm/v3/objects/contacts/batch/upsert' or 'PATCH /crm/v3/objects/contacts/{id}'. */
  byRoute: Record<string, number>;
  /** Requests the sandbox's own rate limiter answered with 429 (injected 429 faults are not counted here). */
  throttled: number;
  throttledByPolicy: Record<RateLimitPolicy, number>;
  /** Highest number of authenticated non-search API requests seen for one token within any rolling 10 s window, 429s included. */
  maxInTenSecondWindow: number;
  /** Requests counted against today's (UTC) daily limit. */
  dailyUsed: number;
  /** Records created. */
  created: number;
  /** Updates that changed a record (no-op updates are in `unchangedUpdates`). */
  updated: number;
  unchangedUpdates: number;
  /** Records archived. */
  archived: number;
  /** Requests a fault was applied to. */
  faulted: number;
}

/** Faults and the request log come from the sandbox kit; their shapes are shared by every sandbox. */
export type { FaultKind, FaultSpec, LoggedRequest } from '../../../runtime/sdk/sandbox-kit/index.ts';

/** The kit's controls (url, close, requests, injectFault, clearFaults) and the hubspot sandbox's own. */
export interface HubSpotSandbox extends SandboxControls {
  /** The first accepted token. */
  token: string;
  /** Webhooks for every write (also under `/__sandbox/webhooks`); off until configured. */
  webhooks: { configure(settings: WebhookSettings | undefined): void; stats(): WebhookStats };
  /** { HUBSPOT_BASE_URL: url, HUBSPOT_TOKEN: token } */
  env: Record<string, string>;
  objects(type: ObjectType, opts?: { includeArchived?: boolean }): SandboxObject[];
  stats(): SandboxStats;
  /** Drops every record, counter, log entry, fault and rate-limit window; the id sequence starts over. */
  reset(): void;
}
