import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { basename, dirname, join, relative, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import manifestSchema from '../../config/schemas/manifest.schema.json' with { type: 'json' };
import { interpolateEnv, missingEnvDetails } from '../config/env.ts';
import { createAjv, schemaErrors, type ValidateFunction } from '../config/json-schema.ts';
import { describe, maxConfigBytes, parseYamlFile, positionOf } from '../config/yaml-file.ts';
import { parseDuration } from '../duration.ts';
import { RecsyncError, type ErrorDetail } from '../errors.ts';
import { compileMapping as compileJsonata, type CompiledMapping } from '../mapping/index.ts';
import type { AuthConfig } from '../credentials.ts';
import type { Rule } from '../rules/rules.ts';
import type { Connector } from '../sdk/index.ts';

/** JSONata guardrails: a mapping that recurses or loops is stopped instead of blocking the worker. */
export const mappingLimits = { timeout: 250, stack: 200, sequence: 100_000 } as const;

export interface ObjectPlan {
  name: string;
  options: Readonly<Record<string, unknown>>;
  validateInput: ValidateFunction;
  validateOutput: ValidateFunction;
  /** Compiled to JavaScript when the expression allows it, else the jsonata interpreter (`compiled: false`). */
  mapping: CompiledMapping;
  /** The mapping's text, for naming the line of an evaluation error. */
  mappingSource: string;
  files: { input: string; output: string; mapping: string };
}

export interface RetryPolicy {
  attempts: number;
  /** A version older than this (since accepted) is dead-lettered instead of waiting or retrying again. */
  maxAgeMs: number;
  /** How long after a timeout a late write may still land at the CRM. */
  lateWriteWindowMs: number;
  initialMs: number;
  maxMs: number;
  jitter: 'full' | 'none';
}

export interface BreakerPolicy {
  errorThresholdPercentage: number;
  volumeThreshold: number;
  resetTimeoutMs: number;
  rollingWindowMs: number;
}

export type ConflictPolicy = 'lastWriter' | 'crm' | 'ours';

/**
 * An object's way back. It reuses the outbound plan's shape with the directions swapped:
 * `validateInput` checks the CRM object as read, `mapping` maps it to our model, and
 * `validateOutput` is the object's own input schema (our model).
 */
export interface InboundPlan extends ObjectPlan {
  conflict: ConflictPolicy;
  /** The CRM properties the outbound mapping writes (the output schema's properties): what is read back and fingerprinted. */
  properties: readonly string[];
}

export interface InboundConfig {
  /** Holds a secret: never logged nor returned by the API. */
  secret: string;
  publicUrl: string | undefined;
  sink: { url: string; token: string | undefined; timeoutMs: number };
  objects: ReadonlyMap<string, InboundPlan>;
}

/** One complete, validated and compiled version of a connector: swapped in whole or not at all. */
export interface ConnectorVersion {
  name: string;
  dir: string;
  manifestFile: string;
  /** Hash of the manifest and every file it references: the configuration version. */
  version: string;
  loadedAt: string;
  baseUrl: string;
  /** How to authenticate; holds secrets, so it is never logged nor returned by the API. */
  auth: AuthConfig;
  timeoutMs: number;
  concurrency: number;
  limits: Array<{ requests: number; perMs: number }>;
  retry: RetryPolicy;
  breaker: BreakerPolicy;
  objects: ReadonlyMap<string, ObjectPlan>;
  /** How change events become tasks; empty: the connector receives no events. */
  rules: readonly Rule[];
  /** The way back (webhooks), when the manifest declares it with a secret and the connector supports it. */
  inbound: InboundConfig | undefined;
  connector: Connector;
  /** The connector module's file. */
  connectorFile: string;
  /** The sandbox module's file (checked to exist, not imported: only `npm start` and tests start it). */
  sandboxFile: string | undefined;
}

interface RawManifest {
  name: string;
  connector: string;
  sandbox?: string;
  baseUrl: string;
  auth?: { type: 'bearer' | 'oauth2' | 'none'; token?: string; grant?: 'refresh_token' | 'client_credentials'; tokenUrl?: string; clientId?: string; clientSecret?: string; refreshToken?: string; scope?: string };
  timeout: string;
  concurrency: number;
  limits: Array<{ requests: number; per: string }>;
  retry: { attempts: number; maxAge: string; lateWriteWindow: string; backoff: { initial: string; max: string; jitter: 'full' | 'none' } };
  breaker: { errorThresholdPercentage: number; volumeThreshold: number; resetTimeout: string; rollingWindow: string };
  objects: Record<string, { input: string; output: string; mapping: string; options?: Record<string, unknown> }>;
  rules?: Array<{ name: string; when?: string; object?: string; action: Rule['action']; skipUnchanged: boolean }>;
  inbound?: { secret: string; publicUrl?: string; sink: { url: string; token?: string; timeout: string }; objects: Record<string, { input: string; mapping: string; conflict: ConflictPolicy }> };
}

// Manifests are small and written by the team: report every problem at once (allErrors), unlike request bodies.
const manifestAjv = createAjv({ useDefaults: true, allErrors: true });
const validateManifest = manifestAjv.compile(manifestSchema);

/**
 * Loads `<dir>/manifest.yaml` and everything it references, validates and compiles all of it, and
 * returns a complete version. Any problem throws a RecsyncError whose details name the file, the
 * line where known, and the reason; nothing partial is returned.
 */
export async function loadConnector(dir: string, env: Readonly<Record<string, string | undefined>> = process.env): Promise<ConnectorVersion> {
  const manifestFile = join(dir, 'manifest.yaml');
  const display = (file: string) => relative(process.cwd(), file) || file;
  const manifestText = await readText(manifestFile, display(manifestFile));
  const yaml = parseYamlFile(display(manifestFile), manifestText);
  const { value, missing } = interpolateEnv(yaml.value, env);
  const details: ErrorDetail[] = missingEnvDetails(yaml.file, missing, yaml.lineOf);
  if (!validateManifest(value)) {
    details.push(...schemaErrors(validateManifest.errors, { file: yaml.file, lineOf: yaml.lineOf }));
  }
  if (details.length > 0) fail(details);
  const manifest = value as RawManifest;
  if (manifest.name !== basename(dir)) {
    fail([withLine({ file: yaml.file, field: 'name', message: `must equal the folder name "${basename(dir)}"` }, yaml.lineOf(['name']))]);
  }

  const hash = createHash('sha256').update(manifestText);
  const ajv = createAjv();
  // One compiled validator per schema file: objects may share a file, and a schema's $id may be used once per instance.
  const validators = new Map<string, ValidateFunction>();
  const schemaOf = (text: string, file: string, display_: string) => {
    let validate = validators.get(file);
    if (!validate) {
      validate = compileSchema(ajv, text, display_);
      validators.set(file, validate);
    }
    return validate;
  };
  const objects = new Map<string, ObjectPlan>();
  for (const [name, spec] of Object.entries(manifest.objects)) {
    const files = { input: resolve(dir, spec.input), output: resolve(dir, spec.output), mapping: resolve(dir, spec.mapping) };
    const lineOf = (key: string) => yaml.lineOf(['objects', name, key]);
    const [inputText, outputText, mappingText] = await Promise.all([
      readText(files.input, display(files.input), yaml.file, lineOf('input')),
      readText(files.output, display(files.output), yaml.file, lineOf('output')),
      readText(files.mapping, display(files.mapping), yaml.file, lineOf('mapping')),
    ]);
    hash.update(`\0${spec.input}\0${inputText}\0${spec.output}\0${outputText}\0${spec.mapping}\0${mappingText}`);
    objects.set(name, {
      name,
      options: Object.freeze({ ...(spec.options ?? {}) }),
      validateInput: schemaOf(inputText, files.input, display(files.input)),
      validateOutput: schemaOf(outputText, files.output, display(files.output)),
      mapping: compileMapping(mappingText, display(files.mapping)),
      mappingSource: mappingText,
      files,
    });
  }

  const rules = compileRules(manifest, yaml);
  const inboundObjects = new Map<string, InboundPlan>();
  for (const [name, spec] of Object.entries(manifest.inbound?.objects ?? {})) {
    const outbound = objects.get(name);
    const lineOf = (key?: string) => yaml.lineOf(key === undefined ? ['inbound', 'objects', name] : ['inbound', 'objects', name, key]);
    if (!outbound) fail([withLine({ file: yaml.file, field: `inbound.objects.${name}`, message: `must be one of the objects ${JSON.stringify([...objects.keys()])}` }, lineOf())]);
    const files = { input: resolve(dir, spec.input), output: outbound.files.input, mapping: resolve(dir, spec.mapping) };
    const [inputText, mappingText] = await Promise.all([
      readText(files.input, display(files.input), yaml.file, lineOf('input')),
      readText(files.mapping, display(files.mapping), yaml.file, lineOf('mapping')),
    ]);
    hash.update(`\0in\0${spec.input}\0${inputText}\0${spec.mapping}\0${mappingText}\0${spec.conflict}`);
    const modelled = (outbound.validateOutput.schema as { properties?: Record<string, unknown> } | undefined)?.properties;
    inboundObjects.set(name, {
      name,
      options: outbound.options,
      validateInput: schemaOf(inputText, files.input, display(files.input)),
      validateOutput: outbound.validateInput,
      mapping: compileMapping(mappingText, display(files.mapping)),
      mappingSource: mappingText,
      files,
      conflict: spec.conflict,
      properties: Object.keys(modelled ?? {}),
    });
  }

  const connectorFile = resolve(dir, manifest.connector);
  const connectorText = await readText(connectorFile, display(connectorFile), yaml.file, yaml.lineOf(['connector']));
  hash.update(`\0${connectorText}`);
  const version = hash.digest('hex').slice(0, 12);
  const connector = await importConnector(connectorFile, display(connectorFile), version);
  const inbound = inboundOf(manifest, inboundObjects, connector, yaml, display(connectorFile));
  const sandboxFile = manifest.sandbox === undefined ? undefined : resolve(dir, manifest.sandbox);
  if (sandboxFile !== undefined) await readText(sandboxFile, display(sandboxFile), yaml.file, yaml.lineOf(['sandbox']));

  const numbers = (path: (string | number)[], text: string): number => {
    let ms: number;
    try {
      ms = parseDuration(text);
    } catch (error) {
      return fail([withLine({ file: yaml.file, field: path.join('.'), message: (error as Error).message }, yaml.lineOf(path))]);
    }
    if (ms <= 0) fail([withLine({ file: yaml.file, field: path.join('.'), message: 'must be longer than 0' }, yaml.lineOf(path))]);
    return ms;
  };
  const seen = new Set<string>();
  manifest.limits.forEach((limit, index) => {
    const key = `${limit.requests}/${numbers(['limits', index, 'per'], limit.per)}`;
    if (seen.has(key)) fail([withLine({ file: yaml.file, field: `limits.${index}`, message: 'repeats another window' }, yaml.lineOf(['limits', index]))]);
    seen.add(key);
  });
  return Object.freeze({
    name: manifest.name,
    dir,
    manifestFile,
    version,
    loadedAt: new Date().toISOString(),
    baseUrl: manifest.baseUrl.replace(/\/+$/, ''),
    auth: authOf(manifest.auth),
    timeoutMs: numbers(['timeout'], manifest.timeout),
    concurrency: manifest.concurrency,
    limits: manifest.limits.map((limit, index) => ({ requests: limit.requests, perMs: numbers(['limits', index, 'per'], limit.per) })),
    retry: {
      attempts: manifest.retry.attempts,
      maxAgeMs: numbers(['retry', 'maxAge'], manifest.retry.maxAge),
      lateWriteWindowMs: numbers(['retry', 'lateWriteWindow'], manifest.retry.lateWriteWindow),
      initialMs: numbers(['retry', 'backoff', 'initial'], manifest.retry.backoff.initial),
      maxMs: numbers(['retry', 'backoff', 'max'], manifest.retry.backoff.max),
      jitter: manifest.retry.backoff.jitter,
    },
    breaker: {
      errorThresholdPercentage: manifest.breaker.errorThresholdPercentage,
      volumeThreshold: manifest.breaker.volumeThreshold,
      resetTimeoutMs: numbers(['breaker', 'resetTimeout'], manifest.breaker.resetTimeout),
      rollingWindowMs: numbers(['breaker', 'rollingWindow'], manifest.breaker.rollingWindow),
    },
    objects,
    rules,
    inbound: inbound && { ...inbound, sink: { ...inbound.sink, timeoutMs: numbers(['inbound', 'sink', 'timeout'], manifest.inbound!.sink.timeout) } },
    connector,
    connectorFile,
    sandboxFile,
  });
}

/** Compiles the rules' conditions (to JavaScript where possible); names must be unique, objects declared. */
function compileRules(manifest: RawManifest, yaml: { file: string; lineOf(path: ReadonlyArray<string | number>): number | undefined }): Rule[] {
  const details: ErrorDetail[] = [];
  const names = new Set<string>();
  const rules = (manifest.rules ?? []).map((raw, index): Rule => {
    const at = (key?: string) => yaml.lineOf(key === undefined ? ['rules', index] : ['rules', index, key]);
    const field = (key: string) => `rules.${index}.${key}`;
    if (names.has(raw.name)) details.push(withLine({ file: yaml.file, field: field('name'), message: `"${raw.name}" is used by an earlier rule` }, at('name')));
    names.add(raw.name);
    if (raw.object !== undefined && !(raw.object in manifest.objects)) {
      details.push(withLine({ file: yaml.file, field: field('object'), message: `must be one of the objects ${JSON.stringify(Object.keys(manifest.objects))}` }, at('object')));
    }
    let when: CompiledMapping | undefined;
    if (raw.when !== undefined) {
      try {
        when = compileJsonata(raw.when, { ...mappingLimits });
      } catch (error) {
        const { code, message } = error as { code?: string; message: string };
        details.push(withLine({ file: yaml.file, field: field('when'), message: `JSONata ${code ?? 'error'}: ${message}` }, at('when')));
      }
    }
    const line = at();
    return { name: raw.name, when, object: raw.object, action: raw.action, skipUnchanged: raw.skipUnchanged, where: line === undefined ? yaml.file : `${yaml.file}:${line}` };
  });
  if (details.length > 0) fail(details);
  return rules;
}

/** Inbound is on when the manifest declares it with a non-empty secret; the connector must then support it. */
function inboundOf(
  manifest: RawManifest,
  objects: ReadonlyMap<string, InboundPlan>,
  connector: Connector,
  yaml: { file: string; lineOf(path: ReadonlyArray<string | number>): number | undefined },
  connectorFile: string,
): Omit<InboundConfig, 'sink'> & { sink: { url: string; token: string | undefined } } | undefined {
  const raw = manifest.inbound;
  if (raw === undefined || raw.secret === '') return undefined;
  if (connector.inbound === undefined) fail([withLine({ file: yaml.file, field: 'inbound', message: `${connectorFile} does not support inbound changes (its default export has no \`inbound\`)` }, yaml.lineOf(['inbound']))]);
  return { secret: raw.secret, publicUrl: raw.publicUrl, sink: { url: raw.sink.url, token: raw.sink.token === '' ? undefined : raw.sink.token }, objects };
}

function fail(details: ErrorDetail[]): never {
  throw new RecsyncError('RECSYNC_ERR_CONFIG_INVALID', describe(details), details);
}

function authOf(auth: RawManifest['auth']): AuthConfig {
  // The schema guarantees the fields each type requires.
  if (auth === undefined || auth.type === 'none') return { type: 'none' };
  if (auth.type === 'bearer') return { type: 'bearer', token: auth.token! };
  const oauth: AuthConfig = { type: 'oauth2', grant: auth.grant ?? 'refresh_token', tokenUrl: auth.tokenUrl!, clientId: auth.clientId!, clientSecret: auth.clientSecret! };
  if (auth.refreshToken !== undefined) oauth.refreshToken = auth.refreshToken;
  if (auth.scope !== undefined) oauth.scope = auth.scope;
  return oauth;
}

function withLine(detail: ErrorDetail, line: number | undefined): ErrorDetail {
  return line === undefined ? detail : { ...detail, line };
}

async function readText(file: string, display: string, referencedFrom?: string, line?: number): Promise<string> {
  try {
    const text = await readFile(file, 'utf8');
    if (Buffer.byteLength(text) > maxConfigBytes) throw new Error(`larger than ${maxConfigBytes} bytes`);
    return text;
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code === 'ENOENT' ? 'file not found' : (error as Error).message;
    const detail: ErrorDetail = referencedFrom === undefined ? { file: display, message: reason } : { file: referencedFrom, message: `${display}: ${reason}` };
    if (line !== undefined) detail.line = line;
    return fail([detail]);
  }
}

function compileSchema(ajv: ReturnType<typeof createAjv>, text: string, file: string): ValidateFunction {
  let schema: unknown;
  try {
    schema = JSON.parse(text);
  } catch (error) {
    const message = (error as Error).message;
    const offset = /position (\d+)/.exec(message);
    const line = offset ? positionOf(text, Number(offset[1])).line : undefined;
    return fail([line === undefined ? { file, message: `invalid JSON: ${message}` } : { file, line, message: `invalid JSON: ${message}` }]);
  }
  try {
    const validate = ajv.compile(schema as object);
    return validate;
  } catch (error) {
    return fail([{ file, message: `invalid JSON Schema: ${(error as Error).message}` }]);
  }
}

function compileMapping(text: string, file: string): CompiledMapping {
  try {
    return compileJsonata(text, { ...mappingLimits });
  } catch (error) {
    const { position, message, code } = error as { position?: number; message: string; code?: string };
    const detail: ErrorDetail = { file, message: `JSONata ${code ?? 'error'}: ${message}` };
    if (typeof position === 'number') {
      const at = positionOf(text, Math.max(0, position - 1));
      detail.line = at.line;
      detail.message += ` (column ${at.column})`;
    }
    return fail([detail]);
  }
}

async function importConnector(file: string, display: string, version: string): Promise<Connector> {
  let module: { default?: unknown };
  try {
    // The version in the URL makes a changed connector load afresh instead of from the module cache.
    module = (await import(`${pathToFileURL(file).href}?v=${version}`)) as { default?: unknown };
  } catch (error) {
    return fail([{ file: display, message: `cannot load the connector module: ${(error as Error).message}` }]);
  }
  const connector = module.default as Partial<Connector> | undefined;
  if (typeof connector?.upsert !== 'function' || typeof connector.delete !== 'function') {
    return fail([{ file: display, message: 'the default export must be defineConnector({ upsert, delete })' }]);
  }
  return connector as Connector;
}

export const manifestSchemaFile = resolve(dirname(new URL(import.meta.url).pathname), '../../config/schemas/manifest.schema.json');
