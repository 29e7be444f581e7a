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

export const taskArraySchema = { type: 'array', minItems: 1, maxItems: maxTasksPerRequest, items: taskSchema } as const;

export const errorResponseSchema = {
  type: 'object',
  required: ['code', 'message'],
  properties: {
    code: { type: 'string' },
    message: { type: 'string' },
    details: { type: 'array', items: { type: 'object', additionalProperties: true } },
    errors: { type: 'array', items: { type: 'object', additionalProperties: true } },
  },
} as const;
