import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { it } from 'node:test';
import { onCleanup } from '../helpers/cleanup.ts';
import { pollUntil } from '../helpers/poll.ts';

// README's first command, as a user runs it: no REDIS_URL, no HUBSPOT_BASE_URL.
it('npm start brings up a private Redis, the HubSpot sandbox and the API, delivers a task, and stops cleanly on SIGTERM', async () => {
  const dataDir = await mkdtemp(join(tmpdir(), 'recsync-start-'));
  onCleanup(() => rm(dataDir, { recursive: true, force: true }));
  const env: Record<string, string> = { ...(process.env as Record<string, string>), RECSYNC_PORT: '0', RECSYNC_DATA_DIR: dataDir, RECSYNC_LOG_LEVEL: 'warn' };
  delete env['REDIS_URL'];
  delete env['HUBSPOT_BASE_URL'];
  delete env['HUBSPOT_TOKEN'];
  const child = spawn(process.execPath, [new URL('../../runtime/bin/start.ts', import.meta.url).pathname], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  const exited = once(child, 'exit');
  onCleanup(() => {
    if (child.exitCode === null) child.kill('SIGKILL');
  });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));

  const url = await pollUntil(() => /recsync is serving (http:\/\/127\.0\.0\.1:\d+)/.exec(output)?.[1], { timeoutMs: 30_000, describe: () => output });
  assert.match(output, /started a private redis-server at redis:\/\/127\.0\.0\.1:\d+ \(AOF in /);
  assert.match(output, /started the hubspot sandbox at http:\/\/127\.0\.0\.1:\d+/);
  assert.match(output, /curl -s -X POST/);
  assert.match(output, /In a browser: http:\/\/127\.0\.0\.1:\d+\/docs/);

  const task = { connector: 'hubspot', object: 'contact', action: 'upsert', recordId: 'c-1', version: 1, payload: { email: 'ada@example.com', firstName: 'Ada' } };
  const accepted = await fetch(`${url}/v1/tasks`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(task) });
  assert.equal(accepted.status, 202);
  const status = await pollUntil(
    async () => {
      const body = (await (await fetch(`${url}/v1/records/hubspot/c-1?object=contact`)).json()) as { deliveredVersion: number | null; crmId: string | null };
      return body.deliveredVersion === 1 ? body : undefined;
    },
    { timeoutMs: 15_000 },
  );
  assert.match(status.crmId ?? '', /^\d+$/);
  assert.equal((await fetch(`${url}/readyz`)).status, 200);

  child.kill('SIGTERM');
  const [code] = await exited;
  assert.equal(code, 0, output);
  assert.match(output, /SIGTERM: finishing in-flight work and stopping/);
});
