/**
 * Each service holds only the secrets it uses (#9, kind 4): in production a service requires
 * exactly those its config schema declares, so the two internet-facing parsers (gateway,
 * webhook-service) run without the admin key and the credentials keyring; and a service's
 * internal routes listen on their own port, closed with the service. The compose side (each
 * container given only its secrets, no internal port published) and the internal routes on real
 * processes are in deploy.test.ts.
 */
import net from 'node:net';
import request from 'supertest';
import { requiredInProduction, type RunningService } from '@bridge/shared';
import { start as startGateway } from '@bridge/gateway';
import { start as startWebhookService } from '@bridge/webhook-service';
import { start as startStateManager } from '@bridge/state-manager';
import { start as startAuthService } from '@bridge/auth-service';
import { start as startGenesysConnector } from '@bridge/genesys-connector';
import { start as startTenantService } from '@bridge/tenant-service';
import { configSchema as gatewaySchema } from '../gateway/src/config';
import { configSchema as webhookSchema } from '../webhook-service/src/config';
import { configSchema as stateSchema } from '../state-manager/src/config';
import { configSchema as authSchema } from '../auth-service/src/config';
import { configSchema as connectorSchema } from '../genesys-connector/src/config';
import { configSchema as tenantSchema } from '../tenant-service/src/config';
import { createTestDatabase, type TestDatabase } from './support/db';
import { serviceEnv, testSecrets } from './support/env';

const SERVICES = {
  gateway: { start: startGateway, schema: gatewaySchema },
  'webhook-service': { start: startWebhookService, schema: webhookSchema },
  'state-manager': { start: startStateManager, schema: stateSchema },
  'auth-service': { start: startAuthService, schema: authSchema },
  'genesys-connector': { start: startGenesysConnector, schema: connectorSchema },
  'tenant-service': { start: startTenantService, schema: tenantSchema },
};
type Name = keyof typeof SERVICES;

let tdb: TestDatabase;
/** Closed after the file, should a test fail before closing what it started. */
const started = new Set<RunningService>();

beforeAll(async () => {
  tdb = await createTestDatabase();
});

afterAll(async () => {
  for (const service of started) await service.close().catch(() => undefined);
  await tdb?.drop();
});

/** Production, on free ports, with only the secrets the service's schema requires. */
function productionEnv(name: Name, extra: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
  const env = serviceEnv(tdb.appUrl, { NODE_ENV: 'production', PORT: '0', INTERNAL_PORT: '0', ...extra });
  for (const secret of Object.keys(testSecrets)) delete env[secret];
  for (const secret of requiredInProduction(SERVICES[name].schema)) env[secret] = testSecrets[secret as keyof typeof testSecrets];
  return env;
}

async function startService(name: Name, env: NodeJS.ProcessEnv): Promise<RunningService> {
  const service = await SERVICES[name].start(env);
  started.add(service);
  return service;
}

describe('in production, the internet-facing services hold neither the admin key nor the credentials keyring', () => {
  it.each(['gateway', 'webhook-service'] as const)('%s starts without ADMIN_API_KEY, CREDENTIALS_ENCRYPTION_KEY(S) and INTERNAL_SERVICE_TOKEN', async (name) => {
    const env = productionEnv(name);
    for (const absent of ['ADMIN_API_KEY', 'CREDENTIALS_ENCRYPTION_KEY', 'CREDENTIALS_ENCRYPTION_KEYS', 'INTERNAL_SERVICE_TOKEN']) expect(env[absent]).toBeUndefined();
    const service = await startService(name, env);
    await request(`http://127.0.0.1:${service.port}`).get('/health').expect(200);
    // No internal routes, so no internal listener.
    expect(service.internalPort).toBeUndefined();
    await service.close();
  });

  it.each(['gateway', 'webhook-service'] as const)('%s is not even given the keyring: its schema does not declare one', (name) => {
    expect(requiredInProduction(SERVICES[name].schema)).not.toEqual(expect.arrayContaining(['CREDENTIALS_ENCRYPTION_KEY']));
    expect(Object.keys(SERVICES[name].schema.shape)).not.toEqual(expect.arrayContaining(['ADMIN_API_KEY']));
    expect(Object.keys(SERVICES[name].schema.shape)).not.toEqual(expect.arrayContaining(['CREDENTIALS_ENCRYPTION_KEYS']));
  });
});

describe('in production, each service refuses to start without a secret it uses, and names it', () => {
  const cases = (Object.keys(SERVICES) as Name[]).flatMap((name) => requiredInProduction(SERVICES[name].schema).map((secret) => [name, secret] as const));

  it.each(cases)('%s without %s', async (name, secret) => {
    const env = productionEnv(name);
    delete env[secret];
    // INTERNAL_SERVICE_TOKEN stands in for nothing in production.
    env.INTERNAL_SERVICE_TOKEN = testSecrets.INTERNAL_SERVICE_TOKEN;
    await expect(SERVICES[name].start(env)).rejects.toThrow(new RegExp(`${secret}.*required in production`));
  });
});

describe('the internal listener', () => {
  const portOpen = (port: number) =>
    new Promise<boolean>((resolve) => {
      const socket = net.connect(port, '127.0.0.1');
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });

  it('serves /internal/... apart from the service port, and closes with the service', async () => {
    const service = await startService('tenant-service', productionEnv('tenant-service'));
    expect(service.internalPort).toEqual(expect.any(Number));
    expect(service.internalPort).not.toBe(service.port);
    const internal = request(`http://127.0.0.1:${service.internalPort}`);
    // A caller that reads Meta credentials reaches the route (an unknown tenant: 404); one that does not gets 401.
    const route = '/internal/tenants/no-such-tenant/credentials/meta';
    expect((await internal.get(route).set('X-Internal-Token', testSecrets.GENESYS_CONNECTOR_INTERNAL_TOKEN)).status).toBe(404);
    expect((await internal.get(route).set('X-Internal-Token', testSecrets.AUTH_SERVICE_INTERNAL_TOKEN)).status).toBe(401);
    // The service port has no such route; the internal one has no admin API and no /health.
    const pub = request(`http://127.0.0.1:${service.port}`);
    expect((await pub.get(route).set('Authorization', `Bearer ${testSecrets.ADMIN_API_KEY}`)).status).toBe(404);
    expect((await internal.get('/tenants').set('Authorization', `Bearer ${testSecrets.ADMIN_API_KEY}`)).status).toBe(404);

    await service.close();
    expect(await portOpen(service.port)).toBe(false);
    expect(await portOpen(service.internalPort!)).toBe(false);
  });

  it('a taken internal port fails the start, naming the port', async () => {
    const squatter = net.createServer();
    await new Promise<void>((resolve) => squatter.listen(0, '127.0.0.1', resolve));
    const taken = (squatter.address() as net.AddressInfo).port;
    try {
      const attempt = SERVICES['tenant-service'].start(productionEnv('tenant-service', { HOST: '127.0.0.1', INTERNAL_PORT: String(taken) }));
      await expect(attempt).rejects.toMatchObject({ code: 'EADDRINUSE', port: taken });
    } finally {
      await new Promise((resolve) => squatter.close(resolve));
    }
  });
});
