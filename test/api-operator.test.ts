import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { startSandbox } from '../connectors/hubspot/sandbox.ts';
import { createRecsync } from '../runtime/app.ts';
import type { Role } from '../runtime/http/auth.ts';
import { onCleanup } from './helpers/cleanup.ts';
import { copyConnectors } from './helpers/connectors.ts';
import { pollUntil } from './helpers/poll.ts';
import { useRedis } from './helpers/redis.ts';

const redis = await useRedis();
const sandbox = await startSandbox({ limits: false });
onCleanup(() => sandbox.close());
const connectors = await copyConnectors(['hubspot']);
const secret = (role: string) => `${role}-secret-0123456789abcdef`;
const tokens = (['ingest', 'read', 'operate', 'admin'] as const).map((role) => ({ name: `${role}-bot`, role, token: secret(role) }));
const recsync = await createRecsync({ redisUrl: redis.url, env: sandbox.env, connectorsDir: connectors.root, tokens, development: false });
onCleanup(() => recsync.close());
const app = recsync.server!;

async function api(method: 'GET' | 'POST' | 'DELETE', url: string, options: { as?: Role | 'nobody' | 'stranger'; payload?: unknown } = {}) {
  const as = options.as ?? 'admin';
  const headers: Record<string, string> = {};
  if (as === 'stranger') headers['authorization'] = `Bearer ${secret('stranger')}`;
  else if (as !== 'nobody') headers['authorization'] = `Bearer ${secret(as)}`;
  const response = await app.inject({ method, url, headers, ...(options.payload === undefined ? {} : { payload: options.payload as object }) });
  return { status: response.statusCode, headers: response.headers, body: response.body === '' ? undefined : (response.json() as any) };
}

const task = { connector: 'hubspot', object: 'contact', action: 'upsert', recordId: 'op-1', version: 1, payload: { email: 'op-1@example.com', firstName: 'Op' } };

// Every route of the API, the role it needs, and a role that is not enough.
const routes: Array<{ method: 'GET' | 'POST' | 'DELETE'; url: string; needs: Role; weaker: Role; payload?: unknown }> = [
  { method: 'POST', url: '/v1/tasks', needs: 'ingest', weaker: 'read', payload: task },
  { method: 'GET', url: '/v1/records/hubspot/op-1?object=contact', needs: 'read', weaker: 'ingest' },
  { method: 'GET', url: '/v1/connectors', needs: 'read', weaker: 'ingest' },
  { method: 'GET', url: '/v1/connectors/hubspot', needs: 'read', weaker: 'ingest' },
  { method: 'POST', url: '/v1/connectors/hubspot/dry-run', needs: 'read', weaker: 'ingest', payload: { object: 'contact', payload: task.payload } },
  { method: 'POST', url: '/v1/connectors/hubspot/pause', needs: 'operate', weaker: 'read' },
  { method: 'POST', url: '/v1/connectors/hubspot/resume', needs: 'operate', weaker: 'read' },
  { method: 'POST', url: '/v1/connectors/hubspot/reload', needs: 'operate', weaker: 'read' },
  { method: 'GET', url: '/v1/connectors/hubspot/dlq', needs: 'read', weaker: 'ingest' },
  { method: 'GET', url: '/v1/connectors/hubspot/dlq/default%7Ccontact%7Cx%7C1', needs: 'read', weaker: 'ingest' },
  { method: 'POST', url: '/v1/connectors/hubspot/dlq/replay', needs: 'operate', weaker: 'read', payload: { all: true } },
  { method: 'DELETE', url: '/v1/connectors/hubspot/dlq/default%7Ccontact%7Cx%7C1', needs: 'admin', weaker: 'operate' },
  { method: 'GET', url: '/v1/audit', needs: 'admin', weaker: 'operate' },
];

describe('tokens and roles', () => {
  for (const route of routes) {
    it(`${route.method} ${route.url}: no token 401, unknown token 401, ${route.weaker} 403, ${route.needs} and admin allowed`, async () => {
      const payload = route.payload;
      const nobody = await api(route.method, route.url, { as: 'nobody', payload });
      assert.equal(nobody.status, 401);
      assert.equal(nobody.body.code, 'RECSYNC_ERR_UNAUTHORIZED');
      assert.match(String(nobody.headers['www-authenticate']), /^Bearer/);
      assert.equal((await api(route.method, route.url, { as: 'stranger', payload })).status, 401);
      const weak = await api(route.method, route.url, { as: route.weaker, payload });
      assert.equal(weak.status, 403);
      assert.equal(weak.body.code, 'RECSYNC_ERR_FORBIDDEN');
      assert.match(weak.body.message, new RegExp(`needs ${route.needs}`));
      for (const as of new Set([route.needs, 'admin' as const])) {
        const allowed = await api(route.method, route.url, { as, payload });
        assert.ok(![401, 403].includes(allowed.status), `${as}: ${allowed.status} ${JSON.stringify(allowed.body)}`);
      }
    });
  }

  it('health checks need no token', async () => {
    assert.equal((await api('GET', '/healthz', { as: 'nobody' })).status, 200);
    assert.equal((await api('GET', '/readyz', { as: 'nobody' })).status, 200);
  });

  it('an unknown route needs a token too (no route discovery without one)', async () => {
    assert.equal((await api('GET', '/v1/nothing', { as: 'nobody' })).status, 401);
  });

  it('a token never appears in an answer', async () => {
    const everything = JSON.stringify(await Promise.all(routes.filter((r) => r.method === 'GET').map((r) => api('GET', r.url))));
    for (const token of tokens) assert.ok(!everything.includes(token.token));
  });
});

describe('starting without tokens', () => {
  it('is allowed on loopback in development mode, where every caller is admin and the status says so', async () => {
    const open = await createRecsync({ redisUrl: redis.url, env: sandbox.env, connectorsDir: connectors.root, workers: false, development: true, prefix: 'open' });
    onCleanup(() => open.close());
    const response = await open.server!.inject({ method: 'GET', url: '/v1/connectors' });
    assert.equal(response.statusCode, 200);
    assert.match(response.json().warning, /WITHOUT tokens/);
  });

  for (const [label, options] of [
    ['on a non-loopback address', { host: '0.0.0.0', development: true }],
    ['in production mode, even on loopback', { host: '127.0.0.1', development: false }],
  ] as const) {
    it(`is refused ${label}, with the setting named`, async () => {
      await assert.rejects(createRecsync({ redisUrl: redis.url, connectorsDir: connectors.root, workers: false, ...options }), (error: Error & { code?: string; details?: Array<{ field?: string }> }) => {
        assert.equal(error.code, 'RECSYNC_ERR_CONFIG_INVALID');
        assert.equal(error.details?.[0]?.field, 'api.tokens');
        return true;
      });
    });
  }

  it('refuses a short token and a secret used twice', async () => {
    await assert.rejects(createRecsync({ redisUrl: redis.url, connectorsDir: connectors.root, workers: false, tokens: [{ name: 'x', role: 'read', token: 'short' }] }), /api\.tokens\[0\]\.token \(x\) must be at least 16 characters/);
    const twice = [{ name: 'a', role: 'read' as const, token: secret('same') }, { name: 'b', role: 'admin' as const, token: secret('same') }];
    await assert.rejects(createRecsync({ redisUrl: redis.url, connectorsDir: connectors.root, workers: false, tokens: twice }), /api\.tokens\[1\]\.token \(b\) is the same secret/);
  });
});

describe('operating a connector', () => {
  it('pause holds deliveries (the job waits, the state says paused), resume delivers; both are in the audit log', async () => {
    assert.equal((await api('POST', '/v1/connectors/hubspot/pause', { as: 'operate' })).status, 200);
    assert.equal((await api('GET', '/v1/connectors/hubspot', { as: 'read' })).body.state, 'paused');
    const before = sandbox.stats().requests;
    assert.equal((await api('POST', '/v1/tasks', { as: 'ingest', payload: { ...task, recordId: 'paused-1' } })).status, 202);
    // The job sits in the paused queue: nothing takes it.
    await pollUntil(async () => ((await api('GET', '/v1/connectors/hubspot', { as: 'read' })).body.queue.waiting >= 1 ? true : undefined), { timeoutMs: 5000 });
    assert.equal(sandbox.stats().requests, before, 'nothing reached the CRM while paused');
    assert.equal((await api('POST', '/v1/connectors/hubspot/resume', { as: 'operate' })).status, 200);
    await pollUntil(async () => ((await recsync.services.store.status({ connector: 'hubspot', tenant: 'default', object: 'contact', recordId: 'paused-1' }))?.deliveredVersion === 1 ? true : undefined), { timeoutMs: 10_000 });
    const audit = (await api('GET', '/v1/audit?limit=10', { as: 'admin' })).body.items as Array<{ who: string; role: string; action: string; target: Record<string, string>; status: number; at: string }>;
    const mine = audit.filter((e) => e.action === 'connector.pause' || e.action === 'connector.resume').slice(0, 2);
    assert.deepEqual(mine.map((e) => [e.action, e.who, e.role, e.target, e.status]), [
      ['connector.resume', 'operate-bot', 'operate', { name: 'hubspot' }, 200],
      ['connector.pause', 'operate-bot', 'operate', { name: 'hubspot' }, 200],
    ]);
    assert.ok(mine.every((e) => Math.abs(Date.parse(e.at) - Date.now()) < 60_000));
  });

  it('a refused attempt is audited with its status; reads are not audited', async () => {
    await api('POST', '/v1/connectors/hubspot/pause', { as: 'read' });
    await api('GET', '/v1/connectors', { as: 'read' });
    const [latest] = (await api('GET', '/v1/audit?limit=1')).body.items;
    assert.deepEqual([latest.action, latest.who, latest.status], ['connector.pause', 'read-bot', 403]);
  });

  it('dry-run shows what the CRM would receive, or which stage refused the record, and sends nothing', async () => {
    const before = sandbox.stats().requests;
    const ok = await api('POST', '/v1/connectors/hubspot/dry-run', { as: 'read', payload: { object: 'contact', recordId: 'dry', payload: { email: 'dry@example.com', firstName: 'Dry' } } });
    assert.equal(ok.status, 200);
    assert.equal(ok.body.ok, true);
    assert.equal(ok.body.record.email, 'dry@example.com');
    assert.equal(ok.body.configVersion, recsync.services.registry.get('hubspot')!.version);
    const bad = await api('POST', '/v1/connectors/hubspot/dry-run', { as: 'read', payload: { object: 'contact', payload: { firstName: 'No email' } } });
    assert.deepEqual([bad.body.ok, bad.body.stage, bad.body.error.code], [false, 'validate-input', 'RECSYNC_ERR_INPUT_INVALID']);
    const unknown = await api('POST', '/v1/connectors/hubspot/dry-run', { as: 'read', payload: { object: 'lead', payload: {} } });
    assert.deepEqual([unknown.body.ok, unknown.body.error.code], [false, 'RECSYNC_ERR_UNKNOWN_OBJECT']);
    assert.equal(sandbox.stats().requests, before);
  });

  it('reload swaps in a changed mapping; a broken one is refused with file and line and the old version keeps serving', async () => {
    const old = recsync.services.registry.get('hubspot')!.version;
    const same = await api('POST', '/v1/connectors/hubspot/reload', { as: 'operate' });
    assert.deepEqual([same.status, same.body.version, same.body.changed], [200, old, false]);

    await connectors.edit('hubspot/mappings/contact.jsonata', (text) => text.replace('"firstname":', '"firstname": "R-" & '));
    const changed = await api('POST', '/v1/connectors/hubspot/reload', { as: 'operate' });
    assert.equal(changed.status, 200);
    assert.equal(changed.body.changed, true);
    assert.notEqual(changed.body.version, old);
    const preview = await api('POST', '/v1/connectors/hubspot/dry-run', { payload: { object: 'contact', payload: { email: 'r@example.com', firstName: 'Ada' } } });
    assert.equal(preview.body.record.firstname, 'R-Ada');

    await connectors.edit('hubspot/mappings/contact.jsonata', (text) => `${text}\n  ( broken`);
    const refused = await api('POST', '/v1/connectors/hubspot/reload', { as: 'operate' });
    assert.equal(refused.status, 422);
    assert.equal(refused.body.code, 'RECSYNC_ERR_CONFIG_REFUSED');
    assert.equal(refused.body.version, changed.body.version);
    assert.match(refused.body.details[0].file, /mappings\/contact\.jsonata$/);
    assert.ok(refused.body.details[0].line > 0, 'the line is named');
    const status = (await api('GET', '/v1/connectors/hubspot', { as: 'read' })).body;
    assert.deepEqual([status.state, status.version], ['running', changed.body.version]);
    assert.match(status.errors[0].file, /contact\.jsonata$/);
    assert.equal((await api('POST', '/v1/connectors/nope/reload', { as: 'operate' })).status, 404);
  });

  it('status reports each instance and the version it runs', async () => {
    const status = (await api('GET', '/v1/connectors/hubspot', { as: 'read' })).body;
    assert.equal(status.instances.length, 1, 'one instance on this prefix (several: test/e2e/operator.test.ts)');
    const me = status.instances.find((i: { id: string }) => i.id === recsync.services.config.id);
    assert.equal(me.version, status.version);
    assert.equal(me.pid, process.pid);
  });
});
