/**
 * The HubSpot sandbox: a local twin of HubSpot's CRM v3 objects API (contacts and companies) over real HTTP.
 * What it models and what it does not: docs/sandboxes/hubspot.md.
 *
 * Standalone: node connectors/hubspot/sandbox.ts [--port 4010] [--host 127.0.0.1] [--no-limits]
 *             [--per-ten-seconds N] [--daily N] [--latency MS] [--fresh-ids] [--token T ...]
 */
import { parseSandboxArgs, runStandalone } from '../../runtime/sdk/sandbox-kit/index.ts';
import { startSandbox } from './sandbox/server.ts';
import type { HubSpotSandboxOptions } from './sandbox/types.ts';

export { startSandbox } from './sandbox/server.ts';
export { PORTAL_ID } from './sandbox/crm-api.ts';
export type {
  FaultKind, FaultSpec, HubSpotSandbox, HubSpotSandboxOptions, LoggedRequest, ObjectType, RateLimitPolicy, RateLimits,
  SandboxObject, SandboxStats,
} from './sandbox/types.ts';
export { hubspotSignatureV3, type WebhookSettings, type WebhookStats, type WebhookEvent } from './sandbox/webhooks.ts';

/** Turns command-line flags into options; throws on anything it does not understand. */
export function optionsFromArgs(args: string[]): HubSpotSandboxOptions {
  const { options, noLimits, ints, lists } = parseSandboxArgs(args, { ints: ['per-ten-seconds', 'daily'], lists: ['token'] });
  const sandbox: HubSpotSandboxOptions = { ...options };
  if (lists['token'] !== undefined) sandbox.tokens = lists['token'];
  if (noLimits) sandbox.limits = false;
  else if (ints['per-ten-seconds'] !== undefined || ints['daily'] !== undefined) {
    sandbox.limits = { perTenSeconds: ints['per-ten-seconds'] ?? 100, daily: ints['daily'] ?? 250_000 };
  }
  return sandbox;
}

if (import.meta.main) await runStandalone('HubSpot sandbox', optionsFromArgs, startSandbox);
