import assert from 'node:assert/strict';
import { it } from 'node:test';
import { startSandbox } from '../connectors/hubspot/sandbox.ts';

async function createOne(options: Parameters<typeof startSandbox>[0]): Promise<string> {
  const sandbox = await startSandbox(options);
  try {
    const response = await fetch(`${sandbox.url}/crm/v3/objects/contacts`, {
      method: 'POST',
      headers: { authorization: `Bearer ${sandbox.token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ properties: { email: 'ids@example.com' } }),
    });
    return ((await response.json()) as { id: string }).id;
  } finally {
    await sandbox.close();
  }
}

it('starts ids at 1001 by default, at firstId when given', async () => {
  assert.equal(await createOne({}), '1001');
  assert.equal(await createOne({ firstId: 5000 }), '5000');
});

it('with freshIds, a restarted sandbox never reissues an id of an earlier run', async () => {
  const first = Number(await createOne({ freshIds: true }));
  const second = Number(await createOne({ freshIds: true }));
  assert.ok(first > 1001);
  assert.ok(second > first, `${second} after ${first}`);
});
