/** Shapes shared by every sandbox built on the kit. The sandboxes re-export the ones their users need. */

export type FaultKind = 'status' | 'delay' | 'hang' | 'drop' | 'headers';

export interface FaultSpec {
  match?: { method?: string; pathPrefix?: string };
  /** How many matching requests this fault applies to; default 1; Infinity allowed (over HTTP: null or "Infinity"). */
  times?: number;
  /** Answer with this status instead of processing normally. */
  status?: number;
  /** Headers added to the answer (the fault answer, or the normal answer when no status is given). */
  headers?: Record<string, string>;
  /** Body of the fault answer; defaults to a CRM-shaped body for the status. */
  body?: unknown;
  /** Wait this many real ms before answering (or before dropping). */
  delayMs?: number;
  /** Never answer; the request ends when the client gives up or the sandbox closes. */
  hang?: boolean;
  /** Destroy the socket without answering. */
  drop?: boolean;
  /** With status/delay/hang/drop: perform the write as soon as the request arrives ('timed out, but it landed'). */
  apply?: boolean;
}

/** One API request, logged when it ends (answered, dropped, or abandoned by the client). */
export interface LoggedRequest {
  /** Arrival time by the sandbox clock, in ms. */
  at: number;
  method: string;
  path: string;
  query: Record<string, string | string[]>;
  /** Request headers; the bearer token is shortened. */
  headers: Record<string, string>;
  /** HTTP status sent; 0 when no response was sent (dropped, hung, or the client gave up first). */
  status: number;
  /** The request's id, also sent in the CRM's request-id header (HubSpot: x-hubspot-correlation-id). */
  correlationId: string;
  /** Real time from arrival to response (or to giving up), in ms. */
  durationMs: number;
  fault?: FaultKind;
  body?: unknown;
  responseBody?: unknown;
}

/** Query string values as the server parsed them. */
export type Query = Record<string, string | string[]>;

/** What an operation answers, before the kit adds the per-response headers and writes it. */
export interface ApiResult {
  status: number;
  /** JSON body; undefined means an empty body (e.g. 204). */
  body?: unknown;
  /** A non-JSON body (an HTML error page, a form answer). */
  text?: { contentType: string; content: string };
  headers?: Record<string, string>;
}
