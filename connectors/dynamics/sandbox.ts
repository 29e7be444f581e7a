/**
 * The Dynamics 365 / Dataverse sandbox: a local twin of the Dataverse Web API (OData v4) for contacts,
 * with an Entra-ID-like client-credentials token endpoint, over real HTTP. What it models and what it
 * does not: docs/sandboxes/dynamics.md.
 *
 * Standalone: node connectors/dynamics/sandbox.ts [--port 4030] [--host 127.0.0.1] [--no-limits]
 *             [--requests N] [--window-seconds N] [--concurrent N] [--latency MS] [--fresh-ids]
 */
import { parseSandboxArgs, runStandalone } from '../../runtime/sdk/sandbox-kit/index.ts';
import { startSandbox } from './sandbox/server.ts';
import type { DynamicsSandboxOptions, ServiceProtectionLimits } from './sandbox/types.ts';

export { startSandbox, ORGANIZATION_ID } from './sandbox/server.ts';
export { guidFor } from './sandbox/store.ts';
export type {
  DynamicsSandbox, DynamicsSandboxOptions, DynamicsSandboxStats, EntitySet, FaultKind, FaultSpec, LoggedRequest, SandboxEntity,
  ServiceProtectionLimits,
} from './sandbox/types.ts';

/** Turns command-line flags into options; throws on anything it does not understand. */
export function optionsFromArgs(args: string[]): DynamicsSandboxOptions {
  const { options, noLimits, ints } = parseSandboxArgs(args, { ints: ['requests', 'window-seconds', 'concurrent'] });
  const sandbox: DynamicsSandboxOptions = { ...options };
  if (noLimits) sandbox.limits = false;
  else {
    const limits: ServiceProtectionLimits = {};
    if (ints['requests'] !== undefined) limits.requests = ints['requests'];
    if (ints['window-seconds'] !== undefined) limits.windowMs = ints['window-seconds'] * 1000;
    if (ints['concurrent'] !== undefined) limits.concurrent = ints['concurrent'];
    if (Object.keys(limits).length > 0) sandbox.limits = limits;
  }
  return sandbox;
}

if (import.meta.main) await runStandalone('Dynamics sandbox', optionsFromArgs, startSandbox);
