import http from 'node:http';
import express from 'express';
import request from 'supertest';
import { createLogger, createServiceApp, listen } from '@bridge/shared';

/**
 * A listener's graceful close (what SIGTERM does to every service): no new connections, requests
 * in flight answered (and their kept-alive connections closed after them, so closing does not
 * wait for the clients), and what is still busy at the grace deadline cut.
 */
/** An app whose GET /slow answers after `ms`; `arrived` resolves when a request has reached it. */
function slowApp(ms: number) {
  const app = express();
  let signal!: () => void;
  const arrived = new Promise<void>((resolve) => (signal = resolve));
  app.get('/slow', (_req, res) => {
    signal();
    const timer = setTimeout(() => res.json({ ok: true }), ms);
    res.on('close', () => clearTimeout(timer));
  });
  return { app, arrived };
}

function get(port: number, agent: http.Agent, path = '/slow'): Promise<{ status: number; connection?: string; body: string }> {
  return new Promise((resolve, reject) => {
    http
      .get({ port, host: '127.0.0.1', path, agent }, (res) => {
        let body = '';
        res.on('data', (d) => (body += d));
        res.on('end', () => resolve({ status: res.statusCode!, connection: res.headers.connection, body }));
        res.on('error', reject);
      })
      .on('error', reject);
  });
}

describe('closing a listener', () => {
  it('answers the request in flight with Connection: close and closes without waiting for the client', async () => {
    const slow = slowApp(300);
    const service = await listen(slow.app, { port: 0, host: '127.0.0.1', graceMs: 10_000 });
    const agent = new http.Agent({ keepAlive: true });
    const inFlight = get(service.port, agent);
    await slow.arrived; // in flight: the service has it (a fixed pause raced a loaded machine)
    const started = Date.now();
    const closed = service.close();
    const res = await inFlight;
    expect(res).toMatchObject({ status: 200, connection: 'close', body: '{"ok":true}' });
    await closed;
    // Well before the 10 s grace: the kept-alive connection did not hold it.
    expect(Date.now() - started).toBeLessThan(5_000);
    await expect(get(service.port, new http.Agent())).rejects.toThrow(/ECONNREFUSED/);
    agent.destroy();
  });

  it('cuts a request still running at the grace deadline', async () => {
    const slow = slowApp(30_000);
    const service = await listen(slow.app, { port: 0, host: '127.0.0.1', graceMs: 200 });
    const agent = new http.Agent({ keepAlive: true });
    const inFlight = get(service.port, agent).catch((err: Error) => err);
    await slow.arrived;
    const started = Date.now();
    await service.close();
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(String(((await inFlight) as Error).message)).toMatch(/socket hang up|ECONNRESET/);
    agent.destroy();
  });
});

describe('readiness during shutdown', () => {
  /** A service app (its /ready with one check that passes) that also answers GET /slow. */
  function serviceApp() {
    return createServiceApp({
      name: 'drain-test',
      logger: createLogger({ name: 'test', level: 'silent' }),
      readiness: { postgres: async () => true },
      routes: (app) => app.get('/slow', (_req, res) => res.json({ ok: true })),
    });
  }

  it('answers /ready 503 as soon as closing begins, while it still serves requests for SHUTDOWN_DELAY_MS, then stops accepting', async () => {
    const service = await listen(serviceApp(), { port: 0, host: '127.0.0.1', graceMs: 10_000, drainDelayMs: 60_000 });
    expect((await get(service.port, new http.Agent(), '/ready')).status).toBe(200);
    const closed = service.close();
    // Load balancers see it unready at once, yet requests still reaching it are served.
    const ready = await get(service.port, new http.Agent(), '/ready');
    expect(ready.status).toBe(503);
    expect(JSON.parse(ready.body)).toMatchObject({ status: 'not_ready', service: 'drain-test', draining: true });
    expect(await get(service.port, new http.Agent())).toMatchObject({ status: 200, body: '{"ok":true}' });
    // Closing again (a second SIGTERM) cuts the delay short: listeners close now.
    await service.close({ now: true });
    await closed;
    await expect(get(service.port, new http.Agent(), '/ready')).rejects.toThrow(/ECONNREFUSED/);
  });

  it('without a delay, /ready is 503 for whatever still reaches it once closing began', async () => {
    const app = serviceApp();
    const service = await listen(app, { port: 0, host: '127.0.0.1', graceMs: 10_000 });
    await service.close();
    // What still reaches the app (a connection still open) is told it is not ready.
    expect((await request(app).get('/ready')).status).toBe(503);
  });
});
