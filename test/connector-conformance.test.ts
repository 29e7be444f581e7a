import { conformanceSuite } from './helpers/conformance.ts';
import { repoConnectors } from './helpers/connectors.ts';
import { useRedis } from './helpers/redis.ts';

// Every connector under connectors/, against its own sandbox, through the real runtime: create,
// update, delete, duplicate create, rate limit, transient and fatal errors (test/helpers/conformance.ts).
// A connector that fails here is fixed in the connector, not in the suite.
await conformanceSuite(await useRedis(), repoConnectors);
