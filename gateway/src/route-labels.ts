import type { Request } from 'express';
import { ROUTE_SCOPES } from './scopes';

/**
 * The route template a gateway request is counted under (`http_requests_total{route}`). The
 * gateway answers through proxies, not Express routes, so the template is found here: a tenant
 * route by the route → scope table (`/^\/state\/mapping\/[^/]+\/?$/i` → `/state/mapping/:param`),
 * a webhook by its path's shape; anything else is left to the `unmatched` label. Never a raw
 * path: the number of label values stays that of the table whatever clients send.
 */
const templateOf = (pattern: RegExp) =>
  pattern.source
    .replace(/^\^/, '')
    .replace(/\\\/\?\$$|\$$/, '')
    .replace(/\[\^\/\]\+/g, ':param')
    .replace(/\\\//g, '/');

const TENANT_ROUTES = ROUTE_SCOPES.map((r) => ({ method: r.method, path: r.path, label: templateOf(r.path) }));

/** webhook-service's routes, as the gateway forwards them (webhook-service/src/routes.ts, media.ts). */
const WEBHOOK_ROUTES: ReadonlyArray<[RegExp, string]> = [
  [/^\/webhook\/meta\/?$/i, '/webhook/meta'],
  [/^\/webhook\/meta\/[^/]+\/?$/i, '/webhook/meta/:tenantId'],
  [/^\/webhook\/genesys\/[^/]+\/?$/i, '/webhook/genesys/:tenantId'],
  [/^\/webhook\/media\/[^/]+\/[^/]+\/?$/i, '/webhook/media/:tenantId/:mediaId'],
];

export function gatewayRouteLabel(req: Request): string | undefined {
  const path = req.originalUrl.split('?')[0];
  const method = req.method === 'HEAD' ? 'GET' : req.method;
  const tenant = TENANT_ROUTES.find((r) => r.method === method && r.path.test(path));
  if (tenant) return tenant.label;
  return WEBHOOK_ROUTES.find(([pattern]) => pattern.test(path))?.[1];
}
