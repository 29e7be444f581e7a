import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type IncomingMessage } from 'node:http';
import { describe, it } from 'node:test';
import { createCredentials } from '../runtime/credentials.ts';
import { isRecsyncError } from '../runtime/errors.ts';
import { onCleanup } from './helpers/cleanup.ts';

// A real token endpoint on loopback that records every grant it receives.
const grants: URLSearchParams[] = [];
let answer: (form: URLSearchParams) => { status: number; body: unknown } = () => ({ status: 200, body: { access_token: `at-${grants.length}`, expires_in: 1800 } });
const server = createServer(async (request: IncomingMessage, response) => {
  let text = '';
  for await (const chunk of request) text += String(chunk);
  const form = new URLSearchParams(text);
  grants.push(form);
  const { status, body } = answer(form);
  response.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
});
server.listen(0, '127.0.0.1');
await once(server, 'listening');
onCleanup(() => new Promise((resolve) => server.close(resolve)));
const tokenUrl = `http://127.0.0.1:${(server.address() as { port: number }).port}/token`;

const oauth = { type: 'oauth2' as const, grant: 'refresh_token' as const, tokenUrl, clientId: 'cid', clientSecret: 'very-secret', refreshToken: 'rt-1' };

describe('credentials', () => {
  it('a static bearer token is sent as is and cannot be refreshed', async () => {
    const credentials = createCredentials({ type: 'bearer', token: 'pat-1' });
    assert.deepEqual(await credentials.authorization(), { value: 'Bearer pat-1', generation: 0 });
    assert.equal(credentials.refreshable, false);
  });

  it('oauth2 obtains a token once for concurrent callers, with the refresh-token grant', async () => {
    grants.length = 0;
    const credentials = createCredentials(oauth, { timeoutMs: 1000 });
    const values = await Promise.all(Array.from({ length: 10 }, () => credentials.authorization()));
    assert.equal(grants.length, 1, 'one refresh at a time');
    assert.deepEqual(Object.fromEntries(grants[0]!), { grant_type: 'refresh_token', client_id: 'cid', client_secret: 'very-secret', refresh_token: 'rt-1' });
    assert.ok(values.every((v) => v.value === 'Bearer at-1' && v.generation === 1));
  });

  it('refreshes a minute before the announced expiry', async () => {
    grants.length = 0;
    let now = 0;
    const credentials = createCredentials(oauth, { timeoutMs: 1000, now: () => now });
    await credentials.authorization();
    now = (1800 - 61) * 1000;
    await credentials.authorization();
    assert.equal(grants.length, 1);
    now = (1800 - 59) * 1000;
    await credentials.authorization();
    assert.equal(grants.length, 2);
  });

  it('invalidating a refused token refreshes once, however many callers saw it refused', async () => {
    grants.length = 0;
    const credentials = createCredentials(oauth, { timeoutMs: 1000 });
    const { generation } = await credentials.authorization();
    credentials.invalidate(generation);
    credentials.invalidate(generation);
    const next = await credentials.authorization();
    assert.equal(next.generation, generation + 1);
    credentials.invalidate(generation); // a late refusal of the old token
    assert.equal((await credentials.authorization()).generation, generation + 1);
    assert.equal(grants.length, 2);
  });

  it('keeps a rotated refresh token, and uses client credentials with a scope', async () => {
    grants.length = 0;
    answer = () => ({ status: 200, body: { access_token: 'at', refresh_token: 'rt-2' } });
    const rotating = createCredentials(oauth, { timeoutMs: 1000 });
    const first = await rotating.authorization();
    rotating.invalidate(first.generation);
    await rotating.authorization();
    assert.equal(grants[1]!.get('refresh_token'), 'rt-2');
    const client = createCredentials({ type: 'oauth2', grant: 'client_credentials', tokenUrl, clientId: 'c', clientSecret: 's', scope: 'https://org.crm.dynamics.com/.default' }, { timeoutMs: 1000 });
    await client.authorization();
    assert.deepEqual(Object.fromEntries(grants[2]!), { grant_type: 'client_credentials', client_id: 'c', client_secret: 's', scope: 'https://org.crm.dynamics.com/.default' });
    answer = () => ({ status: 200, body: { access_token: `at-${grants.length}`, expires_in: 1800 } });
  });

  it('a refused grant is a RECSYNC_ERR_CRM_AUTH that names the reason and never the secrets', async () => {
    answer = () => ({ status: 400, body: { error: 'invalid_grant', error_description: 'expired access/refresh token' } });
    const credentials = createCredentials(oauth, { timeoutMs: 1000 });
    await assert.rejects(credentials.authorization(), (error: unknown) => {
      assert.ok(isRecsyncError(error));
      assert.equal(error.code, 'RECSYNC_ERR_CRM_AUTH');
      assert.match(error.message, /invalid_grant: expired access\/refresh token/);
      assert.doesNotMatch(error.message, /very-secret|rt-1/);
      return true;
    });
    answer = () => ({ status: 503, body: {} });
    await assert.rejects(credentials.authorization(), (error: unknown) => isRecsyncError(error) && error.code === 'RECSYNC_ERR_CRM_RETRYABLE');
    answer = () => ({ status: 200, body: { access_token: `at-${grants.length}`, expires_in: 1800 } });
  });
});
