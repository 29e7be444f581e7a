import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:net';
import { describe, it } from 'node:test';
import { startSandbox } from '../../connectors/hubspot/sandbox.ts';
import { createRecsync } from '../../runtime/app.ts';
import { onCleanup } from '../helpers/cleanup.ts';
import { copyConnectors } from '../helpers/connectors.ts';
import { pollUntil } from '../helpers/poll.ts';
import { useRedis } from '../helpers/redis.ts';

// recsyncctl as an operator runs it: its own process, against a running recsync over HTTP.
const cli = new URL('../../runtime/bin/recsyncctl.ts', import.meta.url).pathname;
const redis = await useRedis();
const sandbox = await startSandbox({ limits: false });
onCleanup(() => sandbox.close());
const connectors = await copyConnectors(['hubspot']);
const secret = (role: string) => `${role}-secret-0123456789abcdef`;
const tokens = (['ingest', 'read', 'operate', 'admin'] as const).map((role) => ({ name: `${role}-bot`, role, token: secret(role) }));
const recsync = await createRecsync({ redisUrl: redis.url, env: sandbox.env, connectorsDir: connectors.root, tokens, development: false });
onCleanup(() => recsync.close());

async function ctl(args: string[], options: { as?: string; url?: string } = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  const env: Record<string, string | undefined> = { ...process.env, RECSYNC_URL: options.url ?? recsync.url!, RECSYNC_TOKEN: options.as === undefined ? undefined : secret(options.as) };
  const child = spawn(process.execPath, [cli, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const [code] = (await once(child, 'exit')) as [number];
  return { code, stdout, stderr };
}

async function ingest(task: object) {
  const response = await fetch(`${recsync.url}/v1/tasks`, { method: 'POST', headers: { authorization: `Bearer ${secret('ingest')}`, 'content-type': 'application/json' }, body: JSON.stringify(task) });
  assert.equal(response.status, 202);
}
const contact = (recordId: string) => ({ connector: 'hubspot', object: 'contact', action: 'upsert', recordId, version: 1, payload: { email: `${recordId}@example.com`, firstName: 'C' } });

describe('recsyncctl', () => {
  it('exits 2 with the usage for a wrong command line, before calling anything', async () => {
    for (const args of [[], ['frobnicate'], ['pause'], ['dlq', 'replay', 'hubspot'], ['dlq', 'replay', 'hubspot', '--all', '--id', 'x'], ['status', '--bogus'], ['dlq', 'peek', 'hubspot']]) {
      const result = await ctl(args, { as: 'admin' });
      assert.equal(result.code, 2, `${args.join(' ')}: ${result.stderr}`);
      assert.match(result.stderr, /usage: recsyncctl/);
      assert.equal(result.stdout, '');
    }
  });

  it('status: a table of every connector, one in detail, or the JSON', async () => {
    const all = await ctl(['status'], { as: 'read' });
    assert.equal(all.code, 0, all.stderr);
    const [header, row] = all.stdout.trim().split('\n');
    assert.match(header!, /^NAME\s+STATE\s+VERSION\s+WAITING\s+ACTIVE\s+DELAYED\s+FAILED\s+ACCEPTED\s+DELIVERED\s+DEAD\s+OPEN\s+BREAKERS$/);
    assert.match(row!, new RegExp(`^hubspot\\s+running\\s+${recsync.services.registry.get('hubspot')!.version}\\s+0\\s+0\\s+0\\s+0\\s`));
    const one = await ctl(['status', 'hubspot'], { as: 'read' });
    assert.equal(one.code, 0);
    assert.match(one.stdout, /^ID\s+HOST\s+PID\s+VERSION$/m);
    assert.match(one.stdout, /rate budget \(hubspot:default\)/);
    const json = await ctl(['--json', 'status'], { as: 'read' });
    assert.equal(JSON.parse(json.stdout).connectors[0].name, 'hubspot');
  });

  it("exits 1 with the API's code and message when it refuses", async () => {
    const forbidden = await ctl(['pause', 'hubspot'], { as: 'read' });
    assert.equal(forbidden.code, 1);
    assert.match(forbidden.stderr, /^recsyncctl: RECSYNC_ERR_FORBIDDEN: the token "read-bot" has the role read; .* needs operate/);
    const unknown = await ctl(['status', 'nope'], { as: 'read' });
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /RECSYNC_ERR_UNKNOWN_CONNECTOR: unknown connector "nope"\n  name: not loaded/);
    assert.match((await ctl(['status'])).stderr, /RECSYNC_ERR_UNAUTHORIZED/);
    // Nothing listens on a port we just freed.
    const probe = createServer().listen(0, '127.0.0.1');
    await once(probe, 'listening');
    const port = (probe.address() as { port: number }).port;
    await new Promise((resolve) => probe.close(resolve));
    const unreachable = await ctl(['status'], { as: 'read', url: `http://127.0.0.1:${port}` });
    assert.equal(unreachable.code, 1);
    assert.match(unreachable.stderr, /UNREACHABLE: cannot reach http:\/\/127\.0\.0\.1:\d+ .*ECONNREFUSED/);
  });

  it('pause, resume and reload steer the connector; the audit log shows who did it', async () => {
    const paused = await ctl(['pause', 'hubspot'], { as: 'operate' });
    assert.deepEqual([paused.code, paused.stdout], [0, 'hubspot: paused\n']);
    assert.equal(await recsync.services.queues.isPaused('hubspot'), true);
    assert.equal((await ctl(['resume', 'hubspot'], { as: 'operate' })).stdout, 'hubspot: running\n');
    assert.equal(await recsync.services.queues.isPaused('hubspot'), false);
    const reload = await ctl(['reload', 'hubspot'], { as: 'operate' });
    assert.equal(reload.code, 0);
    assert.equal(reload.stdout, `hubspot: version ${recsync.services.registry.get('hubspot')!.version} (unchanged)\n`);

    await connectors.edit('hubspot/mappings/contact.jsonata', (text) => `${text}\n  ( broken`);
    const refused = await ctl(['reload', 'hubspot'], { as: 'operate' });
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /RECSYNC_ERR_CONFIG_REFUSED: the new configuration of hubspot does not load/);
    assert.match(refused.stderr, /\n {2}\S*contact\.jsonata:\d+/, 'each error names its file and line');
    await connectors.edit('hubspot/mappings/contact.jsonata', (text) => text.replace('\n  ( broken', ''));

    const audit = await ctl(['audit', '--limit', '5'], { as: 'admin' });
    assert.equal(audit.code, 0);
    const rows = audit.stdout.trim().split('\n');
    assert.match(rows[0]!, /^AT\s+WHO\s+ROLE\s+ACTION\s+TARGET\s+STATUS$/);
    assert.match(rows[1]!, /operate-bot\s+operate\s+connector\.reload\s+hubspot\s+422$/);
    assert.ok(rows.some((row) => /operate-bot\s+operate\s+connector\.pause\s+hubspot\s+200$/.test(row)));
    assert.equal((await ctl(['audit'], { as: 'operate' })).code, 1, 'the audit log is for admin');
  });

  it('dlq list filters by code; dlq replay by id sends the letter again', async () => {
    sandbox.injectFault({ match: { pathPrefix: '/crm/v3/objects/contacts' }, status: 400, body: { status: 'error', message: 'Property values were not valid', category: 'VALIDATION_ERROR', correlationId: 'c-1' } });
    await ingest(contact('ctl-dead'));
    const id = 'default|contact|ctl-dead|1';
    await pollUntil(async () => (await recsync.services.store.getDeadLetter('hubspot', id)) ?? undefined, { timeoutMs: 10_000 });

    const list = await ctl(['dlq', 'list', 'hubspot', '--code', 'RECSYNC_ERR_CRM_REJECTED'], { as: 'read' });
    assert.equal(list.code, 0, list.stderr);
    assert.match(list.stdout, /^ID\s+STATE\s+AT\s+CODE\s+MESSAGE$/m);
    assert.match(list.stdout, new RegExp(`^${id.replaceAll('|', '\\|')}\\s+dead\\s+\\S+\\s+RECSYNC_ERR_CRM_REJECTED\\s+HubSpot 400`, 'm'));
    assert.match(list.stdout, /1 shown, 1 in the queue$/m);
    assert.match((await ctl(['dlq', 'list', 'hubspot', '--code', 'RECSYNC_ERR_CRM_AUTH'], { as: 'read' })).stdout, /^\(none\)\n0 shown, 1 in the queue/);
    assert.equal((await ctl(['dlq', 'list', 'hubspot', '--limit', '0'], { as: 'read' })).code, 1, 'the API refuses limit 0');

    const replay = await ctl(['dlq', 'replay', 'hubspot', '--id', id, '--id', 'bogus'], { as: 'operate' });
    assert.equal(replay.code, 0, replay.stderr);
    assert.match(replay.stdout, /^replayed 1, superseded 0, skipped 1$/m);
    assert.match(replay.stdout, /^bogus\s+skipped\s+not a dead-letter id$/m);
    await pollUntil(async () => ((await recsync.services.store.status({ connector: 'hubspot', tenant: 'default', object: 'contact', recordId: 'ctl-dead' }))?.deliveredVersion === 1 ? true : undefined), { timeoutMs: 10_000 });
    const again = await ctl(['--json', 'dlq', 'replay', 'hubspot', '--all'], { as: 'operate' });
    assert.equal(JSON.parse(again.stdout).replayed, 0);
  });
});
