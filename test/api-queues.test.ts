import assert from 'node:assert/strict';
import { cp } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { startSandbox } from '../connectors/hubspot/sandbox.ts';
import { createRecsync } from '../runtime/app.ts';
import { onCleanup } from './helpers/cleanup.ts';
import { copyConnectors, repoConnectors } from './helpers/connectors.ts';
import { useRedis } from './helpers/redis.ts';

// The queue dashboard at /queues (bull-board): behind the tokens, read-only, and it follows the
// connectors, including one that a reload brought in.
const redis = await useRedis();
const sandbox = await startSandbox({ limits: false });
onCleanup(() => sandbox.close());
const connectors = await copyConnectors(['hubspot']);
const secret = (role: string) => `${role}-secret-0123456789abcdef`;
const tokens = (['ingest', 'read', 'admin'] as const).map((role) => ({ name: `${role}-bot`, role, token: secret(role) }));
const recsync = await createRecsync({
  redisUrl: redis.url,
  // Salesforce is never called here: it only has to load when the reload brings it in.
  env: { ...sandbox.env, SALESFORCE_BASE_URL: 'http://127.0.0.1:9', SALESFORCE_TOKEN_URL: 'http://127.0.0.1:9/token', SALESFORCE_CLIENT_ID: 'x', SALESFORCE_CLIENT_SECRET: 'y', SALESFORCE_REFRESH_TOKEN: 'z' },
  connectorsDir: connectors.root,
  tokens,
  development: false,
  workers: false,
});
onCleanup(() => recsync.close());
const app = recsync.server!;

const call = (method: 'GET' | 'PUT' | 'POST', url: string, as?: string) =>
  app.inject({ method, url, headers: as === undefined ? {} : { authorization: `Bearer ${secret(as)}` }, ...(method === 'GET' ? {} : { payload: {} }) });
const queueNames = async () => ((await call('GET', '/queues/api/queues', 'read')).json() as { queues: Array<{ displayName: string; readOnlyMode: boolean }> }).queues;

describe('the queue dashboard', () => {
  it('needs a read token for the page, its assets and its API; refusals keep the error shape', async () => {
    for (const url of ['/queues', '/queues/api/queues', '/queues/static/images/logo.svg']) {
      const nobody = await call('GET', url);
      assert.equal(nobody.statusCode, 401, url);
      assert.equal(nobody.json().code, 'RECSYNC_ERR_UNAUTHORIZED', url);
      assert.equal((await call('GET', url, 'ingest')).json().code, 'RECSYNC_ERR_FORBIDDEN', url);
      assert.equal((await call('GET', url, 'read')).statusCode, 200, url);
    }
    assert.match((await call('GET', '/queues', 'read')).body, /<title>recsync queues<\/title>/);
  });

  it("the Redis server's statistics need admin", async () => {
    assert.equal((await call('GET', '/queues/api/redis/stats', 'read')).statusCode, 403);
    assert.equal((await call('GET', '/queues/api/redis/stats', 'admin')).statusCode, 200);
  });

  it("lists every connector's queue, read-only", async () => {
    assert.deepEqual((await queueNames()).map((q) => [q.displayName, q.readOnlyMode]), [['hubspot', true]]);
  });

  it('refuses every action: a read token may not ask, and for admin the board is read-only', async () => {
    const pause = `/queues/api/queues/${encodeURIComponent('{hubspot}')}/pause`;
    const asReader = await call('PUT', pause, 'read');
    assert.equal(asReader.statusCode, 403);
    assert.match(asReader.json().message, /needs admin/);
    assert.equal((await call('PUT', pause, 'admin')).statusCode, 405);
    assert.equal(await recsync.services.queues.isPaused('hubspot'), false, 'the queue was not paused');
  });

  it('shows the queue of a connector that a reload brought in', async () => {
    await cp(join(repoConnectors, 'salesforce'), join(connectors.root, 'salesforce'), { recursive: true });
    const reload = await call('POST', '/v1/connectors/salesforce/reload', 'admin');
    assert.equal(reload.statusCode, 200, reload.body);
    assert.deepEqual((await queueNames()).map((q) => q.displayName).sort(), ['hubspot', 'salesforce']);
  });
});
