/**
 * The Salesforce sandbox: a local twin of Salesforce's REST API for the Contact and Account sObjects,
 * with its OAuth token endpoint, over real HTTP. What it models and what it does not: docs/sandboxes/salesforce.md.
 *
 * Standalone: node connectors/salesforce/sandbox.ts [--port 4020] [--host 127.0.0.1] [--no-limits]
 *             [--daily N] [--session-timeout-ms MS] [--latency MS] [--fresh-ids]
 */
import { parseArgs } from 'node:util';
import { intFlag as int, runStandalone } from '../../runtime/sdk/sandbox-kit/index.ts';
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
  const { values } = parseArgs({
    args,
    options: {
      port: { type: 'string' },
      host: { type: 'string' },
      'no-limits': { type: 'boolean' },
      daily: { type: 'string' },
      'session-timeout-ms': { type: 'string' },
      latency: { type: 'string' },
      'fresh-ids': { type: 'boolean' },
    },
    strict: true,
  });
  const options: SalesforceSandboxOptions = {};
  const port = int('port', values.port);
  if (port !== undefined) options.port = port;
  if (values.host !== undefined) options.host = values.host;
  const latency = int('latency', values.latency);
  if (latency !== undefined) options.latencyMs = latency;
  const sessionTimeout = int('session-timeout-ms', values['session-timeout-ms']);
  if (sessionTimeout !== undefined) options.sessionTimeoutMs = sessionTimeout;
  if (values['fresh-ids'] === true) options.freshIds = true;
  if (values['no-limits'] === true) options.limits = false;
  else {
    const daily = int('daily', values.daily);
    if (daily !== undefined) options.limits = { dailyApiRequests: daily };
  }
  return options;
}

if (import.meta.main) await runStandalone('Salesforce sandbox', optionsFromArgs, startSandbox);
