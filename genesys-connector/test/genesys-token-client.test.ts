import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { GenesysTokenClient } from '../src/genesys-token-client';

/** A stand-in for auth-service's token route: answers a fresh token per request and counts them per tenant. */
async function fakeAuthService() {
  const asked: string[] = [];
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      const { tenantId } = JSON.parse(body) as { tenantId: string };
      asked.push(tenantId);
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ accessToken: `token-${tenantId}-${asked.length}`, expiresAt: new Date(Date.now() + 3_600_000).toISOString() }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    asked,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

describe('GenesysTokenClient', () => {
  it('keeps at most maxTenants local copies, the least recently used going first', async () => {
    const auth = await fakeAuthService();
    const client = new GenesysTokenClient({ authServiceUrl: auth.url, internalToken: 'internal-token-for-tests', maxTenants: 2 });
    try {
      for (const t of ['t-a', 't-b', 't-a', 't-c']) await client.token(t);
      // t-a was used after t-b, so t-b went when t-c came.
      expect(auth.asked).toEqual(['t-a', 't-b', 't-c']);
      await client.token('t-a');
      await client.token('t-c');
      expect(auth.asked).toHaveLength(3);
      await client.token('t-b');
      expect(auth.asked).toEqual(['t-a', 't-b', 't-c', 't-b']);
    } finally {
      client.close();
      await auth.close();
    }
  });
});
