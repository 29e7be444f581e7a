import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { loadConnector } from '../runtime/connectors/load-connector.ts';
import { decide, payloadOf, RuleError, type ChangeEvent } from '../runtime/rules/rules.ts';
import { copyConnectors, repoConnectors } from './helpers/connectors.ts';

const env = {
  HUBSPOT_BASE_URL: 'http://127.0.0.1:1', HUBSPOT_TOKEN: 't',
  SALESFORCE_BASE_URL: 'http://127.0.0.1:1', SALESFORCE_TOKEN_URL: 'http://127.0.0.1:1/token', SALESFORCE_CLIENT_ID: 'a', SALESFORCE_CLIENT_SECRET: 'b', SALESFORCE_REFRESH_TOKEN: 'c',
};
const hubspot = await loadConnector(`${repoConnectors}hubspot`, env);
const salesforce = await loadConnector(`${repoConnectors}salesforce`, env);

const ada = { email: 'ada@example.com', firstName: 'Ada', lastName: 'Lovelace' };
const event = (overrides: Partial<ChangeEvent>): ChangeEvent => ({ object: 'contact', recordId: 'c-1', op: 'update', version: 2, ...overrides });

// The shipped rules of HubSpot (marketing: consent decides) and Salesforce (sales: everything but test tenants).
const table: Array<{ name: string; event: ChangeEvent; hubspot: [string | null, string, string?]; salesforce: [string | null, string, string?] }> = [
  { name: 'a consented contact is created', event: event({ op: 'insert', after: { ...ada, marketingConsent: true } }), hubspot: ['consented-contacts', 'upsert'], salesforce: ['contacts', 'upsert'] },
  { name: 'a contact without consent', event: event({ op: 'insert', after: ada }), hubspot: [null, 'skip'], salesforce: ['contacts', 'upsert'] },
  { name: 'consent given later', event: event({ before: ada, after: { ...ada, marketingConsent: true } }), hubspot: ['consented-contacts', 'upsert'], salesforce: ['contacts', 'skip', 'no field the mapping reads changed'] },
  { name: 'consent withdrawn', event: event({ before: { ...ada, marketingConsent: true }, after: { ...ada, marketingConsent: false } }), hubspot: ['consent-withdrawn', 'delete'], salesforce: ['contacts', 'skip', 'no field the mapping reads changed'] },
  { name: 'a consented contact is deleted', event: event({ op: 'delete', before: { ...ada, marketingConsent: true } }), hubspot: ['consent-withdrawn', 'delete'], salesforce: ['contacts', 'delete'] },
  { name: 'a never-consented contact is deleted', event: event({ op: 'delete', before: ada }), hubspot: [null, 'skip'], salesforce: ['contacts', 'delete'] },
  { name: 'an update no mapped field sees', event: event({ before: { ...ada, marketingConsent: true }, after: { ...ada, marketingConsent: true } }), hubspot: ['consented-contacts', 'skip', 'no field the mapping reads changed'], salesforce: ['contacts', 'skip', 'no field the mapping reads changed'] },
  { name: 'an update of a mapped field', event: event({ before: { ...ada, marketingConsent: true }, after: { ...ada, lastName: 'King', marketingConsent: true } }), hubspot: ['consented-contacts', 'upsert'], salesforce: ['contacts', 'upsert'] },
  { name: 'a company goes to the company object and to Salesforce accounts', event: event({ object: 'company', op: 'insert', after: { name: 'Analytical Engines' } }), hubspot: ['companies', 'upsert'], salesforce: ['companies-as-accounts', 'upsert'] },
  { name: 'a test tenant is routed away from Salesforce', event: event({ op: 'insert', tenant: 'acme-test', after: { ...ada, marketingConsent: true } }), hubspot: ['consented-contacts', 'upsert'], salesforce: ['internal-tenants', 'skip', 'the rule skips'] },
  { name: 'an object nobody declares', event: event({ object: 'invoice', op: 'insert', after: { n: 1 } }), hubspot: [null, 'skip'], salesforce: [null, 'skip'] },
];

describe('the shipped rules, table-driven', () => {
  for (const row of table) {
    it(row.name, async () => {
      for (const [connector, expected] of [[hubspot, row.hubspot], [salesforce, row.salesforce]] as const) {
        const decision = await decide(connector, row.event);
        assert.deepEqual([decision.rule, decision.decision, decision.reason ?? undefined].slice(0, expected.length), [...expected], `${connector.name}: ${JSON.stringify(decision)}`);
        assert.equal(decision.connector, connector.name);
      }
    });
  }

  it('maps the producer object to the rule object (company -> account)', async () => {
    const decision = await decide(salesforce, event({ object: 'company', op: 'insert', after: { name: 'X' } }));
    assert.equal(decision.object, 'account');
  });

  it('sends the newest data: after for an upsert, after or before for a delete', () => {
    const up = { connector: 'c', rule: 'r', decision: 'upsert' as const, object: 'contact' };
    assert.deepEqual(payloadOf(up, event({ before: { a: 1 }, after: { a: 2 } })), { a: 2 });
    assert.deepEqual(payloadOf({ ...up, decision: 'delete' }, event({ op: 'delete', before: { a: 1 } })), { a: 1 });
    assert.deepEqual(payloadOf({ ...up, decision: 'delete' }, event({ before: { a: 1 }, after: { a: 3 } })), { a: 3 });
  });
});

describe('rules that are wrong', () => {
  const rulesOf = async (yaml: string) => {
    const copy = await copyConnectors(['hubspot']);
    await copy.edit('hubspot/manifest.yaml', (text) => text.slice(0, text.indexOf('rules:')) + yaml);
    return loadConnector(`${copy.root}/hubspot`, env);
  };

  it('a condition that does not parse is refused at load with the line of its `when`', async () => {
    await assert.rejects(rulesOf('rules:\n  - name: a\n    when: object = \n'), (error: Error & { details: Array<{ line?: number; field?: string; message: string }> }) => {
      assert.equal(error.details[0]!.field, 'rules.0.when');
      assert.ok(error.details[0]!.line! > 30, `line ${error.details[0]!.line}`);
      assert.match(error.details[0]!.message, /^JSONata S0\d+/);
      return true;
    });
  });

  it('duplicate names and undeclared objects are refused, all at once', async () => {
    await assert.rejects(rulesOf('rules:\n  - name: a\n    object: invoice\n  - name: a\n'), (error: Error & { details: Array<{ field?: string }> }) => {
      assert.deepEqual(error.details.map((d) => d.field).sort(), ['rules.0.object', 'rules.1.name']);
      return true;
    });
  });

  it('a condition that gives something other than true or false refuses the event, naming the rule and its line', async () => {
    const connector = await rulesOf('rules:\n  - name: not-boolean\n    when: after.email\n');
    await assert.rejects(decide(connector, event({ after: ada })), (error: RuleError) => {
      assert.ok(error instanceof RuleError);
      assert.match(error.message, /rule "not-boolean" \(.*manifest\.yaml:\d+\): "when" must give true or false, it gave "ada@example.com"/);
      assert.equal(error.detail.field, 'rules.not-boolean.when');
      return true;
    });
    const missing = await decide(connector, event({ after: {} }));
    assert.deepEqual([missing.rule, missing.decision], [null, 'skip'], 'a missing value is false');
  });

  it('a condition that fails at run time refuses the event', async () => {
    const connector = await rulesOf('rules:\n  - name: boom\n    when: $number(after.email) > 1\n');
    await assert.rejects(decide(connector, event({ after: ada })), /rule "boom" .*JSONata D3030/);
  });

  it('no rules: the connector decides nothing (it receives no events)', async () => {
    const connector = await rulesOf('');
    assert.deepEqual(connector.rules, []);
  });
});
