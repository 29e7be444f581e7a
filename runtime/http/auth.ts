import { createHash, timingSafeEqual } from 'node:crypto';
import { isIP } from 'node:net';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { RecsyncError } from '../errors.ts';

/**
 * What a token may do. `read` sees everything; `operate` also steers (pause, resume, reload,
 * replay); `admin` may do everything, including deleting dead letters and reading the audit log;
 * `ingest` may only send tasks (a producer's token).
 */
export type Role = 'ingest' | 'read' | 'operate' | 'admin';
export const roles: readonly Role[] = ['ingest', 'read', 'operate', 'admin'];

const grants: Record<Role, ReadonlySet<Role>> = {
  ingest: new Set(['ingest']),
  read: new Set(['read']),
  operate: new Set(['read', 'operate']),
  admin: new Set(roles),
};

export interface ApiToken {
  /** Who holds it: shown in the audit log, never the secret. */
  name: string;
  role: Role;
  token: string;
}

/** Who made a request: the token's name and role. */
export interface Caller {
  name: string;
  role: Role;
}

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The role a route needs; `public` for health checks. Routes that say nothing need `admin`. */
    role?: Role | 'public';
    /** The audit log's name for what a mutating route does (e.g. `connector.pause`). */
    audit?: string;
  }
  interface FastifyRequest {
    caller: Caller | undefined;
  }
}

export interface AuthSettings {
  tokens: readonly ApiToken[];
  /** The address the API listens on. */
  host: string;
  /** Development mode (NODE_ENV is not `production`): only then may the API run without tokens, on loopback. */
  development: boolean;
}

/**
 * Checks the settings once, at start: with no token, the API must be on loopback in development
 * mode, and then every caller is an anonymous admin (said loudly in the log and in /v1/connectors).
 * Returns whether the API runs open.
 */
export function checkAuthSettings(settings: AuthSettings): { open: boolean } {
  const names = new Set<string>();
  const secrets = new Set<string>();
  for (const [index, token] of settings.tokens.entries()) {
    const field = `api.tokens[${index}]`;
    if (!roles.includes(token.role)) throw new RecsyncError('RECSYNC_ERR_CONFIG_INVALID', `${field}.role must be one of ${roles.join(', ')}`, [{ field: `${field}.role`, message: `must be one of ${roles.join(', ')}` }]);
    if (typeof token.token !== 'string' || token.token.length < 16) {
      throw new RecsyncError('RECSYNC_ERR_CONFIG_INVALID', `${field}.token (${token.name}) must be at least 16 characters`, [{ field: `${field}.token`, message: 'must be at least 16 characters' }]);
    }
    if (names.has(token.name)) throw new RecsyncError('RECSYNC_ERR_CONFIG_INVALID', `${field}.name "${token.name}" is used twice`, [{ field: `${field}.name`, message: 'is used twice' }]);
    if (secrets.has(token.token)) throw new RecsyncError('RECSYNC_ERR_CONFIG_INVALID', `${field}.token (${token.name}) is the same secret as another token`, [{ field: `${field}.token`, message: 'is the same secret as another token' }]);
    names.add(token.name);
    secrets.add(token.token);
  }
  if (settings.tokens.length > 0) return { open: false };
  if (settings.development && isLoopback(settings.host)) return { open: true };
  const why = settings.development ? `it listens on ${settings.host}, not on loopback` : 'NODE_ENV is production';
  throw new RecsyncError(
    'RECSYNC_ERR_CONFIG_INVALID',
    `no API token is configured (api.tokens in config/runtime.yaml), and the API may run without tokens only on loopback in development mode; ${why}`,
    [{ field: 'api.tokens', message: 'configure at least one token' }],
  );
}

/**
 * Every request needs `Authorization: Bearer <token>` with a role the route grants, except routes
 * marked `public`. A missing or unknown token gets 401, a weak role 403. Tokens are compared by
 * their SHA-256 in constant time, against every configured token (no early exit).
 */
export function installAuth(app: FastifyInstance, settings: AuthSettings): void {
  const { open } = checkAuthSettings(settings);
  const known = settings.tokens.map((t) => ({ caller: { name: t.name, role: t.role }, digest: digest(t.token) }));
  app.decorateRequest('caller', undefined);
  app.addHook('onRequest', async (request, reply) => {
    const needed = request.routeOptions.config.role ?? 'admin';
    if (needed === 'public') return;
    const caller = open ? { name: 'anonymous (development mode, no tokens)', role: 'admin' as const } : identify(known, request);
    if (!caller) {
      void reply.header('www-authenticate', 'Bearer realm="recsync"');
      return refuse(reply, new RecsyncError('RECSYNC_ERR_UNAUTHORIZED', 'send a valid API token: Authorization: Bearer <token>'));
    }
    request.caller = caller;
    if (!grants[caller.role].has(needed)) {
      return refuse(reply, new RecsyncError('RECSYNC_ERR_FORBIDDEN', `the token "${caller.name}" has the role ${caller.role}; ${request.method} ${request.routeOptions.url ?? request.url} needs ${needed}`));
    }
  });
}

/**
 * Answers a refusal here rather than throwing it: a plugin may install its own error handler for
 * its routes (bull-board does), and a refusal must look the same on every route.
 */
function refuse(reply: FastifyReply, error: RecsyncError): FastifyReply {
  return reply.status(error.status).send(error.toJSON());
}

/**
 * Gives the routes that plugins registered in `scope` (after this call) a role, since they cannot
 * say it themselves: `role` for reads (GET, HEAD), `admin` for anything else. Routes that name a
 * role keep it.
 */
export function roleForRoutes(scope: FastifyInstance, role: Role): void {
  scope.addHook('onRoute', (route) => {
    if (route.config?.role !== undefined) return;
    const methods = [route.method].flat();
    const reads = methods.every((method) => method === 'GET' || method === 'HEAD');
    route.config = { ...route.config, role: reads ? role : 'admin' };
  });
}

function identify(known: ReadonlyArray<{ caller: Caller; digest: Buffer }>, request: FastifyRequest): Caller | undefined {
  const header = request.headers.authorization;
  const match = typeof header === 'string' ? /^Bearer\s+(\S+)\s*$/i.exec(header) : null;
  if (!match) return undefined;
  const presented = digest(match[1]!);
  let found: Caller | undefined;
  for (const entry of known) {
    if (timingSafeEqual(entry.digest, presented)) found = entry.caller;
  }
  return found;
}

function digest(token: string): Buffer {
  return createHash('sha256').update(token, 'utf8').digest();
}

export function isLoopback(host: string): boolean {
  if (host === 'localhost') return true;
  const bare = host.replace(/^\[|\]$/g, '');
  if (isIP(bare) === 4) return bare.startsWith('127.');
  return bare === '::1' || bare === '::ffff:127.0.0.1';
}
