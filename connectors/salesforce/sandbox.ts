/**
 * The Salesforce sandbox: a local twin of Salesforce's REST API for the Contact and Account sObjects,
 * with its OAuth token endpoint, over real HTTP. What it models and what it does not: docs/sandboxes/salesforce.md.
 *
 * Standalone: node connectors/salesforce/sandbox.ts [--port 4020] [--host 127.0.0.1] [--no-limits]
 *             [--daily N] [--session-timeout-ms MS] [--latency MS] [--fresh-ids]
 */
import { parseSandboxArgs, runStandalone } from '../../runtime/sdk/sandbox-kit/index.ts';
import { startSandbox } from './sandbox/server.ts';
import type { SalesforceSandboxOptions } from './sandbox/types.ts';

export { startSandbox, ORG_ID, USER_ID } from './sandbox/server.ts';
export { checksum, makeId, normalizeId } from './sandbox/ids.ts';
export type {
  FaultKind, FaultSpec, FieldValue, LoggedRequest, SalesforceLimits, SalesforceSandbox, SalesforceSandboxOptions, SalesforceSandboxStats,
  SandboxRecord, SObjectType,
} from './sandbox/types.ts';

/** Turns command-line flags into options; throws on anything it does not understand. */
export function optionsFromArgs(args: string[]): SalesforceSandboxOptions {
  const { options, noLimits, ints } = parseSandboxArgs(args, { ints: ['daily', 'session-timeout-ms'] });
  const sandbox: SalesforceSandboxOptions = { ...options };
  if (ints['session-timeout-ms'] !== undefined) sandbox.sessionTimeoutMs = ints['session-timeout-ms'];
  if (noLimits) sandbox.limits = false;
  else if (ints['daily'] !== undefined) sandbox.limits = { dailyApiRequests: ints['daily'] };
  return sandbox;
}

if (import.meta.main) await runStandalone('Salesforce sandbox', optionsFromArgs, startSandbox);
