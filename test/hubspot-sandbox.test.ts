import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, test } from 'node:test';
import { startSandbox, type HubSpotSandbox } from '../connectors/hubspot/sandbox.ts';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const T0 = Date.parse('2026-03-02T09:00:00.000Z');
let clock = T0;
let sb: HubSpotSandbox;

interface Reply {
  status: number;
  headers: Headers;
  // JSON bodies are checked field by field below; typing every response shape would add nothing.
  body: any;
}

async function call(method: string, path: string, body?: unknown, token: string | null = sb.token): Promise<Reply> {
  const headers: Record<string, string> = {};
  if (token !== null) headers.authorization = `Bearer ${token}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(sb.url + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: text === '' ? undefined : JSON.parse(text) };
}

/** Every HubSpot error carries status, message, category and a UUID correlation id that matches the header. */
function assertErrorShape(reply: Reply, status: number, category: string): void {
  assert.equal(reply.status, status);
  assert.equal(reply.body.status, 'error');
  assert.equal(reply.body.category, category);
  assert.equal(typeof reply.body.message, 'string');
  assert.match(reply.body.correlationId, UUID);
  assert.equal(reply.headers.get('x-hubspot-correlation-id'), reply.body.correlationId);
}

before(async () => {
  sb = await startSandbox({ now: () => clock, limits: false });
});
after(() => sb.close());
beforeEach(() => {
  sb.reset();
  clock = T0;
});

describe('single-object endpoints', () => {
  test('create answers 201 with the stored object and the system properties', async () => {
    const r = await call('POST', '/crm/v3/objects/contacts', { properties: { email: 'ada@example.com', firstname: 'Ada', lastname: 'Lovelace' } });
    assert.equal(r.status, 201);
    assert.match(r.body.id, /^\d+$/);
    assert.deepEqual(r.body, {
      id: r.body.id,
      properties: {
        createdate: '2026-03-02T09:00:00.000Z',
        email: 'ada@example.com',
        firstname: 'Ada',
        hs_object_id: r.body.id,
        lastmodifieddate: '2026-03-02T09:00:00.000Z',
        lastname: 'Lovelace',
      },
      createdAt: '2026-03-02T09:00:00.000Z',
      updatedAt: '2026-03-02T09:00:00.000Z',
      archived: false,
    });
    assert.equal(sb.objects('contacts').length, 1);
  });

  test('ids come from a deterministic sequence that restarts on reset', async () => {
    const first = await call('POST', '/crm/v3/objects/companies', { properties: { name: 'Acme' } });
    const second = await call('POST', '/crm/v3/objects/contacts', { properties: { firstname: 'B' } });
    assert.equal(Number(second.body.id), Number(first.body.id) + 1);
    sb.reset();
    const again = await call('POST', '/crm/v3/objects/companies', { properties: { name: 'Acme' } });
    assert.equal(again.body.id, first.body.id);
  });

  test('companies report hs_lastmodifieddate, as HubSpot does', async () => {
    const r = await call('POST', '/crm/v3/objects/companies', { properties: { name: 'Acme', domain: 'acme.test' } });
    assert.equal(r.status, 201);
    assert.deepEqual(Object.keys(r.body.properties), ['createdate', 'domain', 'hs_lastmodifieddate', 'hs_object_id', 'name']);
  });

  test('numbers and booleans are stored and returned as strings', async () => {
    const r = await call('POST', '/crm/v3/objects/companies', {
      properties: { name: 'Acme', numberofemployees: 250, annualrevenue: 1234.5, description: true, recsync_id: 7 },
    });
    assert.equal(r.status, 201);
    assert.equal(r.body.properties.numberofemployees, '250');
    assert.equal(r.body.properties.annualrevenue, '1234.5');
    assert.equal(r.body.properties.description, 'true');
    assert.equal(r.body.properties.recsync_id, '7');
    assert.deepEqual(sb.objects('companies')[0]?.properties, {
      name: 'Acme', numberofemployees: '250', annualrevenue: '1234.5', description: 'true', recsync_id: '7',
    });
  });

  test('read answers the default properties, or the requested ones with null for empty and unknown ones left out', async () => {
    const { body: created } = await call('POST', '/crm/v3/objects/contacts', { properties: { email: 'a@x.test', city: 'Paris' } });
    const plain = await call('GET', `/crm/v3/objects/contacts/${created.id}`);
    assert.equal(plain.status, 200);
    assert.deepEqual(plain.body.properties, {
      createdate: created.createdAt, email: 'a@x.test', firstname: null, hs_object_id: created.id,
      lastmodifieddate: created.createdAt, lastname: null,
    });
    const picked = await call('GET', `/crm/v3/objects/contacts/${created.id}?properties=city,phone,no_such_prop`);
    assert.deepEqual(picked.body.properties, {
      city: 'Paris', createdate: created.createdAt, hs_object_id: created.id, lastmodifieddate: created.createdAt, phone: null,
    });
    const exploded = await call('GET', `/crm/v3/objects/contacts/${created.id}?properties=city&properties=email`);
    assert.equal(exploded.body.properties.city, 'Paris');
    assert.equal(exploded.body.properties.email, 'a@x.test');
  });

  test('update answers 200, moves updatedAt, clears "" values and counts only changing writes', async () => {
    const { body: created } = await call('POST', '/crm/v3/objects/contacts', { properties: { email: 'a@x.test', phone: '123' } });
    clock += 5_000;
    const r = await call('PATCH', `/crm/v3/objects/contacts/${created.id}`, { properties: { firstname: 'Ann', phone: '' } });
    assert.equal(r.status, 200);
    assert.equal(r.body.updatedAt, '2026-03-02T09:00:05.000Z');
    assert.equal(r.body.createdAt, '2026-03-02T09:00:00.000Z');
    assert.equal(r.body.properties.firstname, 'Ann');
    assert.equal('phone' in r.body.properties, false);
    assert.deepEqual(sb.objects('contacts')[0]?.properties, { email: 'a@x.test', firstname: 'Ann' });
    assert.equal(sb.objects('contacts')[0]?.writes, 2);

    clock += 5_000;
    const same = await call('PATCH', `/crm/v3/objects/contacts/${created.id}`, { properties: { firstname: 'Ann' } });
    assert.equal(same.status, 200);
    assert.equal(same.body.updatedAt, '2026-03-02T09:00:05.000Z', 'a no-op update leaves updatedAt alone');
    assert.equal(sb.objects('contacts')[0]?.writes, 2);
    assert.equal(sb.stats().updated, 1);
    assert.equal(sb.stats().unchangedUpdates, 1);
  });

  test('list pages with limit and paging.next.after', async () => {
    for (let i = 0; i < 5; i++) await call('POST', '/crm/v3/objects/companies', { properties: { name: `C${i}` } });
    const first = await call('GET', '/crm/v3/objects/companies?limit=2&properties=name');
    assert.equal(first.status, 200);
    assert.deepEqual(first.body.results.map((o: { properties: { name: string } }) => o.properties.name), ['C0', 'C1']);
    const names: string[] = [];
    let after: string | undefined;
    do {
      const page = await call('GET', `/crm/v3/objects/companies?limit=2&properties=name${after ? `&after=${after}` : ''}`);
      names.push(...page.body.results.map((o: { properties: { name: string } }) => o.properties.name));
      after = page.body.paging?.next?.after;
    } while (after !== undefined);
    assert.deepEqual(names, ['C0', 'C1', 'C2', 'C3', 'C4']);
  });

  test('archive answers 204; the record is then 404 unless archived=true', async () => {
    const { body: created } = await call('POST', '/crm/v3/objects/contacts', { properties: { email: 'gone@x.test' } });
    clock += 1_000;
    const del = await call('DELETE', `/crm/v3/objects/contacts/${created.id}`);
    assert.equal(del.status, 204);
    assert.equal(del.body, undefined);

    const get = await call('GET', `/crm/v3/objects/contacts/${created.id}`);
    assertErrorShape(get, 404, 'OBJECT_NOT_FOUND');
    assert.deepEqual(get.body, {
      status: 'error',
      message: 'Object not found.  objectId are usually numeric.',
      correlationId: get.body.correlationId,
      context: { id: [created.id] },
      category: 'OBJECT_NOT_FOUND',
    });
    const archived = await call('GET', `/crm/v3/objects/contacts/${created.id}?archived=true`);
    assert.equal(archived.status, 200);
    assert.equal(archived.body.archived, true);
    assert.equal(archived.body.archivedAt, '2026-03-02T09:00:01.000Z');

    assertErrorShape(await call('PATCH', `/crm/v3/objects/contacts/${created.id}`, { properties: { firstname: 'x' } }), 404, 'OBJECT_NOT_FOUND');
    assertErrorShape(await call('DELETE', `/crm/v3/objects/contacts/${created.id}`), 404, 'OBJECT_NOT_FOUND');
    assertErrorShape(await call('DELETE', '/crm/v3/objects/contacts/999999'), 404, 'OBJECT_NOT_FOUND');
    assert.deepEqual(sb.objects('contacts'), []);
    assert.equal(sb.objects('contacts', { includeArchived: true })[0]?.archived, true);
  });

  test("an archived contact's email is free again", async () => {
    const { body: old } = await call('POST', '/crm/v3/objects/contacts', { properties: { email: 'back@x.test' } });
    await call('DELETE', `/crm/v3/objects/contacts/${old.id}`);
    const again = await call('POST', '/crm/v3/objects/contacts', { properties: { email: 'back@x.test' } });
    assert.equal(again.status, 201);
    assert.notEqual(again.body.id, old.id);
  });
});

describe('validation and conflicts', () => {
  test('an unknown property is a 400 naming it with PROPERTY_DOESNT_EXIST, and nothing is written', async () => {
    const r = await call('POST', '/crm/v3/objects/contacts', { properties: { email: 'a@x.test', favourite_colour: 'blue' } });
    assertErrorShape(r, 400, 'VALIDATION_ERROR');
    const prefix = 'Property values were not valid: ';
    assert.ok(r.body.message.startsWith(prefix), r.body.message);
    const verdicts = JSON.parse(r.body.message.slice(prefix.length));
    assert.deepEqual(verdicts.map((v: { error: string; name: string }) => [v.error, v.name]), [['PROPERTY_DOESNT_EXIST', 'favourite_colour']]);
    assert.equal(r.body.errors[0].code, 'PROPERTY_DOESNT_EXIST');
    assert.deepEqual(r.body.errors[0].context, { propertyName: ['favourite_colour'] });
    assert.equal(sb.objects('contacts').length, 0);
  });

  test('PATCH with an unknown property is a 400 too and leaves the record as it was', async () => {
    const { body: created } = await call('POST', '/crm/v3/objects/companies', { properties: { name: 'Acme' } });
    const r = await call('PATCH', `/crm/v3/objects/companies/${created.id}`, { properties: { name: 'New', email: 'x@y.test' } });
    assertErrorShape(r, 400, 'VALIDATION_ERROR');
    assert.match(r.body.message, /PROPERTY_DOESNT_EXIST/);
    assert.equal(sb.objects('companies')[0]?.properties.name, 'Acme');
  });

  test('a contact needs one of email, firstname, lastname', async () => {
    assertErrorShape(await call('POST', '/crm/v3/objects/contacts', { properties: { phone: '1' } }), 400, 'VALIDATION_ERROR');
    assert.equal((await call('POST', '/crm/v3/objects/contacts', { properties: { lastname: 'Solo' } })).status, 201);
  });

  test('creating a contact with a taken email (any case) is 409 with the existing id in the message', async () => {
    const { body: first } = await call('POST', '/crm/v3/objects/contacts', { properties: { email: 'dup@example.com' } });
    const r = await call('POST', '/crm/v3/objects/contacts', { properties: { email: 'DUP@Example.com', firstname: 'Other' } });
    assertErrorShape(r, 409, 'CONFLICT');
    assert.deepEqual(r.body, {
      status: 'error',
      message: `Contact already exists. Existing ID: ${first.id}`,
      correlationId: r.body.correlationId,
      category: 'CONFLICT',
    });
    const parsed = /Existing ID: (\d+)$/.exec(r.body.message)?.[1];
    assert.equal(parsed, first.id);
    const followUp = await call('PATCH', `/crm/v3/objects/contacts/${parsed}`, { properties: { firstname: 'Other' } });
    assert.equal(followUp.status, 200);
    assert.equal(sb.objects('contacts').length, 1);
  });

  test('PATCH that would give a contact another contact\'s email is 409', async () => {
    const { body: a } = await call('POST', '/crm/v3/objects/contacts', { properties: { email: 'a@x.test' } });
    const { body: b } = await call('POST', '/crm/v3/objects/contacts', { properties: { email: 'b@x.test' } });
    const r = await call('PATCH', `/crm/v3/objects/contacts/${b.id}`, { properties: { email: 'A@x.test' } });
    assertErrorShape(r, 409, 'CONFLICT');
    assert.equal(r.body.message, `Contact already exists. Existing ID: ${a.id}`);
    assert.equal(sb.objects('contacts')[1]?.properties.email, 'b@x.test');
  });

  test('recsync_id is unique per type', async () => {
    const { body: first } = await call('POST', '/crm/v3/objects/companies', { properties: { name: 'A', recsync_id: 'r-1' } });
    const r = await call('POST', '/crm/v3/objects/companies', { properties: { name: 'B', recsync_id: 'r-1' } });
    assertErrorShape(r, 409, 'CONFLICT');
    assert.equal(r.body.message, `Company already exists. Existing ID: ${first.id}`);
    assert.equal((await call('POST', '/crm/v3/objects/contacts', { properties: { firstname: 'C', recsync_id: 'r-1' } })).status, 201);
  });

  test('an unsupported object type and a malformed body are 400', async () => {
    const deals = await call('POST', '/crm/v3/objects/deals', { properties: { dealname: 'x' } });
    assertErrorShape(deals, 400, 'VALIDATION_ERROR');
    const res = await fetch(`${sb.url}/crm/v3/objects/contacts`, {
      method: 'POST', headers: { authorization: `Bearer ${sb.token}`, 'content-type': 'application/json' }, body: '{"properties":',
    });
    const body = await res.json() as { category: string; message: string };
    assert.equal(res.status, 400);
    assert.equal(body.category, 'VALIDATION_ERROR');
    assert.match(body.message, /^Invalid input JSON/);
  });
});

describe('idProperty', () => {
  test('GET and PATCH by email (case-insensitive)', async () => {
    const { body: created } = await call('POST', '/crm/v3/objects/contacts', { properties: { email: 'ada@example.com' } });
    const got = await call('GET', '/crm/v3/objects/contacts/ADA%40example.com?idProperty=email');
    assert.equal(got.status, 200);
    assert.equal(got.body.id, created.id);
    const patched = await call('PATCH', '/crm/v3/objects/contacts/ada@example.com?idProperty=email', { properties: { firstname: 'Ada' } });
    assert.equal(patched.status, 200);
    assert.equal(patched.body.id, created.id);
    assert.equal(sb.objects('contacts')[0]?.properties.firstname, 'Ada');
    assertErrorShape(await call('GET', '/crm/v3/objects/contacts/nobody@example.com?idProperty=email'), 404, 'OBJECT_NOT_FOUND');
    assertErrorShape(await call('PATCH', '/crm/v3/objects/contacts/nobody@example.com?idProperty=email', { properties: { firstname: 'x' } }), 404, 'OBJECT_NOT_FOUND');
  });

  test('GET and PATCH by recsync_id', async () => {
    const { body: created } = await call('POST', '/crm/v3/objects/companies', { properties: { name: 'Acme', recsync_id: 'acct-9' } });
    const got = await call('GET', '/crm/v3/objects/companies/acct-9?idProperty=recsync_id&properties=recsync_id');
    assert.equal(got.body.id, created.id);
    assert.equal(got.body.properties.recsync_id, 'acct-9');
    const patched = await call('PATCH', '/crm/v3/objects/companies/acct-9?idProperty=recsync_id', { properties: { industry: 'RETAIL' } });
    assert.equal(patched.status, 200);
    assert.equal(sb.objects('companies')[0]?.properties.industry, 'RETAIL');
  });

  test('a non-unique idProperty is a 400', async () => {
    const r = await call('PATCH', '/crm/v3/objects/companies/acme.test?idProperty=domain', { properties: { name: 'x' } });
    assertErrorShape(r, 400, 'VALIDATION_ERROR');
    assert.match(r.body.message, /^Unable to perform update\/upsert by non-unique 0-2 property domain/);
  });
});

describe('batch endpoints', () => {
  test('batch upsert by email creates, then updates without duplicating', async () => {
    const inputs = [
      { idProperty: 'email', id: 'ada@example.com', properties: { firstname: 'Ada' } },
      { idProperty: 'email', id: 'bob@example.com', properties: { firstname: 'Bob' } },
    ];
    const first = await call('POST', '/crm/v3/objects/contacts/batch/upsert', { inputs });
    assert.equal(first.status, 200);
    assert.equal(first.body.status, 'COMPLETE');
    assert.deepEqual(first.body.results.map((r: { new: boolean }) => r.new), [true, true]);
    assert.equal(first.body.results[0].properties.email, 'ada@example.com', 'a new record takes its key from id');

    clock += 1_000;
    const second = await call('POST', '/crm/v3/objects/contacts/batch/upsert', {
      inputs: [{ idProperty: 'email', id: 'ADA@example.com', properties: { firstname: 'Augusta' } }, inputs[1]],
    });
    assert.equal(second.status, 200);
    assert.deepEqual(second.body.results.map((r: { new: boolean }) => r.new), [false, false]);
    assert.deepEqual(second.body.results.map((r: { id: string }) => r.id), first.body.results.map((r: { id: string }) => r.id));
    assert.equal(sb.objects('contacts').length, 2);
    assert.equal(sb.objects('contacts')[0]?.properties.firstname, 'Augusta');
    assert.equal(sb.objects('contacts')[1]?.writes, 1, 'an identical upsert changes nothing');
  });

  test('batch upsert by recsync_id echoes objectWriteTraceId and flags new', async () => {
    const body = { inputs: [{ idProperty: 'recsync_id', id: 'r-1', objectWriteTraceId: 't-1', properties: { name: 'Acme' } }] };
    const first = await call('POST', '/crm/v3/objects/companies/batch/upsert', body);
    assert.equal(first.body.results[0].new, true);
    assert.equal(first.body.results[0].objectWriteTraceId, 't-1');
    const again = await call('POST', '/crm/v3/objects/companies/batch/upsert', body);
    assert.equal(again.body.results[0].new, false);
    assert.equal(again.body.results[0].id, first.body.results[0].id);
    assert.equal(sb.objects('companies').length, 1);
  });

  test('batch upsert with the same id twice is a 400', async () => {
    const r = await call('POST', '/crm/v3/objects/contacts/batch/upsert', {
      inputs: [
        { idProperty: 'email', id: 'a@x.test', properties: {} },
        { idProperty: 'email', id: 'A@x.test', properties: {} },
      ],
    });
    assertErrorShape(r, 400, 'VALIDATION_ERROR');
    assert.match(r.body.message, /^Duplicate IDs found in batch input/);
    assert.equal(sb.objects('contacts').length, 0);
  });

  test('batch create: 201 when all pass, 207 with the failing input traced by objectWriteTraceId', async () => {
    const ok = await call('POST', '/crm/v3/objects/companies/batch/create', { inputs: [{ properties: { name: 'A' } }] });
    assert.equal(ok.status, 201);
    assert.equal(ok.body.results.length, 1);

    const r = await call('POST', '/crm/v3/objects/companies/batch/create', {
      inputs: [
        { objectWriteTraceId: 'trace-1', properties: { name: 'B' } },
        { objectWriteTraceId: 'trace-2', properties: { name: 'C', bogus: 'x' } },
      ],
    });
    assert.equal(r.status, 207);
    assert.equal(r.body.status, 'COMPLETE');
    assert.equal(r.body.numErrors, 1);
    assert.deepEqual(r.body.results.map((o: { properties: { name: string } }) => o.properties.name), ['B']);
    assert.equal(r.body.results[0].objectWriteTraceId, 'trace-1');
    const [error] = r.body.errors;
    assert.equal(error.status, 'error');
    assert.equal(error.category, 'VALIDATION_ERROR');
    assert.deepEqual(error.context.objectWriteTraceId, ['trace-2']);
    assert.match(error.message, /^Property values were not valid: .*PROPERTY_DOESNT_EXIST/);
    assert.equal(typeof r.body.startedAt, 'string');
    assert.equal(typeof r.body.completedAt, 'string');
    assert.equal(sb.objects('companies').length, 2);
  });

  test('batch create hitting an existing email is one 409 for the whole batch', async () => {
    const { body: existing } = await call('POST', '/crm/v3/objects/contacts', { properties: { email: 'x@x.test' } });
    const r = await call('POST', '/crm/v3/objects/contacts/batch/create', {
      inputs: [{ properties: { email: 'new@x.test' } }, { properties: { email: 'x@x.test' } }],
    });
    assertErrorShape(r, 409, 'CONFLICT');
    assert.equal(r.body.message, `Contact already exists. Existing ID: ${existing.id}`);
    assert.equal(sb.objects('contacts').length, 1);
  });

  test('batch update: 200, or 207 for an id that does not exist', async () => {
    const { body: a } = await call('POST', '/crm/v3/objects/companies', { properties: { name: 'A' } });
    const ok = await call('POST', '/crm/v3/objects/companies/batch/update', { inputs: [{ id: a.id, properties: { city: 'Oslo' } }] });
    assert.equal(ok.status, 200);
    assert.equal(ok.body.results[0].properties.city, 'Oslo');

    const r = await call('POST', '/crm/v3/objects/companies/batch/update', {
      inputs: [
        { id: a.id, objectWriteTraceId: 'ok', properties: { city: 'Bergen' } },
        { id: '424242', objectWriteTraceId: 'missing', properties: { city: 'Nowhere' } },
      ],
    });
    assert.equal(r.status, 207);
    assert.equal(r.body.results.length, 1);
    assert.equal(r.body.errors[0].category, 'OBJECT_NOT_FOUND');
    assert.deepEqual(r.body.errors[0].context, { ids: ['424242'], objectWriteTraceId: ['missing'] });
    assert.equal(sb.objects('companies')[0]?.properties.city, 'Bergen');
  });

  test('batch read: 200, or 207 listing the ids it could not find', async () => {
    const { body: a } = await call('POST', '/crm/v3/objects/contacts', { properties: { email: 'a@x.test', city: 'Rome' } });
    const r = await call('POST', '/crm/v3/objects/contacts/batch/read', { inputs: [{ id: a.id }, { id: '9' }], properties: ['city'] });
    assert.equal(r.status, 207);
    assert.equal(r.body.results[0].properties.city, 'Rome');
    assert.equal(r.body.errors[0].category, 'OBJECT_NOT_FOUND');
    assert.deepEqual(r.body.errors[0].context.ids, ['9']);
    const byEmail = await call('POST', '/crm/v3/objects/contacts/batch/read', { idProperty: 'email', inputs: [{ id: 'a@x.test' }], properties: [] });
    assert.equal(byEmail.status, 200);
    assert.equal(byEmail.body.results[0].id, a.id);
  });

  test('batch archive answers 204 even for ids that do not exist', async () => {
    const { body: a } = await call('POST', '/crm/v3/objects/companies', { properties: { name: 'A' } });
    const r = await call('POST', '/crm/v3/objects/companies/batch/archive', { inputs: [{ id: a.id }, { id: '777' }] });
    assert.equal(r.status, 204);
    assert.equal(sb.objects('companies').length, 0);
    assert.equal((await call('POST', '/crm/v3/objects/companies/batch/archive', { inputs: [{ id: a.id }] })).status, 204);
  });

  test('every batch endpoint refuses more than 100 inputs with a 400', async () => {
    const inputs = Array.from({ length: 101 }, (_, i) => ({ id: String(i), idProperty: 'recsync_id', properties: { name: `N${i}` } }));
    for (const op of ['create', 'read', 'update', 'upsert', 'archive']) {
      const r = await call('POST', `/crm/v3/objects/companies/batch/${op}`, { inputs, properties: [] });
      assertErrorShape(r, 400, 'VALIDATION_ERROR');
    }
    assert.equal(sb.objects('companies').length, 0);
    const hundred = await call('POST', '/crm/v3/objects/companies/batch/upsert', { inputs: inputs.slice(0, 100) });
    assert.equal(hundred.status, 200);
    assert.equal(sb.objects('companies').length, 100);
  });
});

describe('search', () => {
  beforeEach(async () => {
    await call('POST', '/crm/v3/objects/contacts', { properties: { email: 'ada@example.com', firstname: 'Ada', city: 'London' } });
    await call('POST', '/crm/v3/objects/contacts', { properties: { email: 'bob@example.org', firstname: 'Bob' } });
    await call('POST', '/crm/v3/objects/contacts', { properties: { email: 'cy@example.com', firstname: 'Cy', city: 'Paris' } });
  });
  const emails = (r: Reply): string[] => r.body.results.map((o: { properties: { email: string } }) => o.properties.email);

  test('EQ, NEQ, IN, HAS_PROPERTY and CONTAINS_TOKEN filter; groups are ORed', async () => {
    const search = (filterGroups: unknown) => call('POST', '/crm/v3/objects/contacts/search', { filterGroups, properties: ['email'] });
    assert.deepEqual(emails(await search([{ filters: [{ propertyName: 'email', operator: 'EQ', value: 'ADA@example.com' }] }])), ['ada@example.com']);
    assert.deepEqual(emails(await search([{ filters: [{ propertyName: 'firstname', operator: 'NEQ', value: 'Bob' }] }])), ['ada@example.com', 'cy@example.com']);
    assert.deepEqual(emails(await search([{ filters: [{ propertyName: 'firstname', operator: 'IN', values: ['bob', 'cy'] }] }])), ['bob@example.org', 'cy@example.com']);
    assert.deepEqual(emails(await search([{ filters: [{ propertyName: 'city', operator: 'HAS_PROPERTY' }] }])), ['ada@example.com', 'cy@example.com']);
    assert.deepEqual(emails(await search([{ filters: [{ propertyName: 'email', operator: 'CONTAINS_TOKEN', value: '*@example.org' }] }])), ['bob@example.org']);
    assert.deepEqual(
      emails(await search([
        { filters: [{ propertyName: 'city', operator: 'EQ', value: 'Paris' }] },
        { filters: [{ propertyName: 'firstname', operator: 'EQ', value: 'Bob' }] },
      ])),
      ['bob@example.org', 'cy@example.com'],
    );
  });

  test('answers total and pages with after; limit over 200 is a 400; archived records are left out', async () => {
    const page = await call('POST', '/crm/v3/objects/contacts/search', { filterGroups: [], limit: 2, sorts: ['-createdate'] });
    assert.equal(page.status, 200);
    assert.equal(page.body.total, 3);
    assert.equal(page.body.results.length, 2);
    assert.equal(page.body.paging.next.after, '2');
    assertErrorShape(await call('POST', '/crm/v3/objects/contacts/search', { limit: 201 }), 400, 'VALIDATION_ERROR');
    const ada = sb.objects('contacts')[0];
    await call('DELETE', `/crm/v3/objects/contacts/${ada?.id}`);
    const rest = await call('POST', '/crm/v3/objects/contacts/search', { properties: ['email'] });
    assert.deepEqual(emails(rest), ['bob@example.org', 'cy@example.com']);
  });

  test('with an index lag, new writes show up in search only once the lag has passed', async () => {
    const lagged = await startSandbox({ now: () => clock, limits: false, searchIndexLagMs: 3_000 });
    try {
      const post = (path: string, body: unknown) =>
        fetch(lagged.url + path, { method: 'POST', headers: { authorization: `Bearer ${lagged.token}`, 'content-type': 'application/json' }, body: JSON.stringify(body) })
          .then((r) => r.json() as Promise<{ total: number }>);
      await post('/crm/v3/objects/contacts', { properties: { email: 'late@x.test' } });
      const query = { filterGroups: [{ filters: [{ propertyName: 'email', operator: 'EQ', value: 'late@x.test' }] }] };
      assert.equal((await post('/crm/v3/objects/contacts/search', query)).total, 0);
      clock += 3_000;
      assert.equal((await post('/crm/v3/objects/contacts/search', query)).total, 1);
    } finally {
      await lagged.close();
    }
  });
});

describe('auth', () => {
  test('a missing token is 401 INVALID_AUTHENTICATION with x-hubspot-auth-failure', async () => {
    const r = await call('GET', '/crm/v3/objects/contacts', undefined, null);
    assertErrorShape(r, 401, 'INVALID_AUTHENTICATION');
    assert.match(r.body.message, /^Authentication credentials not found\./);
    assert.equal(r.headers.get('x-hubspot-auth-failure'), '401 Unauthorized');
  });

  test('an unknown token is 401 and writes nothing', async () => {
    const r = await call('POST', '/crm/v3/objects/contacts', { properties: { email: 'a@x.test' } }, 'pat-na1-wrong');
    assertErrorShape(r, 401, 'INVALID_AUTHENTICATION');
    assert.equal(sb.objects('contacts').length, 0);
  });

  test('every configured token is accepted', async () => {
    const multi = await startSandbox({ tokens: ['first', 'second'], limits: false });
    try {
      assert.equal(multi.token, 'first');
      assert.deepEqual(multi.env, { HUBSPOT_BASE_URL: multi.url, HUBSPOT_TOKEN: 'first' });
      const res = await fetch(`${multi.url}/crm/v3/objects/companies`, { headers: { authorization: 'Bearer second' } });
      assert.equal(res.status, 200);
      await res.body?.cancel();
    } finally {
      await multi.close();
    }
  });
});
