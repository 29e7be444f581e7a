import assert from 'node:assert/strict';
import { it } from 'node:test';
import { conformanceSuite } from './helpers/conformance.ts';
import { repoConnectors } from './helpers/connectors.ts';
import { useRedis } from './helpers/redis.ts';

// Every connector under connectors/, against its own sandbox, through the real runtime: create,
// update, delete, duplicate create, rate limit, transient and fatal errors (test/helpers/conformance.ts).
// A connector that fails here is fixed in the connector, not in the suite.
const covered = await conformanceSuite(await useRedis(), repoConnectors);

it('runs the scenarios on every object of every shipped connector (the suite cannot pass by running nothing)', () => {
  assert.deepEqual(Object.fromEntries(covered), { dynamics: ['contact'], hubspot: ['contact', 'company'], salesforce: ['contact', 'account'] });
});
