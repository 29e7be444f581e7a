import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { it } from 'node:test';
import { chromium, type BrowserContext } from 'playwright-core';
import { startSandbox } from '../../connectors/hubspot/sandbox.ts';
import { createRecsync } from '../../runtime/app.ts';
import { onCleanup } from '../helpers/cleanup.ts';
import { copyConnectors } from '../helpers/connectors.ts';
import { useRedis } from '../helpers/redis.ts';

// A real headless browser (Debian's chromium) loads the two operator pages with a read token, as
// an operator behind a header-injecting proxy would, and finds the connectors on them.
const executablePath = '/usr/bin/chromium';
assert.ok(existsSync(executablePath), `${executablePath} is missing: install it with \`apt-get install -y chromium\` (.ci/run does)`);

const redis = await useRedis();
const sandbox = await startSandbox({ limits: false });
onCleanup(() => sandbox.close());
const connectors = await copyConnectors(['hubspot']);
const token = 'read-secret-0123456789abcdef';
const recsync = await createRecsync({ redisUrl: redis.url, env: sandbox.env, connectorsDir: connectors.root, tokens: [{ name: 'browser', role: 'read', token }], development: false });
onCleanup(() => recsync.close());

const profile = await mkdtemp(join(tmpdir(), 'recsync-chromium-'));
onCleanup(() => rm(profile, { recursive: true, force: true }));
async function browser(headers: Record<string, string>): Promise<BrowserContext> {
  const context = await chromium.launchPersistentContext(await mkdtemp(join(profile, 'p-')), {
    executablePath,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    extraHTTPHeaders: headers,
  });
  onCleanup(() => context.close());
  return context;
}

it('/docs shows the connector routes in Swagger UI, /queues the hubspot queue in bull-board', async () => {
  const context = await browser({ authorization: `Bearer ${token}` });
  const page = await context.newPage();

  const docs = await page.goto(`${recsync.url}/docs`);
  assert.equal(docs?.status(), 200);
  // Swagger UI fetches /docs/json with the same header, then renders one block per operation.
  const pause = page.locator('.opblock-summary-path', { hasText: '/v1/connectors/{name}/pause' });
  await pause.first().waitFor({ timeout: 20_000 });
  const paths = await page.locator('.opblock-summary-path').allInnerTexts();
  for (const path of ['/v1/connectors', '/v1/connectors/{name}/reload', '/v1/connectors/{name}/dlq', '/v1/tasks', '/metrics']) {
    assert.ok(paths.some((text) => text.replace(/\u200b/g, '') === path), `${path} among ${JSON.stringify(paths)}`);
  }

  const queues = await page.goto(`${recsync.url}/queues`);
  assert.equal(queues?.status(), 200);
  // bull-board's page loads its API with the header too, and lists the queue by its display name.
  await page.getByText('hubspot', { exact: true }).first().waitFor({ timeout: 20_000 });
  assert.equal(await page.title(), 'recsync queues');
});

it('without a token the pages are refused, in the browser too', async () => {
  const context = await browser({});
  const page = await context.newPage();
  for (const path of ['/docs', '/queues']) {
    const response = await page.goto(`${recsync.url}${path}`);
    assert.equal(response?.status(), 401, path);
    assert.match(await page.content(), /RECSYNC_ERR_UNAUTHORIZED/);
  }
});
