/**
 * The Dynamics 365 / Dataverse sandbox: a local twin of the Dataverse Web API (OData v4) for contacts,
 * with an Entra-ID-like client-credentials token endpoint, over real HTTP. What it models and what it
 * does not: docs/sandboxes/dynamics.md.
 *
 * Standalone: node connectors/dynamics/sandbox.ts [--port 4030] [--host 127.0.0.1] [--no-limits]
 *             [--requests N] [--window-seconds N] [--concurrent N] [--latency MS] [--fresh-ids]
 */
import { parseArgs } from 'node:util';
import { intFlag as int, runStandalone } from '../../runtime/sdk/sandbox-kit/index.ts';
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
  const { values } = parseArgs({
    args,
    options: {
      port: { type: 'string' },
      host: { type: 'string' },
      'no-limits': { type: 'boolean' },
      requests: { type: 'string' },
      'window-seconds': { type: 'string' },
      concurrent: { type: 'string' },
      latency: { type: 'string' },
      'fresh-ids': { type: 'boolean' },
    },
    strict: true,
  });
  const options: DynamicsSandboxOptions = {};
  const port = int('port', values.port);
  if (port !== undefined) options.port = port;
  if (values.host !== undefined) options.host = values.host;
  const latency = int('latency', values.latency);
  if (latency !== undefined) options.latencyMs = latency;
  if (values['fresh-ids'] === true) options.freshIds = true;
  if (values['no-limits'] === true) options.limits = false;
  else {
    const limits: ServiceProtectionLimits = {};
    const requests = int('requests', values.requests);
    const windowSeconds = int('window-seconds', values['window-seconds']);
    const concurrent = int('concurrent', values.concurrent);
    if (requests !== undefined) limits.requests = requests;
    if (windowSeconds !== undefined) limits.windowMs = windowSeconds * 1000;
    if (concurrent !== undefined) limits.concurrent = concurrent;
    if (Object.keys(limits).length > 0) options.limits = limits;
  }
  return options;
}

if (import.meta.main) await runStandalone('Dynamics sandbox', optionsFromArgs, startSandbox);
