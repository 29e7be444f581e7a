import { readFile } from 'node:fs/promises';
import { relative } from 'node:path';
import runtimeSchema from '../../config/schemas/runtime.schema.json' with { type: 'json' };
import { RecsyncError } from '../errors.ts';
import type { ApiToken } from '../http/auth.ts';
import { interpolateEnv, missingEnvDetails } from './env.ts';
import { createAjv, schemaErrors } from './json-schema.ts';
import { describe, parseYamlFile } from './yaml-file.ts';

export interface RuntimeConfig {
  server: { host: string; port: number; bodyLimit: number };
  redis: { prefix: string };
  connectors: string;
  dataDir: string;
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  api: { tokens: ApiToken[] };
  watch: boolean;
}

const validate = createAjv({ useDefaults: true, allErrors: true }).compile(runtimeSchema);

/** Reads config/runtime.yaml, applies defaults and the environment's overrides; errors name the line. */
export async function loadRuntimeConfig(file: string, env: Readonly<Record<string, string | undefined>> = process.env): Promise<RuntimeConfig> {
  const display = relative(process.cwd(), file) || file;
  const yaml = parseYamlFile(display, await readFile(file, 'utf8'));
  // Secrets (API tokens) come from the environment: `${VAR}` in the file.
  const interpolated = interpolateEnv(yaml.value ?? {}, env);
  if (interpolated.missing.length > 0) {
    const details = missingEnvDetails(display, interpolated.missing, yaml.lineOf);
    throw new RecsyncError('RECSYNC_ERR_CONFIG_INVALID', describe(details), details);
  }
  const value = interpolated.value as Record<string, unknown>;
  // The environment overrides the file, and is checked by the same schema.
  const server = { ...((value['server'] as Record<string, unknown> | undefined) ?? {}) };
  if (env['RECSYNC_HOST']) server['host'] = env['RECSYNC_HOST'];
  if (env['RECSYNC_PORT']) server['port'] = /^\d+$/.test(env['RECSYNC_PORT']) ? Number(env['RECSYNC_PORT']) : env['RECSYNC_PORT'];
  value['server'] = server;
  if (env['RECSYNC_DATA_DIR']) value['dataDir'] = env['RECSYNC_DATA_DIR'];
  if (env['RECSYNC_LOG_LEVEL']) value['logLevel'] = env['RECSYNC_LOG_LEVEL'];
  if (!validate(value)) {
    const details = schemaErrors(validate.errors, { file: display, lineOf: yaml.lineOf });
    throw new RecsyncError('RECSYNC_ERR_CONFIG_INVALID', describe(details), details);
  }
  return value as unknown as RuntimeConfig;
}
