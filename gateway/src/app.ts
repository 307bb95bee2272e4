import type http from 'node:http';
import type { Express, RequestHandler } from 'express';
import {
  INTERNAL_TOKEN_HEADER,
  TENANT_AUTH_HEADER,
  TENANT_HEADER,
  TENANT_KEY_HEADER,
  TENANT_SCOPES_HEADER,
  createServiceApp,
  serveApiDocs,
  standardReadiness,
  type Cache,
  type Database,
  type Logger,
  type SecurityEvents,
  type TenantDirectory,
  type TenantTokenKeyring,
  type ServiceMetrics,
} from '@bridge/shared';
import { authFailureBudget, perClientBudget } from './client-budgets';
import { answerPreflight, checkOrigin } from './cors';
import { gatewayRouteLabel } from './route-labels';
import type { LastUsedRecorder } from './last-used';
import { proxyTo } from './proxy';
import { createRateLimits } from './rate-limits';
import { tenantApiDocument } from './openapi';
import { requireScope } from './scopes';
import { createTenantResolver } from './tenant-resolver';
import type { TokenBuckets } from './token-bucket';

/** What the gateway is built from (server.ts builds them). Its `close` closes `lastUsed`, `securityEvents` and `agent`. */
export interface GatewayDeps {
  /** The service's metrics registry (startService's): its HTTP requests are counted and timed by route. */
  metrics?: ServiceMetrics;
  db: Database;
  cache: Cache;
  logger: Logger;
  directory: TenantDirectory;
  /** Flushed and stopped on close. */
  lastUsed: LastUsedRecorder;
  /** Security events (revoked or expired keys used, subdomain/key mismatches), counted per key per window; closed on close. */
  securityEvents?: SecurityEvents;
  /** Keep-alive agent to the services (see proxy.ts); destroyed on close. */
  agent: http.Agent;
  /** Verifies tenant JWTs: JWT_SECRET and JWT_PREVIOUS_SECRETS. */
  jwtKeyring: TenantTokenKeyring;
  internalToken: string;
  baseDomain?: string;
  allowSubdomainOnly?: boolean;
  targets: { state: string; auth: string; webhook: string };
  /** How long a service may take to answer, in ms. */
  proxyTimeoutMs: number;
  /** How many reverse proxies' X-Forwarded-For entries to believe for the client address (never `true`: a client could then name any address). */
  trustProxyHops?: number;
  /**
   * Per client address (see client-budgets.ts): `webhook`, a token per request to /webhook/*;
   * `authFailures`, a token per failed authentication on /state and /auth. Unset: no budget.
   */
  budgets: { webhook?: TokenBuckets; authFailures?: TokenBuckets; ipv6Prefix: number };
}

/** The routes that serve a tenant: each resolves the tenant first and is rate-limited per tenant and key. */
const TENANT_ROUTES = ['/state', '/auth', '/templates', '/messages'];

/** Headers only the gateway may set: whatever a client sent under these names is dropped. */
const TRUSTED_HEADERS = [TENANT_HEADER, INTERNAL_TOKEN_HEADER, TENANT_AUTH_HEADER, TENANT_KEY_HEADER, TENANT_SCOPES_HEADER];

const dropClientTrustHeaders: RequestHandler = (req, _res, next) => {
  for (const h of TRUSTED_HEADERS) delete req.headers[h];
  next();
};

/**
 * The gateway on :3000. Tenant routes (/state, /auth, /templates, /messages): resolve the tenant, rate-limit, forward
 * with X-Tenant-ID and the internal token. Webhooks (/webhook): forwarded untouched, for
 * webhook-service to authenticate by signature. Bodies are never read here.
 */
export function createGateway(deps: GatewayDeps): { app: Express; close(): Promise<void> } {
  const { lastUsed, agent } = deps;
  const resolver = createTenantResolver({
    directory: deps.directory,
    jwtKeyring: deps.jwtKeyring,
    baseDomain: deps.baseDomain,
    allowSubdomainOnly: deps.allowSubdomainOnly,
    onApiKeyUsed: (keyId, ip) => lastUsed.record(keyId, ip),
    securityEvents: deps.securityEvents,
  });
  const forwardTenant: RequestHandler = (req, _res, next) => {
    req.headers[TENANT_HEADER] = req.tenant!.tenantId;
    req.headers[TENANT_AUTH_HEADER] = req.tenant!.auth;
    if (req.tenant!.keyId) req.headers[TENANT_KEY_HEADER] = req.tenant!.keyId;
    if (req.tenant!.scopes) req.headers[TENANT_SCOPES_HEADER] = req.tenant!.scopes.join(' ');
    req.headers[INTERNAL_TOKEN_HEADER] = deps.internalToken;
    next();
  };
  const proxyOptions = { timeoutMs: deps.proxyTimeoutMs, logger: deps.logger, agent };
  const { ipv6Prefix } = deps.budgets;
  const webhookBudget = deps.budgets.webhook && perClientBudget(deps.budgets.webhook, { ipv6Prefix, logger: deps.logger });
  const failures = deps.budgets.authFailures && authFailureBudget(deps.budgets.authFailures, { ipv6Prefix });

  const app = createServiceApp({
    name: 'gateway',
    metrics: deps.metrics,
    routeLabel: gatewayRouteLabel,
    logger: deps.logger,
    readiness: standardReadiness(deps),
    routes: (a) => {
      if (deps.trustProxyHops) a.set('trust proxy', deps.trustProxyHops);
      a.use(dropClientTrustHeaders);
      // The tenant API's description and its documentation page: public (it holds no tenant's
      // data), answered before tenant resolution, whose scope table refuses paths it does not name.
      serveApiDocs(a, () => tenantApiDocument('0.1.0'));
      if (webhookBudget) a.use('/webhook', webhookBudget);
      a.use(proxyTo('/webhook', deps.targets.webhook, proxyOptions));
      // CORS preflights carry no key: answered before any check (cors.ts).
      a.use(TENANT_ROUTES, answerPreflight);
      // A client out of failed authentications is refused before any lookup; each failure costs it one.
      // Then the key's browser origins and the route's scope (issue #13), before it spends any of the rate limit.
      a.use(
        TENANT_ROUTES,
        ...(failures ? [failures.check, resolver, failures.charge] : [resolver]),
        checkOrigin,
        requireScope,
        ...createRateLimits(deps.cache, deps.logger),
        forwardTenant,
      );
      // The tenant API's data: /state/*, the template catalogue and proactive messages (issue #11).
      for (const prefix of ['/state', '/templates', '/messages']) a.use(proxyTo(prefix, deps.targets.state, proxyOptions));
      a.use(proxyTo('/auth', deps.targets.auth, proxyOptions));
    },
  });
  return {
    app,
    close: async () => {
      await Promise.all([lastUsed.close(), deps.securityEvents?.close?.()]);
      agent.destroy();
    },
  };
}
