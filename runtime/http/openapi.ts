import { readFileSync } from 'node:fs';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { FastifyInstance, RouteOptions } from 'fastify';
import { roleForRoutes } from './auth.ts';
import { errorRef } from './schemas.ts';

const { version } = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };

/** Where the Swagger UI is served; its JSON is at `<docsPath>/json`. */
export const docsPath = '/docs';

/**
 * The OpenAPI 3.1 document (3.1 because its schemas are JSON Schema 2020-12, the dialect our ajv
 * validates with, so the route schemas go in unchanged) and the Swagger UI at /docs. Every route
 * documents itself through its Fastify schema; this adds what the route's config already says: the
 * role it needs (`x-recsync-role`, and a line of its description), the bearer scheme (none for
 * public routes), and the answers every protected route can give (401, 403, other errors).
 * Call on the root instance before the routes: the document is made of the routes registered after it.
 */
export function registerOpenApi(app: FastifyInstance): void {
  void app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'recsync',
        version,
        description: 'Record-sync runtime: producers send tasks, operators watch and steer connectors. Every route but the health checks needs `Authorization: Bearer <token>` with a role that grants it (`x-recsync-role`).',
      },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer', description: 'A token of api.tokens in config/runtime.yaml.' } } },
      security: [{ bearer: [] }],
      tags: [
        { name: 'tasks', description: 'Ingest' },
        { name: 'records', description: 'Record state' },
        { name: 'connectors', description: 'Status and steering' },
        { name: 'dead letters', description: 'The dead-letter queue' },
        { name: 'operations', description: 'Audit log, metrics, health' },
      ],
    },
    // Shared schemas appear under their $id (Task, Error), not def-N.
    refResolver: { buildLocalReference: (json, _baseUri, _fragment, i) => (typeof json['$id'] === 'string' ? json['$id'] : `def-${i}`) },
    transform: ({ schema, url, route }) => ({ schema: documented(schema as Record<string, unknown> | undefined, route as RouteOptions), url }),
  });
  void app.register(async (scope) => {
    roleForRoutes(scope, 'read');
    await scope.register(swaggerUi, { routePrefix: docsPath, staticCSP: true, uiConfig: { deepLinking: true, persistAuthorization: false } });
  });
}

function documented(schema: Record<string, unknown> | undefined, route: RouteOptions): Record<string, unknown> {
  const role = route.config?.role ?? 'admin';
  const out: Record<string, unknown> = { ...schema };
  out['x-recsync-role'] = role;
  const lead = role === 'public' ? 'Public: no token needed.' : `Role: \`${role}\` (or a role that includes it).`;
  out['description'] = typeof schema?.['description'] === 'string' ? `${lead}\n\n${schema['description']}` : lead;
  if (role === 'public') {
    out['security'] = [];
    return out;
  }
  const response = { ...(schema?.['response'] as Record<string, unknown> | undefined) };
  response['401'] ??= errorRef('No token, or one that is not configured (RECSYNC_ERR_UNAUTHORIZED).');
  response['403'] ??= errorRef(`The token's role does not grant ${role} (RECSYNC_ERR_FORBIDDEN).`);
  response['default'] ??= errorRef('Any other error, with a code of the error catalogue (docs/reference/errors.md).');
  out['response'] = response;
  return out;
}
