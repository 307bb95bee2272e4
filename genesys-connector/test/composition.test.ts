import request from 'supertest';
import { INTERNAL_TOKEN_HEADER, createLogger } from '@bridge/shared';
import { createGenesysConnector, type GenesysConnectorDeps } from '../src/app';

/** createGenesysConnector(deps) → { app, close }: the app answers from its deps, and close closes what was opened. */
function fakeDeps(events: string[]): GenesysConnectorDeps {
  const closing = (name: string) => () => void events.push(name);
  return {
    db: { ping: async () => true },
    cache: { kind: 'memory' },
    logger: createLogger({ name: 'test', level: 'silent' }),
    internalCallers: { 'genesys-connector': ['connector-token-for-tests'] },
    outbox: { view: async () => [{ tenantId: 'acme', kind: 'to_genesys_message', state: 'dead', count: 2 }] },
    worker: {
      stop: async () => {
        await new Promise((r) => setTimeout(r, 20)); // deliveries in flight finish first
        events.push('worker');
      },
    },
    credentials: { close: async () => void events.push('credentials') },
    tokens: { close: closing('tokens') },
    genesys: { close: closing('genesys') },
    meta: { close: closing('meta') },
    notifier: { close: closing('notifier') },
  } as unknown as GenesysConnectorDeps;
}

describe('genesys-connector composition', () => {
  it('stops the worker first, then closes every client it used', async () => {
    const events: string[] = [];
    const { close } = createGenesysConnector(fakeDeps(events));
    await close();
    expect(events[0]).toBe('worker');
    expect(events.slice(1).sort()).toEqual(['credentials', 'genesys', 'meta', 'notifier', 'tokens']);
  });

  it('serves the queue view from the outbox on the internal app only, to its own token only', async () => {
    const { app, internalApp } = createGenesysConnector(fakeDeps([]));
    await request(internalApp).get('/internal/queue').expect(401);
    await request(internalApp).get('/internal/queue').set(INTERNAL_TOKEN_HEADER, 'another-services-token').expect(401);
    const res = await request(internalApp).get('/internal/queue').set(INTERNAL_TOKEN_HEADER, 'connector-token-for-tests').expect(200);
    expect(res.body).toEqual({ queue: [{ tenantId: 'acme', kind: 'to_genesys_message', state: 'dead', count: 2 }] });
    await request(app).get('/internal/queue').set(INTERNAL_TOKEN_HEADER, 'connector-token-for-tests').expect(404);
  });
});
