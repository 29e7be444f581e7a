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
export { Arrivals } from './window.ts';

/** Parses a whole-number command-line flag; undefined when absent, a TypeError when not a whole number. */
export function intFlag(name: string, raw: string | undefined): number | undefined {
  if (raw === undefined) return undefined;
  if (!/^\d+$/.test(raw)) throw new TypeError(`--${name} needs a whole number, got ${raw}`);
  return Number(raw);
}

/**
 * Runs a sandbox as a standalone process: `parse` turns the process arguments into options (any error
 * it throws is a usage error: message on stderr, exit code 2), `start` starts the sandbox; its env lines
 * are printed under `title`, then it serves until SIGINT or SIGTERM.
 */
export async function runStandalone<O, S extends { env: Record<string, string>; close(): Promise<void> }>(
  title: string,
  parse: (args: string[]) => O,
  start: (options: O) => Promise<S>,
): Promise<S | undefined> {
  let options: O;
  try {
    options = parse(process.argv.slice(2));
  } catch (error) {
    process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 2;
    return undefined;
  }
  const sandbox = await start(options);
  process.stdout.write(`${title} listening\n${Object.entries(sandbox.env).map(([k, v]) => `${k}=${v}`).join('\n')}\n`);
  const stop = (): void => {
    sandbox.close().then(
      () => process.exit(0),
      (error: unknown) => {
        process.stderr.write(`error while closing: ${String(error)}\n`);
        process.exit(1);
      },
    );
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  return sandbox;
}
