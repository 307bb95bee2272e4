import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import request from 'supertest';
import { Writable } from 'node:stream';
import { z } from 'zod';
import { ERROR_CODES, appError, badInput, createLogger, createServiceApp, isErrorCode, jsonBody, parseInput, type ErrorCode } from '../src';

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
  it('renders an AppError in the contract shape with the request id, its status and headers', async () => {
    const app = appWith((a) => a.get('/x', () => { throw appError('GENESYS_UNAVAILABLE', 'It went wrong', { 'Retry-After': '7' }); }));
    const res = await request(app).get('/x').set('X-Request-Id', 'req-123');
    expect(res.status).toBe(503);
    expect(res.body).toEqual({ error: { code: 'GENESYS_UNAVAILABLE', message: 'It went wrong', requestId: 'req-123' } });
    expect(res.headers['x-request-id']).toBe('req-123');
    expect(res.headers['retry-after']).toBe('7');
  });

  it('names every bad field, however the bad input was found', async () => {
    const schema = z.object({ name: z.string(), limit: z.number().max(10) });
    const app = appWith((a) => {
      a.post('/parsed', jsonBody(), (req, res) => { res.json(parseInput(schema, req.body)); });
      a.post('/webhook', jsonBody(), (req, res) => { res.json(parseInput(schema, req.body, 'INVALID_PAYLOAD')); });
      a.get('/checked', () => { throw badInput('cursor', 'is not a cursor this API returned'); });
      a.get('/thrown', () => { schema.parse({}); });
    });
    const parsed = await request(app).post('/parsed').send({ limit: 11 });
    expect(parsed.status).toBe(400);
    expect(parsed.body.error).toMatchObject({ code: 'VALIDATION_ERROR', message: expect.stringMatching(/^name: .+; limit: .+/) });
    const webhook = await request(app).post('/webhook').send({ name: 'x', limit: 11 });
    expect(webhook.status).toBe(400);
    expect(webhook.body.error).toMatchObject({ code: 'INVALID_PAYLOAD', message: expect.stringMatching(/^limit: /) });
    const checked = await request(app).get('/checked');
    expect(checked.status).toBe(400);
    expect(checked.body.error).toMatchObject({ code: 'VALIDATION_ERROR', message: 'cursor: is not a cursor this API returned' });
    const thrown = await request(app).get('/thrown');
    expect(thrown.status).toBe(400);
    expect(thrown.body.error).toMatchObject({ code: 'VALIDATION_ERROR', message: expect.stringMatching(/^name: /) });
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

describe('the error-code table', () => {
  const codes = Object.keys(ERROR_CODES) as ErrorCode[];

  it('gives every code a SCREAMING_SNAKE_CASE name, a 4xx/5xx status and a default message', () => {
    expect(codes.length).toBeGreaterThan(40);
    for (const code of codes) {
      const { status, message } = ERROR_CODES[code];
      expect(code).toMatch(/^[A-Z][A-Z0-9]*(_[A-Z0-9]+)*$/);
      expect(Number.isInteger(status) && status >= 400 && status <= 599).toBe(true);
      expect(message.trim()).not.toBe('');
    }
  });

  it('is where appError takes the status and the default message from', () => {
    for (const code of codes) {
      const err = appError(code);
      expect({ code: err.code, status: err.status, message: err.message }).toEqual({ code, ...ERROR_CODES[code] });
      expect(appError(code, 'more specific').status).toBe(ERROR_CODES[code].status);
    }
    expect(isErrorCode('TENANT_NOT_FOUND')).toBe(true);
    expect(isErrorCode('toString')).toBe(false);
  });

  it('says what the contract says for the statuses clients rely on', () => {
    expect(ERROR_CODES.TENANT_NOT_FOUND.status).toBe(404);
    expect(ERROR_CODES.VALIDATION_ERROR.status).toBe(400);
    expect(ERROR_CODES.INVALID_PAYLOAD.status).toBe(400);
    expect(ERROR_CODES.TENANT_SUSPENDED.status).toBe(423);
    expect(ERROR_CODES.RATE_LIMITED.status).toBe(429);
    expect(ERROR_CODES.PAYLOAD_TOO_LARGE.status).toBe(413);
  });

  it('is the only way errors are made: no source outside shared/src/errors.ts constructs an AppError', () => {
    const root = path.join(__dirname, '..', '..');
    const skip = new Set(['node_modules', 'dist', '.git', '.data', 'coverage']);
    const sources: string[] = [];
    const walk = (dir: string) => {
      for (const entry of readdirSync(dir, { withFileTypes: true })) {
        if (skip.has(entry.name)) continue;
        const full = path.join(dir, entry.name);
        if (entry.isDirectory()) walk(full);
        else if (/\.[cm]?[jt]s$/.test(entry.name) && path.relative(root, full).split(path.sep).includes('src')) sources.push(full);
      }
    };
    walk(root);
    expect(sources.length).toBeGreaterThan(50);
    const own = path.join(root, 'shared', 'src', 'errors.ts');
    const offenders = sources.filter((f) => f !== own && /new\s+AppError\s*\(/.test(readFileSync(f, 'utf8')));
    expect(offenders.map((f) => path.relative(root, f))).toEqual([]);
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
