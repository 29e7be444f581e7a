/**
 * The sandbox kit: the CRM-independent machinery of the local CRM twins under connectors/<crm>/sandbox.ts
 * (fault injection, request log, control API, clock, sliding windows, an OAuth token service).
 * Only sandboxes import it; a connector's own code imports nothing but runtime/sdk/index.ts.
 * See docs/sandboxes/kit.md.
 */
export { MonotonicClock } from './clock.ts';
export { faultKind, FaultQueue, validateFault } from './faults.ts';
export {
  bearer, CONTROL_PREFIX, formFields, InvalidJson, loggedHeaders, queryValue, SandboxHarness,
  type Admission, type ApiCall, type ControlHooks, type HarnessOptions, type SandboxApi,
} from './harness.ts';
export {
  TokenService,
  type Grant, type GrantFailure, type GrantResult, type OAuthClient, type TokenCheck, type TokenServiceOptions, type TokenStats,
} from './oauth.ts';
export { Counters, RequestLog } from './request-log.ts';
export type { ApiResult, FaultKind, FaultSpec, LoggedRequest, Query } from './types.ts';
export {
  harnessSettings, intFlag, listenSandbox, parseSandboxArgs, runStandalone,
  type SandboxArgs, type SandboxBaseOptions, type SandboxControls,
} from './standalone.ts';
export { Arrivals } from './window.ts';
