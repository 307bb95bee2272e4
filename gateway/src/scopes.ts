import type { RequestHandler } from 'express';
import { appError, type ApiKeyScope } from '@bridge/shared';

/**
 * The scope each tenant route needs (issue #13), in one place: method, path pattern (the path as
 * the client sends it, without the query; case-insensitive with an optional trailing slash, as
 * Express routes), scope. `null`: any authenticated caller (POST /auth/token buys a token
 * carrying the key's own scopes). Fails closed: a tenant request none of these match is answered
 * 404 ROUTE_NOT_FOUND here, as the services would, so no spelling of a path reaches a route
 * unchecked. A new tenant route must be added here.
 */
export const ROUTE_SCOPES: ReadonlyArray<{ method: string; path: RegExp; scope: ApiKeyScope | null }> = [
  { method: 'GET', path: /^\/state\/stats\/?$/i, scope: 'stats:read' },
  { method: 'GET', path: /^\/state\/conversations\/?$/i, scope: 'conversations:read' },
  { method: 'GET', path: /^\/state\/messages\/?$/i, scope: 'messages:read' },
  { method: 'POST', path: /^\/state\/messages\/[^/]+\/retry\/?$/i, scope: 'messages:retry' },
  { method: 'GET', path: /^\/messages\/[^/]+\/?$/i, scope: 'messages:read' },
  { method: 'GET', path: /^\/state\/mapping\/[^/]+\/?$/i, scope: 'mappings:read' },
  { method: 'POST', path: /^\/state\/mapping\/?$/i, scope: 'mappings:write' },
  { method: 'POST', path: /^\/messages\/?$/i, scope: 'messages:send' },
  { method: 'GET', path: /^\/templates\/?$/i, scope: 'templates:read' },
  { method: 'GET', path: /^\/state\/usage\/?$/i, scope: 'usage:read' },
  { method: 'GET', path: /^\/state\/audit\/?$/i, scope: 'audit:read' },
  { method: 'GET', path: /^\/state\/notifications\/?$/i, scope: 'notifications:read' },
  { method: 'POST', path: /^\/auth\/token\/?$/i, scope: null },
];

/** The scope `method path` needs; null: none; undefined: no tenant route the gateway knows. HEAD is GET's. */
export function scopeFor(method: string, path: string): ApiKeyScope | null | undefined {
  const m = method === 'HEAD' ? 'GET' : method;
  return ROUTE_SCOPES.find((r) => r.method === m && r.path.test(path))?.scope;
}

/**
 * Refuses a request whose route needs a scope the caller does not hold: 403 INSUFFICIENT_SCOPE
 * naming it; a route the table does not name: 404 ROUTE_NOT_FOUND. Runs after the tenant resolver (req.tenant.scopes: the key's, narrowed by a
 * token's; undefined for subdomain-only callers, whom the fronting proxy authorised).
 */
export const requireScope: RequestHandler = (req, _res, next) => {
  const held = req.tenant?.scopes;
  // originalUrl: the mount point (/state, /messages) is part of what the table names.
  const path = req.originalUrl.split('?')[0];
  const needed = scopeFor(req.method, path);
  if (needed === undefined) return next(appError('ROUTE_NOT_FOUND'));
  if (!held || !needed || held.includes(needed)) return next();
  next(appError('INSUFFICIENT_SCOPE', `This route (${req.method} ${path}) needs the scope ${needed}, which these credentials do not hold`));
};
