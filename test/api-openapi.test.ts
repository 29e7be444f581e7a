import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { describe, it } from 'node:test';
import type { RouteOptions } from 'fastify';
import { startSandbox } from '../connectors/hubspot/sandbox.ts';
import { createRecsync } from '../runtime/app.ts';
import { buildServer } from '../runtime/http/server.ts';
import { taskSchema } from '../runtime/http/schemas.ts';
import { onCleanup } from './helpers/cleanup.ts';
import { copyConnectors } from './helpers/connectors.ts';
import { useRedis } from './helpers/redis.ts';

// The OpenAPI document at /docs/json: every route is in it with the role that guards it, the task
// schemas are those that validate, and the routes table of docs/reference/api.md says the same.
const redis = await useRedis();
const sandbox = await startSandbox({ limits: false });
onCleanup(() => sandbox.close());
const connectors = await copyConnectors(['hubspot']);
const secret = (role: string) => `${role}-secret-0123456789abcdef`;
const tokens = (['ingest', 'read', 'admin'] as const).map((role) => ({ name: `${role}-bot`, role, token: secret(role) }));
const auth = { tokens, host: '127.0.0.1', development: false };
const recsync = await createRecsync({ redisUrl: redis.url, env: sandbox.env, connectorsDir: connectors.root, tokens, development: false, api: false, workers: false });
onCleanup(() => recsync.close());
// A server of our own, to see every route as it is registered (plugins register theirs at ready).
const app = buildServer(recsync.services, { bodyLimit: 1024 * 1024, logger: false, auth });
const routes: RouteOptions[] = [];
app.addHook('onRoute', (route) => {
  routes.push(route);
});
await app.ready();
onCleanup(() => app.close());

const get = (url: string, as?: string) => app.inject({ method: 'GET', url, headers: as === undefined ? {} : { authorization: `Bearer ${secret(as)}` } });
const document = (await get('/docs/json', 'read')).json() as OpenApi;

interface Operation {
  'x-recsync-role'?: string;
  security?: unknown[];
  responses?: Record<string, { description?: string; content?: unknown }>;
  requestBody?: { content: Record<string, { schema: unknown }> };
  parameters?: Array<{ in: string; name: string; required?: boolean }>;
  summary?: string;
}
interface OpenApi {
  openapi: string;
  info: { title: string; version: string };
  paths: Record<string, Record<string, Operation>>;
  components: { schemas: Record<string, Record<string, unknown>>; securitySchemes: Record<string, { type: string; scheme?: string }> };
  security?: Array<Record<string, unknown>>;
}

const openApiPath = (url: string) => url.replace(/:(\w+)/g, '{$1}');
/** Routes of the API: not the UIs' own (Swagger UI's assets, bull-board's pages and API), not Fastify's implicit HEADs. */
const apiRoutes = () =>
  routes.flatMap((route) => [route.method].flat().map((method) => ({ method, url: route.url, role: route.config?.role ?? 'admin' }))).filter((r) => r.method !== 'HEAD' && !/^\/(docs|queues)(\/|$)/.test(r.url));

describe('the OpenAPI document', () => {
  it('is served at /docs/json and the UI at /docs, both for a read token only', async () => {
    for (const url of ['/docs', '/docs/json', '/docs/yaml', '/docs/static/swagger-ui.css']) {
      assert.equal((await get(url)).statusCode, 401, url);
      assert.equal((await get(url, 'ingest')).statusCode, 403, url);
      assert.equal((await get(url, 'read')).statusCode, 200, url);
    }
    assert.match((await get('/docs', 'read')).body, /swagger-ui/);
  });

  it('lists every route of the API with the role that guards it', () => {
    const seen = apiRoutes();
    assert.ok(seen.length >= 15, `${seen.length} routes`);
    for (const route of seen) {
      const operation = document.paths[openApiPath(route.url)]?.[route.method.toLowerCase()];
      assert.ok(operation, `${route.method} ${route.url} is missing from the document`);
      assert.equal(operation['x-recsync-role'], route.role, `${route.method} ${route.url}`);
      assert.ok(operation.summary, `${route.method} ${route.url} has a summary`);
      if (route.role === 'public') assert.deepEqual(operation.security, [], `${route.method} ${route.url} needs no token`);
      else {
        assert.equal(operation.security, undefined, `${route.method} ${route.url} inherits the bearer requirement`);
        for (const status of ['401', '403']) assert.ok(operation.responses?.[status], `${route.method} ${route.url} documents ${status}`);
      }
    }
    const documented = Object.entries(document.paths).flatMap(([path, methods]) => Object.keys(methods).map((method) => `${method.toUpperCase()} ${path}`));
    assert.deepEqual(documented.sort(), seen.map((r) => `${r.method} ${openApiPath(r.url)}`).sort(), 'and nothing else');
  });

  it('documents the task body with the schema that validates it, and the error shape', () => {
    const body = document.paths['/v1/tasks']!['post']!.requestBody!.content['application/json']!.schema as { oneOf: Array<Record<string, unknown>> };
    assert.deepEqual(body.oneOf[0], { $ref: '#/components/schemas/Task' });
    assert.deepEqual((body.oneOf[1]!['items'] as object), { $ref: '#/components/schemas/Task' });
    const task = document.components.schemas['Task']!;
    assert.deepEqual(task['properties'], taskSchema.properties);
    assert.deepEqual(task['required'], taskSchema.required);
    assert.equal(task['additionalProperties'], false);
    assert.deepEqual(Object.keys(document.components.schemas['Error']!['properties'] as object), ['code', 'message', 'details', 'errors']);
    assert.ok(document.paths['/v1/tasks']!['post']!.responses!['202']);
  });

  it('is a structurally valid OpenAPI 3.1 document', () => {
    assert.match(document.openapi, /^3\.1\.\d+$/);
    assert.equal(document.info.title, 'recsync');
    assert.match(document.info.version, /^\d+\.\d+\.\d+/);
    assert.deepEqual(document.components.securitySchemes['bearer'], { type: 'http', scheme: 'bearer', description: 'A token of api.tokens in config/runtime.yaml.' });
    assert.deepEqual(document.security, [{ bearer: [] }]);
    const methods = new Set(['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace']);
    const operationIds = new Set<string>();
    for (const [path, item] of Object.entries(document.paths)) {
      assert.match(path, /^\//);
      const pathParams = [...path.matchAll(/\{(\w+)\}/g)].map((m) => m[1]);
      for (const [method, operation] of Object.entries(item)) {
        assert.ok(methods.has(method), `${path}: ${method} is not an HTTP method`);
        assert.ok(operation.responses && Object.keys(operation.responses).length > 0, `${method} ${path} has responses`);
        for (const [status, response] of Object.entries(operation.responses)) {
          assert.match(status, /^([1-5]\d\d|[1-5]XX|default)$/, `${method} ${path} ${status}`);
          assert.equal(typeof response.description, 'string', `${method} ${path} ${status} has a description`);
        }
        const declared = (operation.parameters ?? []).filter((p) => p.in === 'path');
        assert.deepEqual(declared.map((p) => p.name).sort(), [...pathParams].sort(), `${method} ${path} declares its path parameters`);
        assert.ok(declared.every((p) => p.required === true), `${method} ${path}: path parameters are required`);
        const id = (operation as { operationId?: string }).operationId;
        if (id !== undefined) {
          assert.ok(!operationIds.has(id), `operationId ${id} is unique`);
          operationIds.add(id);
        }
      }
    }
    // Every $ref points into the document.
    const refs = JSON.stringify(document).match(/"\$ref":"[^"]*"/g) ?? [];
    assert.ok(refs.length > 0);
    for (const ref of refs) {
      const target = /"\$ref":"#\/components\/schemas\/([^"]+)"/.exec(ref);
      assert.ok(target && document.components.schemas[target[1]!], `${ref} resolves`);
    }
  });

  it('agrees with the routes table of docs/reference/api.md', async () => {
    const text = await readFile(new URL('../docs/reference/api.md', import.meta.url), 'utf8');
    const table = text.slice(text.indexOf('## Routes'), text.indexOf('\n## ', text.indexOf('## Routes') + 3));
    const rows = [...table.matchAll(/^\| (GET|POST|DELETE|PUT) \| `([^`]+)` \| (\w+) \|/gm)].map((m) => `${m[1]} ${openApiPath(m[2]!)} ${m[3] === 'none' ? 'public' : m[3]}`);
    const expected = apiRoutes().map((r) => `${r.method} ${openApiPath(r.url)} ${r.role}`);
    // The table also lists the two UIs, which the document leaves out.
    assert.deepEqual(rows.filter((row) => !/ \/(docs|queues) /.test(row)).sort(), expected.sort());
    assert.ok(rows.includes('GET /docs read') && rows.includes('GET /queues read'), 'the UIs are in the table');
  });
});
