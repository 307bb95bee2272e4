import type http from 'node:http';
import type { Express, RequestHandler } from 'express';
import {
  INTERNAL_TOKEN_HEADER,
  TENANT_AUTH_HEADER,
  TENANT_HEADER,
  createServiceApp,
  standardReadiness,
  type Cache,
  type Database,
  type Logger,
  type TenantDirectory,
} from '@bridge/shared';
import type { LastUsedRecorder } from './last-used';
import { proxyTo } from './proxy';
import { createRateLimits } from './rate-limits';
import { createTenantResolver } from './tenant-resolver';

/** What the gateway is built from (server.ts builds them). Its `close` closes `lastUsed` and `agent`. */
export interface GatewayDeps {
  db: Database;
  cache: Cache;
  logger: Logger;
  directory: TenantDirectory;
  /** Flushed and stopped on close. */
  lastUsed: LastUsedRecorder;
  /** Keep-alive agent to the services (see proxy.ts); destroyed on close. */
  agent: http.Agent;
  jwtSecret: string;
  internalToken: string;
  baseDomain?: string;
  allowSubdomainOnly?: boolean;
  targets: { state: string; auth: string; webhook: string };
  /** How long a service may take to answer, in ms. */
  proxyTimeoutMs: number;
  trustProxyHops?: number;
}

/** Headers only the gateway may set: whatever a client sent under these names is dropped. */
const TRUSTED_HEADERS = [TENANT_HEADER, INTERNAL_TOKEN_HEADER, TENANT_AUTH_HEADER];

const dropClientTrustHeaders: RequestHandler = (req, _res, next) => {
  for (const h of TRUSTED_HEADERS) delete req.headers[h];
  next();
};

/**
 * The gateway on :3000. Tenant routes (/state, /auth): resolve the tenant, rate-limit, forward
 * with X-Tenant-ID and the internal token. Webhooks (/webhook): forwarded untouched, for
 * webhook-service to authenticate by signature. Bodies are never read here.
 */
export function createGateway(deps: GatewayDeps): { app: Express; close(): Promise<void> } {
  const { lastUsed, agent } = deps;
  const resolver = createTenantResolver({
    directory: deps.directory,
    jwtSecret: deps.jwtSecret,
    baseDomain: deps.baseDomain,
    allowSubdomainOnly: deps.allowSubdomainOnly,
    onApiKeyUsed: (keyId) => lastUsed.record(keyId),
  });
  const forwardTenant: RequestHandler = (req, _res, next) => {
    req.headers[TENANT_HEADER] = req.tenant!.tenantId;
    req.headers[TENANT_AUTH_HEADER] = req.tenant!.auth;
    req.headers[INTERNAL_TOKEN_HEADER] = deps.internalToken;
    next();
  };
  const proxyOptions = { timeoutMs: deps.proxyTimeoutMs, logger: deps.logger, agent };

  const app = createServiceApp({
    name: 'gateway',
    logger: deps.logger,
    readiness: standardReadiness(deps),
    routes: (a) => {
      if (deps.trustProxyHops) a.set('trust proxy', deps.trustProxyHops);
      a.use(dropClientTrustHeaders);
      a.use(proxyTo('/webhook', deps.targets.webhook, proxyOptions));
      a.use(['/state', '/auth'], resolver, ...createRateLimits(deps.cache), forwardTenant);
      a.use(proxyTo('/state', deps.targets.state, proxyOptions));
      a.use(proxyTo('/auth', deps.targets.auth, proxyOptions));
    },
  });
  return {
    app,
    close: async () => {
      await lastUsed.close();
      agent.destroy();
    },
  };
}
