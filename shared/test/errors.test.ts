import request from 'supertest';
import { Writable } from 'node:stream';
import { AppError, createLogger, createServiceApp, jsonBody } from '../src';

function appWith(routes: Parameters<typeof createServiceApp>[0]['routes'], lines: string[] = []) {
  const destination = new Writable({
    write(chunk, _enc, cb) {
      lines.push(chunk.toString());
      cb();
    },
  });
  return createServiceApp({ name: 'test', logger: createLogger({ name: 'test', level: 'info', destination }), readiness: { ok: async () => true }, routes });
}

describe('the error middleware', () => {
  it('renders an AppError in the contract shape with the request id', async () => {
    const app = appWith((a) => a.get('/x', () => { throw new AppError('SOMETHING_WRONG', 'It went wrong', 418); }));
    const res = await request(app).get('/x').set('X-Request-Id', 'req-123');
    expect(res.status).toBe(418);
    expect(res.body).toEqual({ error: { code: 'SOMETHING_WRONG', message: 'It went wrong', requestId: 'req-123' } });
    expect(res.headers['x-request-id']).toBe('req-123');
  });

  it('answers an unexpected error with a generic 500: no stack, no SQL, no message', async () => {
    const app = appWith((a) => a.get('/x', async () => { throw new Error('syntax error at or near "SELECT password FROM"'); }));
    const res = await request(app).get('/x');
    expect(res.status).toBe(500);
    expect(res.body.error.code).toBe('INTERNAL_ERROR');
    expect(JSON.stringify(res.body)).not.toMatch(/SELECT|password|at .*\.ts/);
  });

  it('maps body-parser failures to 400 and 413', async () => {
    const app = appWith((a) => a.post('/x', jsonBody('1kb'), (_req, res) => { res.json({ ok: true }); }));
    const malformed = await request(app).post('/x').set('Content-Type', 'application/json').send('{"a":');
    expect(malformed.status).toBe(400);
    expect(malformed.body.error.code).toBe('MALFORMED_JSON');
    const large = await request(app).post('/x').send({ a: 'x'.repeat(5000) });
    expect(large.status).toBe(413);
    expect(large.body.error.code).toBe('PAYLOAD_TOO_LARGE');
  });

  it('answers unknown routes 404 and replaces an unusable request id', async () => {
    const res = await request(app404()).get('/nowhere').set('X-Request-Id', 'bad id with spaces');
    expect(res.status).toBe(404);
    expect(res.body.error.requestId).toMatch(/^[0-9a-f-]{36}$/);
  });
});

function app404() {
  return appWith(() => undefined);
}

describe('logging', () => {
  it('redacts secrets and carries the request id on every line', async () => {
    const lines: string[] = [];
    const app = appWith((a) => a.get('/x', (req, res) => {
      req.log.info({ credentials: { appSecret: 'top-secret-1' }, meta: { accessToken: 'top-secret-2' } }, 'handling');
      res.json({ ok: true });
    }), lines);
    await request(app).get('/x').set('Authorization', 'Bearer top-secret-3').set('X-Api-Key', 'sk_top-secret-4').set('X-Request-Id', 'rid-42');
    const log = lines.join('');
    expect(log).toContain('handling');
    for (const secret of ['top-secret-1', 'top-secret-2', 'top-secret-3', 'sk_top-secret-4']) expect(log).not.toContain(secret);
    for (const line of lines) expect(JSON.parse(line).requestId ?? JSON.parse(line).req?.id).toBe('rid-42');
  });
});
