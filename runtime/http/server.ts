import Fastify, { LogController, type FastifyError, type FastifyInstance } from 'fastify';
import { errorCatalogue, isRecsyncError, RecsyncError } from '../errors.ts';
import type { Services } from '../services.ts';
import { dashboardPath, queueDashboard } from '../queue/dashboard.ts';
import { inboundName } from '../sync/two-way.ts';
import { installAuth, roleForRoutes, type AuthSettings } from './auth.ts';
import { registerOpenApi } from './openapi.ts';
import { errorResponseSchema } from './schemas.ts';
import { connectorRoutes } from './routes/connectors.ts';
import { deadLetterRoutes } from './routes/dead-letters.ts';
import { eventRoutes } from './routes/events.ts';
import { healthRoutes } from './routes/health.ts';
import { metricsRoutes } from './routes/metrics.ts';
import { recordRoutes } from './routes/records.ts';
import { taskRoutes } from './routes/tasks.ts';
import { traceLogFields, traceRequests } from './tracing.ts';
import { webhookRoutes } from './routes/webhooks.ts';

/** Where log lines go, and from which level; `stream` defaults to stdout. */
export interface LoggerOptions {
  level: string;
  stream?: { write(line: string): unknown };
}

export interface ServerOptions {
  /** Largest accepted request body in bytes (413 beyond). */
  bodyLimit: number;
  logger: boolean | LoggerOptions;
  auth: AuthSettings;
}

/**
 * The Fastify app. Every error leaves as `{code, message, details?}` with a code from the error
 * catalogue; `__proto__` and `constructor.prototype` keys in bodies are refused (400).
 */
export function buildServer(services: Services, options: ServerOptions): FastifyInstance {
  const app = Fastify({
    bodyLimit: options.bodyLimit,
    logger:
      options.logger === false
        ? false
        : {
            level: typeof options.logger === 'object' ? options.logger.level : 'info',
            redact: ['req.headers.authorization'],
            // JSON lines carrying the active trace, so a log line leads to its trace and back.
            mixin: traceLogFields,
            ...(typeof options.logger === 'object' && options.logger.stream ? { stream: options.logger.stream } : {}),
          },
    // Record ids may be 256 characters; URI-encoded, longer.
    routerOptions: { maxParamLength: 1024 },
    onProtoPoisoning: 'error',
    onConstructorPoisoning: 'error',
    // One log line per request would cost more than the request at thousands per second.
    logController: new LogController({ disableRequestLogging: true }),
    ajv: { customOptions: { coerceTypes: false, removeAdditional: false, allErrors: false } },
  });

  traceRequests(app);
  // Response schemas document the answers (OpenAPI at /docs); answers are plain JSON.stringify as
  // before, so a field the schema does not list is never dropped silently.
  app.setSerializerCompiler(() => (data) => JSON.stringify(data));
  app.addSchema(errorResponseSchema);
  app.setErrorHandler((error: FastifyError, request, reply) => {
    const mapped = toRecsyncError(error);
    if (mapped.status >= 500) request.log.error({ err: error }, mapped.message);
    void reply.status(mapped.status).send(mapped.toJSON());
  });
  app.setNotFoundHandler((request, reply) => {
    void reply.status(404).send({ code: 'RECSYNC_ERR_NOT_FOUND', message: `no route ${request.method} ${request.url}` });
  });

  installAuth(app, options.auth);
  // Every mutation, once answered: who, what, on which target, how it ended. Never a body.
  app.addHook('onResponse', async (request, reply) => {
    const action = request.routeOptions.config.audit;
    if (!action || !request.caller) return;
    const target = Object.fromEntries(Object.entries((request.params ?? {}) as Record<string, string>).map(([key, value]) => [key, String(value)]));
    await services.audit
      .record({ who: request.caller.name, role: request.caller.role, action, target, status: reply.statusCode, requestId: request.id, ip: request.ip })
      .catch((error: Error) => request.log.error({ err: error, action, target }, 'audit log write failed'));
  });

  // First: the OpenAPI document is made of the routes registered after it.
  registerOpenApi(app);
  void app.register(healthRoutes, { services });
  void app.register(taskRoutes, { services });
  void app.register(eventRoutes, { services });
  void app.register(recordRoutes, { services });
  void app.register(connectorRoutes, { services });
  void app.register(deadLetterRoutes, { services });
  void app.register(metricsRoutes, { services });
  void app.register(
    async (scope) => {
      roleForRoutes(scope, 'read');
      // Every connector's queue, and the way back's (`<name>.in`) of those that receive webhooks.
      await scope.register(queueDashboard(services.queues, () => services.registry.slots().flatMap((slot) => (slot.current?.inbound ? [slot.name, inboundName(slot.name)] : [slot.name]))));
    },
    { prefix: dashboardPath },
  );
  void app.register(webhookRoutes, { services });
  return app;
}

function toRecsyncError(error: FastifyError): RecsyncError {
  if (isRecsyncError(error)) return error;
  switch (error.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new RecsyncError('RECSYNC_ERR_BODY_TOO_LARGE', error.message);
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return new RecsyncError('RECSYNC_ERR_BAD_JSON', `the body is not valid JSON: ${error.message}`, [{ field: '(body)', message: error.message }]);
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new RecsyncError('RECSYNC_ERR_VALIDATION', 'send the body as application/json', [{ field: 'content-type', message: error.message }]);
    default:
      break;
  }
  if (isRedisUnavailable(error)) {
    return new RecsyncError('RECSYNC_ERR_REDIS_UNAVAILABLE', `Redis is not reachable (${error.message}); try again shortly`, [], { cause: error });
  }
  if (error.validation) {
    const details = error.validation.map((v) => ({ field: `${error.validationContext ?? ''}${v.instancePath.replaceAll('/', '.')}`, message: v.message ?? v.keyword }));
    return new RecsyncError('RECSYNC_ERR_VALIDATION', details.map((d) => `${d.field} ${d.message}`).join('; '), details);
  }
  // Fastify answers body-parser problems (e.g. __proto__ keys) with a 400 statusCode.
  if (error.statusCode !== undefined && error.statusCode >= 400 && error.statusCode < 500) {
    return new RecsyncError('RECSYNC_ERR_VALIDATION', error.message);
  }
  return new RecsyncError('RECSYNC_ERR_INTERNAL', errorCatalogue.RECSYNC_ERR_INTERNAL.summary, [], { cause: error });
}

/** ioredis's words for "not connected": with the offline queue off, calls fail at once with these. */
function isRedisUnavailable(error: Error): boolean {
  return /enableOfflineQueue|Connection is closed|ECONNREFUSED|MaxRetriesPerRequest|Stream isn't writeable/.test(error.message) || error.name === 'MaxRetriesPerRequestError';
}
