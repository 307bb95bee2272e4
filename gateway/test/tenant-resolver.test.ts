import express from 'express';
import request from 'supertest';
import { TenantTokenKeyring, errorHandler, type TenantDirectory, type TenantEntry } from '@bridge/shared';
import { createTenantResolver } from '../src/tenant-resolver';

const acme: TenantEntry = { tenantId: 'acme', status: 'active', rateLimit: 60, subdomain: 'acme' };
const directory = {
  apiKey: async () => undefined,
  tenant: async (id: string) => (id === 'acme' ? acme : undefined),
  subdomain: jest.fn(async (s: string) => (s === 'acme' ? acme : undefined)),
} as unknown as TenantDirectory;

function appWith(allowSubdomainOnly: boolean) {
  const app = express();
  app.use(createTenantResolver({ directory, jwtKeyring: new TenantTokenKeyring(['x'.repeat(32)]), baseDomain: 'bridge.example', allowSubdomainOnly }));
  app.get('/whoami', (req, res) => {
    res.json(req.tenant);
  });
  app.use(errorHandler);
  return app;
}

describe('subdomain-only access', () => {
  it('is refused by default: a subdomain identifies, it does not authenticate', async () => {
    const res = await request(appWith(false)).get('/whoami').set('Host', 'acme.bridge.example');
    expect(res.status).toBe(401);
    expect(res.body.error.code).toBe('MISSING_CREDENTIALS');
  });

  it('is refused before the subdomain is looked up, so strangers cannot make the gateway look names up', async () => {
    jest.mocked(directory.subdomain).mockClear();
    const res = await request(appWith(false)).get('/whoami').set('Host', 'made-up-name.bridge.example');
    expect(res.status).toBe(401);
    expect(res.body.error.code).toBe('MISSING_CREDENTIALS');
    expect(directory.subdomain).not.toHaveBeenCalled();
  });

  it('is allowed when a deployment opts in', async () => {
    const res = await request(appWith(true)).get('/whoami').set('Host', 'acme.bridge.example:3000');
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ tenantId: 'acme', auth: 'subdomain', rateLimit: 60 });
  });

  it('ignores hosts outside the base domain', async () => {
    const res = await request(appWith(true)).get('/whoami').set('Host', 'acme.evil.example');
    expect(res.status).toBe(401);
  });
});
