import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import type { Services } from '../../services.ts';
import { errorRef } from '../schemas.ts';

/**
 * `POST /v1/webhooks/:connector`: the CRM's webhooks, in its own format. Public (the CRM has no
 * API token): the connector's signature check is the authentication. The body is kept as raw
 * bytes, because the signature covers exactly those bytes; the receiver parses it once verified.
 */
export const webhookRoutes: FastifyPluginAsync<{ services: Services }> = async (app, { services }) => {
  // Encapsulated: only this plugin's routes see bodies as bytes; every other route keeps JSON.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_request, body, done) => done(null, body));

  app.post<{ Params: { connector: string } }>(
    '/v1/webhooks/:connector',
    {
      config: { role: 'public' },
      schema: {
        tags: ['webhooks'],
        summary: "The CRM's webhooks, in its own format, authenticated by its signature",
        description: 'Answers 200 once every change is durably queued; the body is checked against the CRM\'s signature on its raw bytes, so it is not described here (see docs/reference/api.md).',
        response: {
          401: errorRef('The signature is missing or wrong, or the delivery is stale.'),
          404: errorRef('No connector of that name receives webhooks.'),
          409: errorRef('The same signed delivery was seen before (a replay).'),
        },
      },
    },
    async (request, reply) => {
    const body = Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0);
    const headers: Record<string, string | undefined> = {};
    for (const [key, value] of Object.entries(request.headers)) headers[key.toLowerCase()] = Array.isArray(value) ? value.join(', ') : value;
    const answer = await services.webhooks.receive(request.params.connector, { method: request.method, url: '', headers, body, now: Date.now() }, (publicUrl) => urlOf(request, publicUrl));
    return reply.status(200).send(answer);
    },
  );
};

/** The URL the CRM called: the manifest's public URL when recsync sits behind a proxy, else the request's own. */
function urlOf(request: FastifyRequest, publicUrl: string | undefined): string {
  const path = request.url;
  if (publicUrl !== undefined) {
    const base = new URL(publicUrl);
    // The public URL names the route itself; a query string the CRM added stays part of what it signed.
    const query = path.includes('?') ? path.slice(path.indexOf('?')) : '';
    return `${base.origin}${base.pathname}${query}`;
  }
  return `${request.protocol}://${request.host}${path}`;
}
