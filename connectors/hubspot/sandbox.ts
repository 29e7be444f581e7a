/**
 * The HubSpot sandbox: a local twin of HubSpot's CRM v3 objects API (contacts and companies) over real HTTP.
 * What it models and what it does not: docs/sandboxes/hubspot.md.
 *
 * Standalone: node connectors/hubspot/sandbox.ts [--port 4010] [--host 127.0.0.1] [--no-limits]
 *             [--per-ten-seconds N] [--daily N] [--latency MS] [--token T ...]
 */
import { parseArgs } from 'node:util';
import { intFlag as int, runStandalone } from '../../runtime/sdk/sandbox-kit/index.ts';
import { startSandbox } from './sandbox/server.ts';
import type { HubSpotSandboxOptions } from './sandbox/types.ts';

export { startSandbox } from './sandbox/server.ts';
export { PORTAL_ID } from './sandbox/crm-api.ts';
export type {
  FaultKind, FaultSpec, HubSpotSandbox, HubSpotSandboxOptions, LoggedRequest, ObjectType, RateLimitPolicy, RateLimits,
  SandboxObject, SandboxStats,
} from './sandbox/types.ts';

/** Turns command-line flags into options; throws on anything it does not understand. */
export function optionsFromArgs(args: string[]): HubSpotSandboxOptions {
  const { values } = parseArgs({
    args,
    options: {
      port: { type: 'string' },
      host: { type: 'string' },
      'no-limits': { type: 'boolean' },
      'per-ten-seconds': { type: 'string' },
      daily: { type: 'string' },
      latency: { type: 'string' },
      token: { type: 'string', multiple: true },
    },
    strict: true,
  });
  const options: HubSpotSandboxOptions = {};
  const port = int('port', values.port);
  if (port !== undefined) options.port = port;
  if (values.host !== undefined) options.host = values.host;
  const latency = int('latency', values.latency);
  if (latency !== undefined) options.latencyMs = latency;
  if (values.token !== undefined) options.tokens = values.token;
  if (values['no-limits'] === true) options.limits = false;
  else {
    const perTenSeconds = int('per-ten-seconds', values['per-ten-seconds']);
    const daily = int('daily', values.daily);
    if (perTenSeconds !== undefined || daily !== undefined) options.limits = { perTenSeconds: perTenSeconds ?? 100, daily: daily ?? 250_000 };
  }
  return options;
}

if (import.meta.main) await runStandalone('HubSpot sandbox', optionsFromArgs, startSandbox);
