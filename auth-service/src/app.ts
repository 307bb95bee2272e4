import type { Express } from 'express';
import {
  TENANT_AUTH_HEADER,
  TENANT_KEY_HEADER,
  TENANT_SCOPES_HEADER,
  isApiKeyScope,
  appError,
  createInternalApp,
  createServiceApp,
  requireGatewayTenant,
  standardReadiness,
  type Cache,
  type CallerTokens,
  type CredentialsClient,
  type Database,
  type Logger,
  type TenantTokenKeyring,
  type ServiceMetrics,
} from '@bridge/shared';
import type { GenesysTokenBroker } from './genesys-token-broker';
import { internalRoutes } from './internal-routes';

/** What auth-service is built from (server.ts builds them). Its `close` closes `broker` and `credentials`. */
export interface AuthServiceDeps {
  /** The service's metrics registry (startService's): its HTTP requests are counted and timed by route. */
  metrics?: ServiceMetrics;
  db: Database;
  cache: Cache;
  logger: Logger;
  /** GATEWAY_INTERNAL_TOKEN's tokens: /auth/token trusts the tenant the gateway names only with one of them. */
  gatewayTokens: readonly string[];
  /** The services that may call the internal routes (genesys-connector), with their tokens. */
  internalCallers: CallerTokens;
  /** Signs tenant JWTs with its newest secret (JWT_SECRET). */
  jwtKeyring: TenantTokenKeyring;
  /** Lifetime of the tenant JWTs it signs, in seconds. */
  jwtTtlSeconds: number;
  /** Started (subscribed to tenant events). */
  broker: GenesysTokenBroker;
  /** Started; the broker reads tenants' Genesys credentials through it. */
  credentials: CredentialsClient;
}

/**
 * auth-service: exchanges an API key (already checked by the gateway) for a short-lived tenant
 * JWT (`app`, port 3003), and brokers the tenants' Genesys OAuth tokens for the other services
 * (`internalApp`, INTERNAL_PORT, never published).
 */
export function createAuthService(deps: AuthServiceDeps): { app: Express; internalApp: Express; close(): Promise<void> } {
  const app = createServiceApp({
    name: 'auth-service',
    metrics: deps.metrics,
    logger: deps.logger,
    readiness: standardReadiness(deps),
    routes: (app) => {
      app.post('/auth/token', requireGatewayTenant(deps.gatewayTokens), (req, res) => {
        // A token buys a token only through a key: a stolen JWT must not renew itself forever.
        const keyId = req.headers[TENANT_KEY_HEADER];
        if (req.headers[TENANT_AUTH_HEADER] !== 'api-key' || typeof keyId !== 'string' || !keyId) {
          throw appError('API_KEY_REQUIRED');
        }
        // The token names its key: the gateway ends it with the key and counts it against the key's limit.
        // It carries the key's scopes (the gateway's X-Tenant-Scopes), never more: the gateway also narrows it to the key's current ones.
        const scopeHeader = req.headers[TENANT_SCOPES_HEADER];
        const scopes = typeof scopeHeader === 'string' ? scopeHeader.split(' ').filter(isApiKeyScope) : [];
        const { token, expiresIn } = deps.jwtKeyring.sign({ tenantId: req.tenantId!, keyId, scopes }, deps.jwtTtlSeconds);
        res.set('Cache-Control', 'no-store');
        res.json({ token, expiresIn, tokenType: 'Bearer' });
      });
    },
  });
  const internalApp = createInternalApp({ logger: deps.logger, metrics: deps.metrics, routes: (app) => app.use(internalRoutes(deps.broker, deps.internalCallers)) });
  return {
    app,
    internalApp,
    close: async () => {
      await deps.broker.close();
      await deps.credentials.close();
    },
  };
}
