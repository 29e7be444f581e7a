/** JSON Schemas of the API's bodies: the same objects validate requests and (later) document the API. */

export const maxTasksPerRequest = 1000;

export const taskSchema = {
  $id: 'Task',
  type: 'object',
  additionalProperties: false,
  required: ['connector', 'object', 'action', 'recordId'],
  properties: {
    connector: { type: 'string', minLength: 1, maxLength: 64, description: 'The connector (CRM) to deliver to.' },
    object: { type: 'string', minLength: 1, maxLength: 64, description: "An object declared in the connector's manifest." },
    action: { enum: ['upsert', 'delete'], description: 'upsert: the CRM should hold this payload; delete: the CRM object should go.' },
    recordId: { type: 'string', minLength: 1, maxLength: 256, description: "The record's id in the producer's system." },
    version: {
      type: 'integer',
      minimum: 0,
      maximum: Number.MAX_SAFE_INTEGER,
      description: 'Increases with every change of the record (row version, LSN, timestamp). Omitted: assigned from Redis time at arrival.',
    },
    tenant: { type: 'string', minLength: 1, maxLength: 128, pattern: '^[A-Za-z0-9._-]+$', description: 'The customer account whose CRM receives the record (default "default").' },
    payload: { type: ['object', 'null'], description: "The record in the producer's model; required for upsert." },
  },
  if: { properties: { action: { const: 'upsert' } } },
  then: { required: ['payload'], properties: { payload: { type: 'object' } } },
} as const;

export const eventSchema = {
  $id: 'ChangeEvent',
  type: 'object',
  additionalProperties: false,
  required: ['object', 'recordId', 'op', 'version'],
  properties: {
    object: { type: 'string', minLength: 1, maxLength: 64, description: "The record's type in the producer's system." },
    recordId: { type: 'string', minLength: 1, maxLength: 256, description: "The record's id in the producer's system." },
    op: { enum: ['insert', 'update', 'delete'] },
    version: { type: 'integer', minimum: 0, maximum: Number.MAX_SAFE_INTEGER, description: 'Increases with every change of the record (row version, LSN).' },
    before: { type: ['object', 'null'], description: 'The record before the change (update, delete).' },
    after: { type: ['object', 'null'], description: 'The record after the change; required unless op is delete.' },
    tenant: { type: 'string', minLength: 1, maxLength: 128, pattern: '^[A-Za-z0-9._-]+$' },
    occurredAt: { type: 'string', format: 'date-time' },
  },
  if: { properties: { op: { enum: ['insert', 'update'] } } },
  then: { required: ['after'], properties: { after: { type: 'object' } } },
} as const;

export const eventArraySchema = { type: 'array', minItems: 1, maxItems: maxTasksPerRequest, items: eventSchema } as const;

/** The body of POST /v1/events and its dry run (the OpenAPI view; handlers validate with their own ajv). */
export const eventBodySchema = { oneOf: [eventSchema, eventArraySchema] } as const;

const decisionSchema = {
  type: 'object',
  required: ['connector', 'rule', 'decision', 'object'],
  properties: {
    index: { type: 'integer', description: "The event's index in the request." },
    connector: { type: 'string' },
    rule: { type: ['string', 'null'], description: 'The rule that decided; null: none matched.' },
    decision: { enum: ['upsert', 'delete', 'skip'] },
    object: { type: 'string', description: 'The connector object acted on.' },
    reason: { type: 'string', description: 'Why a matching rule skipped, or why nothing matched.' },
    id: { type: 'string', description: 'The task made from the decision.' },
    status: { enum: ['accepted', 'stale'] },
  },
} as const;

export const acceptedEventsSchema = {
  type: 'object',
  required: ['events', 'accepted', 'decisions'],
  properties: {
    events: { type: 'integer' },
    accepted: { type: 'integer', description: 'Decided tasks that were new versions.' },
    decisions: { type: 'array', items: decisionSchema },
  },
} as const;

export const eventExplanationSchema = {
  type: 'object',
  required: ['connectors'],
  properties: {
    connectors: {
      type: 'array',
      items: {
        type: 'object',
        properties: {
          connector: { type: 'string' },
          rules: { type: 'array', items: { type: 'object', properties: { name: { type: 'string' }, matches: { type: ['boolean', 'string'] } } } },
          decision: { type: 'object', additionalProperties: true },
          wouldSend: { type: 'object', additionalProperties: true, description: 'The connector dry run of the decided task; absent for a skip.' },
        },
      },
    },
  },
} as const;

export const taskArraySchema = { type: 'array', minItems: 1, maxItems: maxTasksPerRequest, items: taskSchema } as const;

/** One task or an array of tasks: the body of POST /v1/tasks. */
export const taskBodySchema = { oneOf: [taskSchema, taskArraySchema] } as const;

/** The answer of POST /v1/tasks when every task was accepted. */
export const acceptedTasksSchema = {
  type: 'object',
  required: ['accepted', 'items'],
  properties: {
    accepted: { type: 'integer', description: 'How many tasks carried a new version (the others were stale).' },
    items: {
      type: 'array',
      items: {
        type: 'object',
        required: ['index', 'id', 'status', 'version'],
        properties: {
          index: { type: 'integer' },
          id: { type: 'string', description: '<connector>/<tenant>/<object>/<recordId>@<version>, parts URI-encoded.' },
          status: { enum: ['accepted', 'stale'], description: 'stale: not newer than a version already accepted; counted as superseded.' },
          version: { type: 'integer' },
        },
      },
    },
  },
} as const;

/** Every error answer: a code of the error catalogue, a message, and the fields at fault. */
export const errorResponseSchema = {
  $id: 'Error',
  type: 'object',
  required: ['code', 'message'],
  properties: {
    code: { type: 'string', pattern: '^RECSYNC_ERR_[A-Z_]+$', description: 'A code of the error catalogue (docs/reference/errors.md).' },
    message: { type: 'string' },
    details: { type: 'array', description: 'What is wrong, field by field: {field?, file?, line?, message}.', items: { type: 'object', additionalProperties: true } },
    errors: { type: 'array', description: 'POST /v1/tasks only: one entry per refused task, {index, code, message, details}.', items: { type: 'object', additionalProperties: true } },
  },
} as const;

/** A reference to the error shape, for route responses (the schema is added to the app once). */
export const errorRef = (description: string) => ({ description, $ref: 'Error#' }) as const;

/** A record's state for one connector (GET /v1/records/...). */
export const recordStatusSchema = {
  type: 'object',
  properties: {
    connector: { type: 'string' },
    tenant: { type: 'string' },
    object: { type: 'string' },
    recordId: { type: 'string' },
    latestVersion: { type: ['integer', 'null'] },
    latestAction: { enum: ['upsert', 'delete', null] },
    pending: { type: 'boolean', description: 'The latest version waits for a worker.' },
    inFlightVersion: { type: ['integer', 'null'], description: 'The version a worker is sending or waiting to retry.' },
    attempts: { type: 'integer' },
    deliveredVersion: { type: ['integer', 'null'] },
    deliveredAction: { enum: ['upsert', 'delete', null] },
    deliveredAt: { type: ['string', 'null'], format: 'date-time' },
    crmId: { type: ['string', 'null'] },
    lastError: { description: 'The last failed attempt of the version in flight, or null.' },
  },
} as const;

/** A connector's status (GET /v1/connectors, /v1/connectors/:name). */
export const connectorStatusSchema = {
  type: 'object',
  properties: {
    name: { type: 'string' },
    state: { enum: ['running', 'paused', 'config-error'] },
    paused: { type: 'boolean' },
    version: { type: ['string', 'null'], description: 'The configuration version in service here.' },
    loadedAt: { type: ['string', 'null'] },
    instances: { type: 'array', description: 'Every live instance and the version it runs.', items: { type: 'object', properties: { id: { type: 'string' }, host: { type: 'string' }, pid: { type: 'integer' }, version: { type: ['string', 'null'] } } } },
    objects: { type: 'array', items: { type: 'object' } },
    errors: { type: 'array', description: 'Why the last load failed (file, line, field, message).', items: { type: 'object' } },
    counters: {
      type: 'object',
      description: 'accepted = delivered + superseded + deadLettered + open.',
      properties: Object.fromEntries(['accepted', 'delivered', 'superseded', 'deadLettered', 'retried', 'open', 'replayed'].map((key) => [key, { type: 'integer' }])),
    },
    queue: { type: 'object', properties: Object.fromEntries(['waiting', 'active', 'delayed', 'failed'].map((key) => [key, { type: 'integer' }])) },
    rateBudget: { type: ['object', 'null'] },
    breakers: { type: 'object', additionalProperties: { enum: ['closed', 'open', 'half-open'] } },
  },
} as const;

/** A dead letter (GET /v1/connectors/:name/dlq and /dlq/:id; `payload` only on the latter). */
export const deadLetterSchema = {
  type: 'object',
  properties: {
    id: { type: 'string', description: '<tenant>|<object>|<recordId>|<version>, parts URI-encoded.' },
    state: { enum: ['dead', 'superseded'] },
    at: { type: 'string', format: 'date-time' },
    connector: { type: 'string' },
    tenant: { type: 'string' },
    object: { type: 'string' },
    recordId: { type: 'string' },
    version: { type: 'integer' },
    action: { enum: ['upsert', 'delete'] },
    configVersion: { type: 'string' },
    jobId: { type: 'string' },
    error: { type: 'object', properties: { code: { type: 'string' }, message: { type: 'string' }, at: { type: 'string' }, status: { type: 'integer' } } },
    attempts: { type: 'array', items: { type: 'object' } },
    payload: { description: 'The payload as accepted.' },
  },
} as const;
