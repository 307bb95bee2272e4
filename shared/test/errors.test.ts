import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import request from 'supertest';
import { Writable } from 'node:stream';
import { z } from 'zod';
import { ERROR_CODES, appError, badInput, createLogger, createServiceApp, excerpt, isErrorCode, jsonBody, loggableUrl, parseInput, type ErrorCode } from '../src';

function appWith(routes: Parameters<typeof createServiceApp>[0]['routes'], lines: string[] = [], level = 'info') {
  const destination = new Writable({
    write(chunk, _enc, cb) {
      lines.push(chunk.toString());
      cb();
    },
  });
  return createServiceApp({ name: 'test', logger: createLogger({ name: 'test', level, destination }), readiness: { ok: async () => true }, routes });
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

  it('quotes at most a short, printable excerpt of what the client sent', async () => {
    const strict = z.object({ name: z.string() }).strict();
    const app = appWith((a) => {
      a.post('/strict', jsonBody('4mb'), (req, res) => { res.json(parseInput(strict, req.body)); });
      a.get('/said', () => { throw appError('VALIDATION_ERROR', `cursor: ${'c'.repeat(1_000_000)}`); });
    });
    const keys = Object.fromEntries(Array.from({ length: 2_000 }, (_, i) => [`key-${i}-${'k'.repeat(500)}`, 1]));
    const strictRes = await request(app).post('/strict').send({ name: 'x', ...keys });
    const saidRes = await request(app).get('/said');
    const routeRes = await request(app).get(`/${'r'.repeat(8_000)}%0d%0aInjected: yes`);
    for (const res of [strictRes, saidRes, routeRes]) {
      expect(res.status).toBeGreaterThanOrEqual(400);
      expect(res.body.error.message.length).toBeLessThanOrEqual(2_100);
    }
    expect(routeRes.body.error.message.length).toBeLessThan(100);
    expect(excerpt('line\r\nInjected: yes\u2028', 64)).toBe('line??Injected: yes?');
    expect(excerpt('x'.repeat(100), 10)).toBe(`${'x'.repeat(10)}…`);
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

  it('writes one access line per request: completed at info, errored (with the error) at error; probes and dropped levels write nothing', async () => {
    const routes: Parameters<typeof appWith>[0] = (a) => {
      a.get('/ok', (_req, res) => { res.json({ ok: true }); });
      a.get('/boom', () => { throw new Error('kaput'); });
    };
    const info: string[] = [];
    const atInfo = appWith(routes, info);
    await request(atInfo).get('/ok').set('X-Request-Id', 'rid-ok').expect(200);
    await request(atInfo).get('/health').expect(200);
    await request(atInfo).get('/boom').set('X-Request-Id', 'rid-boom').expect(500);
    const access = info.map((l) => JSON.parse(l)).filter((l) => l.req);
    expect(access).toEqual([
      expect.objectContaining({ level: 30, msg: 'request completed', reqId: 'rid-ok', req: expect.objectContaining({ method: 'GET', url: '/ok', id: 'rid-ok' }), res: { statusCode: 200 }, responseTime: expect.any(Number) }),
      expect.objectContaining({ level: 50, msg: 'request errored', reqId: 'rid-boom', res: { statusCode: 500 }, err: expect.objectContaining({ message: 'failed with status code 500' }) }),
    ]);

    const warn: string[] = [];
    const atWarn = appWith(routes, warn, 'warn');
    await request(atWarn).get('/ok').expect(200);
    expect(warn).toEqual([]);
    await request(atWarn).get('/boom').set('X-Request-Id', 'rid-w').expect(500);
    expect(warn.map((l) => JSON.parse(l).msg)).toEqual(['request failed', 'request errored']);
  });

  it('logs a URL as its path and its query’s names, with the values of a few harmless parameters only', async () => {
    expect(loggableUrl('/webhook/meta?hub.mode=subscribe&hub.verify_token=s3cret&hub.challenge=123')).toBe('/webhook/meta?hub.mode=subscribe&hub.verify_token=[Redacted]&hub.challenge=[Redacted]');
    expect(loggableUrl('/webhook/media/acme/1?mime=image%2Fjpeg&name=cv.pdf&exp=1&sig=abc')).toBe('/webhook/media/acme/1?mime=image/jpeg&name=[Redacted]&exp=[Redacted]&sig=[Redacted]');
    expect(loggableUrl('/state/messages?status=failed&limit=20&cursor=opaque&access_token=t0ken')).toBe('/state/messages?status=failed&limit=20&cursor=[Redacted]&access_token=[Redacted]');
    expect(loggableUrl('/plain')).toBe('/plain');
    const long = loggableUrl(`/${'p'.repeat(10_000)}?${Array.from({ length: 100 }, (_, i) => `n${i}=${'v'.repeat(100)}`).join('&')}`);
    expect(long.length).toBeLessThan(1_000);

    const lines: string[] = [];
    const app = appWith((a) => a.get('/x', (_req, res) => { res.json({ ok: true }); }), lines);
    await request(app).get('/x?hub.verify_token=top-secret-5&sig=top-secret-6&limit=5').set('Referer', `https://elsewhere/?${'r'.repeat(10_000)}`);
    const entry = JSON.parse(lines.find((l) => JSON.parse(l).req)!);
    expect(entry.req.url).toBe('/x?hub.verify_token=[Redacted]&sig=[Redacted]&limit=5');
    expect(entry.req.query).toBeUndefined();
    expect(entry.req.headers.referer.length).toBeLessThan(300);
    expect(lines.join('')).not.toMatch(/top-secret-[56]/);
  });

  it('cuts an error’s message and stack short in the log', async () => {
    const lines: string[] = [];
    const app = appWith((a) => a.get('/x', () => { throw new Error(`bad input: ${'e'.repeat(100_000)}`); }), lines);
    expect((await request(app).get('/x')).status).toBe(500);
    const logged = lines.map((l) => JSON.parse(l)).filter((l) => l.err);
    expect(logged.length).toBeGreaterThan(0);
    for (const l of logged) {
      expect(l.err.message.length).toBeLessThanOrEqual(1_001);
      expect(l.err.stack.length).toBeLessThanOrEqual(4_001);
    }
    const direct: string[] = [];
    const logger = createLogger({ name: 't', destination: new Writable({ write(chunk, _e, cb) { direct.push(chunk.toString()); cb(); } }) });
    logger.error({ err: new Error('f'.repeat(100_000)) }, 'failed');
    expect(JSON.parse(direct[0]).err.message.length).toBeLessThanOrEqual(1_001);
  });
});
