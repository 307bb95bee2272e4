import { randomBytes } from 'node:crypto';
import express from 'express';
import request, { type Response } from 'supertest';
import { AppError, errorHandler } from '@bridge/shared';
import { startMetaSimulator, type MetaSimulator } from '@bridge/simulators';
import { createMediaRouter, signMediaUrl, verifyMediaRequest, type MediaRouterOptions } from '../src/media';

const SECRET = 'media-signing-secret-for-tests-0123456789';
const TOKEN = 'EAAG-meta-access-token-of-acme-abcdefghijklmnop';
const OTHER_TOKEN = 'EAAG-meta-access-token-of-globex-qrstuvwxyz';
const PUBLIC = 'https://bridge.example.com';
const ACME_NUMBER = '106540352242922';
const GLOBEX_NUMBER = '106540352242999';
/** A second number reachable with acme's token (one Meta app token may serve several numbers). */
const SIBLING_NUMBER = '106540352242777';

let meta: MetaSimulator;
const photo = randomBytes(300_000);
const responses: Response[] = [];

const credentials: Record<string, { accessToken: string; phoneNumberId: string }> = {
  acme: { accessToken: TOKEN, phoneNumberId: ACME_NUMBER },
  globex: { accessToken: OTHER_TOKEN, phoneNumberId: GLOBEX_NUMBER },
};

beforeAll(async () => {
  meta = await startMetaSimulator();
  meta.addNumber({ phoneNumberId: ACME_NUMBER, accessToken: TOKEN });
  meta.addNumber({ phoneNumberId: GLOBEX_NUMBER, accessToken: OTHER_TOKEN });
  meta.addNumber({ phoneNumberId: SIBLING_NUMBER, accessToken: TOKEN });
  meta.addMedia({ mediaId: '1234567890', bytes: photo, mimeType: 'image/jpeg', phoneNumberId: ACME_NUMBER });
  meta.addMedia({ mediaId: 'wamid+odd/id==', bytes: Buffer.from('%PDF-1.7 tiny'), mimeType: 'application/pdf', phoneNumberId: ACME_NUMBER });
  meta.addMedia({ mediaId: 'globex-media', bytes: Buffer.from('not yours'), mimeType: 'image/png', phoneNumberId: GLOBEX_NUMBER });
  meta.addMedia({ mediaId: 'sibling-media', bytes: Buffer.from('sibling'), mimeType: 'image/png', phoneNumberId: SIBLING_NUMBER });
  meta.addMedia({ mediaId: 'page', bytes: Buffer.from('<script>alert(1)</script>'), mimeType: 'text/html', phoneNumberId: ACME_NUMBER });
});

/** Every router built here, so that their connections to the simulator are closed. */
const routers: Array<{ close(): void }> = [];

afterAll(async () => {
  for (const router of routers) router.close();
  await meta.close();
});

beforeEach(() => meta.reset());

afterAll(() => {
  // Whatever each test asserted, no answer may ever have carried a tenant's token.
  expect(responses.length).toBeGreaterThan(10);
  for (const res of responses) {
    const text = `${JSON.stringify(res.headers)}\n${res.body instanceof Buffer ? res.body.toString('latin1') : JSON.stringify(res.body)}`;
    expect(text).not.toContain(TOKEN);
    expect(text).not.toContain(OTHER_TOKEN);
  }
});

function app(options: Partial<MediaRouterOptions> = {}) {
  const media = createMediaRouter({
    secret: SECRET,
    graphUrl: meta.graphUrl,
    getMetaCredentials: async (tenantId) => credentials[tenantId],
    ...options,
  });
  routers.push(media);
  return express().use(media.router).use(errorHandler);
}

function link(overrides: Partial<Parameters<typeof signMediaUrl>[0]> = {}): string {
  const url = signMediaUrl({
    publicBaseUrl: PUBLIC,
    secret: SECRET,
    tenantId: 'acme',
    mediaId: '1234567890',
    mimeType: 'image/jpeg',
    filename: 'photo.jpg',
    ...overrides,
  });
  expect(url.startsWith(`${PUBLIC}/webhook/media/`)).toBe(true);
  return url.slice(PUBLIC.length);
}

/** Collects the body as raw bytes whatever the type. */
function binary(res: NodeJS.ReadableStream & { setEncoding(e: string): void }, done: (err: Error | null, body: Buffer) => void) {
  const chunks: Buffer[] = [];
  res.on('data', (c: Buffer) => chunks.push(Buffer.from(c)));
  res.on('end', () => done(null, Buffer.concat(chunks)));
}

async function get(path: string, a = app()): Promise<Response> {
  const res = await request(a).get(path).buffer(true).parse(binary as never);
  responses.push(res);
  return res;
}

function json(res: Response): { error: { code: string; message: string } } {
  return JSON.parse((res.body as Buffer).toString('utf8'));
}

const metaCalls = () => meta.calls.filter((c) => c.endpoint === 'media' || c.endpoint === 'download');

describe('signMediaUrl', () => {
  it('builds the documented URL shape', () => {
    const url = new URL(signMediaUrl({ publicBaseUrl: `${PUBLIC}/`, secret: SECRET, tenantId: 'acme', mediaId: 'a/b+c', mimeType: 'image/png', filename: 'x y.png', now: () => 1_700_000_000_000 }));
    expect(url.origin + url.pathname).toBe(`${PUBLIC}/webhook/media/acme/a%2Fb%2Bc`);
    expect(url.searchParams.get('mime')).toBe('image/png');
    expect(url.searchParams.get('name')).toBe('x y.png');
    expect(url.searchParams.get('exp')).toBe(String(1_700_000_000 + 86_400));
    expect(url.searchParams.get('sig')).toMatch(/^[A-Za-z0-9_-]{43}$/);
  });

  it('refuses a short secret', () => {
    expect(() => signMediaUrl({ publicBaseUrl: PUBLIC, secret: 'short', tenantId: 'acme', mediaId: 'm', mimeType: 'image/png' })).toThrow(/secret/);
  });
});

describe('verifyMediaRequest', () => {
  const now = () => 1_700_000_000_000;
  const query = (overrides: Record<string, unknown> = {}) => {
    const url = new URL(signMediaUrl({ publicBaseUrl: PUBLIC, secret: SECRET, tenantId: 'acme', mediaId: 'm1', mimeType: 'audio/ogg', now }));
    return { ...Object.fromEntries(url.searchParams), ...overrides };
  };
  const verify = (q: Record<string, unknown>, at = now, tenantId = 'acme', mediaId = 'm1') =>
    verifyMediaRequest({ secret: SECRET, tenantId, mediaId, query: q, now: at });
  const codeOf = (fn: () => unknown): string | undefined => {
    try {
      fn();
      return undefined;
    } catch (err) {
      return err instanceof AppError ? `${err.status} ${err.code}` : String(err);
    }
  };

  it('returns what the link was signed with', () => {
    expect(verify(query())).toEqual({ mimeType: 'audio/ogg' });
  });

  it('403 for anything changed, 410 only for a genuine expired link', () => {
    const sig = String(query().sig);
    expect(codeOf(() => verify(query({ sig: (sig[0] === 'A' ? 'B' : 'A') + sig.slice(1) })))).toBe('403 MEDIA_LINK_INVALID');
    expect(codeOf(() => verify(query({ mime: 'text/html' })))).toBe('403 MEDIA_LINK_INVALID');
    expect(codeOf(() => verify(query({ name: 'evil.exe' })))).toBe('403 MEDIA_LINK_INVALID');
    expect(codeOf(() => verify(query({ exp: String(Number(query().exp) + 1) })))).toBe('403 MEDIA_LINK_INVALID');
    expect(codeOf(() => verify(query({ sig: [query().sig] })))).toBe('403 MEDIA_LINK_INVALID');
    expect(codeOf(() => verify(query(), now, 'globex'))).toBe('403 MEDIA_LINK_INVALID');
    expect(codeOf(() => verify(query(), now, 'acme', 'm2'))).toBe('403 MEDIA_LINK_INVALID');
    const later = () => now() + 86_400_000;
    expect(codeOf(() => verify(query(), later))).toBe('410 MEDIA_LINK_EXPIRED');
    expect(codeOf(() => verify(query({ mime: 'x/y' }), later))).toBe('403 MEDIA_LINK_INVALID');
  });
});

describe('GET /webhook/media/:tenantId/:mediaId', () => {
  it('streams the exact bytes with the signed type, name and caching', async () => {
    const res = await get(link());
    expect(res.status).toBe(200);
    expect(Buffer.compare(res.body as Buffer, photo)).toBe(0);
    expect(res.headers['content-type']).toBe('image/jpeg');
    expect(res.headers['content-disposition']).toBe('inline; filename="photo.jpg"');
    expect(res.headers['cache-control']).toBe('private, max-age=300');
    expect(res.headers['x-content-type-options']).toBe('nosniff');
    expect(metaCalls().map((c) => [c.endpoint, c.status])).toEqual([
      ['media', 200],
      ['download', 200],
    ]);
  });

  it('serves media ids with URL-special characters and non-ASCII filenames', async () => {
    const res = await get(link({ mediaId: 'wamid+odd/id==', mimeType: 'application/pdf', filename: 'Factura Ñ "2024".pdf' }));
    expect(res.status).toBe(200);
    expect((res.body as Buffer).toString()).toBe('%PDF-1.7 tiny');
    expect(res.headers['content-type']).toBe('application/pdf');
    expect(res.headers['content-disposition']).toBe(
      `inline; filename="Factura _ _2024_.pdf"; filename*=UTF-8''Factura%20%C3%91%20%222024%22.pdf`,
    );
  });

  it('without a signed filename, sends no Content-Disposition', async () => {
    const res = await get(link({ filename: undefined }));
    expect(res.status).toBe(200);
    expect(res.headers['content-disposition']).toBeUndefined();
  });

  it('serves types a browser would run as a sandboxed download', async () => {
    const res = await get(link({ mediaId: 'page', mimeType: 'text/html', filename: 'page.html' }));
    expect(res.status).toBe(200);
    expect(res.headers['content-disposition']).toBe('attachment; filename="page.html"');
    expect(res.headers['content-security-policy']).toContain('sandbox');
  });

  it('answers HEAD from the lookup without downloading', async () => {
    const res = await request(app()).head(link());
    responses.push(res);
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe('image/jpeg');
    expect(res.headers['content-length']).toBe(String(photo.length));
    expect(metaCalls().map((c) => c.endpoint)).toEqual(['media']);
  });

  describe('refuses bad links before calling Meta', () => {
    it('a tampered signature → 403', async () => {
      const path = link();
      const sig = new URL(path, PUBLIC).searchParams.get('sig')!;
      const forged = (sig[0] === 'A' ? 'B' : 'A') + sig.slice(1);
      const res = await get(path.replace(`sig=${sig}`, `sig=${forged}`));
      expect(res.status).toBe(403);
      expect(json(res).error.code).toBe('MEDIA_LINK_INVALID');
    });

    it('another tenant in the path → 403', async () => {
      const res = await get(link().replace('/webhook/media/acme/', '/webhook/media/globex/'));
      expect(res.status).toBe(403);
      expect(json(res).error.code).toBe('MEDIA_LINK_INVALID');
    });

    it('another media id in the path → 403', async () => {
      const res = await get(link().replace('/1234567890?', '/globex-media?'));
      expect(res.status).toBe(403);
    });

    it('a changed mime → 403', async () => {
      const res = await get(link().replace('mime=image%2Fjpeg', 'mime=text%2Fhtml'));
      expect(res.status).toBe(403);
      expect(json(res).error.code).toBe('MEDIA_LINK_INVALID');
    });

    it('a missing signature → 403', async () => {
      const res = await get(link().replace(/&sig=[^&]*/, ''));
      expect(res.status).toBe(403);
    });

    it('an expired link → 410', async () => {
      const res = await get(link({ ttlSeconds: 60, now: () => Date.now() - 61_000 }));
      expect(res.status).toBe(410);
      expect(json(res).error.code).toBe('MEDIA_LINK_EXPIRED');
    });

    afterEach(() => {
      expect(metaCalls()).toEqual([]);
    });
  });

  it('a tenant without Meta credentials → 404, without calling Meta', async () => {
    const res = await get(link({ tenantId: 'ghost' }));
    expect(res.status).toBe(404);
    expect(json(res).error.code).toBe('META_CREDENTIALS_NOT_FOUND');
    expect(metaCalls()).toEqual([]);
  });

  it('media Meta does not know → 404 MEDIA_NOT_FOUND', async () => {
    const res = await get(link({ mediaId: 'no-such-media' }));
    expect(res.status).toBe(404);
    expect(json(res).error.code).toBe('MEDIA_NOT_FOUND');
  });

  it("another tenant's media, even behind a validly signed link → 404", async () => {
    const res = await get(link({ mediaId: 'globex-media', mimeType: 'image/png' }));
    expect(res.status).toBe(404);
    expect(json(res).error.code).toBe('MEDIA_NOT_FOUND');
  });

  it("media of another number the same token can reach → 404 (the lookup is scoped to the tenant's number)", async () => {
    const res = await get(link({ mediaId: 'sibling-media', mimeType: 'image/png' }));
    expect(res.status).toBe(404);
    expect(json(res).error.code).toBe('MEDIA_NOT_FOUND');
    expect(meta.calls.find((c) => c.endpoint === 'media')?.path).toBe('/v23.0/sibling-media');
  });

  it('a Meta outage → 502 MEDIA_UNAVAILABLE', async () => {
    meta.setOutage(true);
    const res = await get(link());
    expect(res.status).toBe(502);
    expect(json(res).error.code).toBe('MEDIA_UNAVAILABLE');
  });

  it('a failing download (after a good lookup) → 502', async () => {
    meta.failNext(1, { code: 131000, endpoint: 'download' });
    const res = await get(link());
    expect(res.status).toBe(502);
    expect(json(res).error.code).toBe('MEDIA_UNAVAILABLE');
    expect(metaCalls().map((c) => c.endpoint)).toEqual(['media', 'download']);
  });

  it('an invalid token at Meta → 502, and the token is not in the answer', async () => {
    const res = await get(link(), app({ getMetaCredentials: async () => ({ accessToken: `${TOKEN}-revoked` }) }));
    expect(res.status).toBe(502);
    expect((res.body as Buffer).toString()).not.toContain(TOKEN);
  });

  it('Meta unreachable → 502', async () => {
    const res = await get(link(), app({ graphUrl: 'http://127.0.0.1:1/v23.0' }));
    expect(res.status).toBe(502);
    expect(json(res).error.code).toBe('MEDIA_UNAVAILABLE');
  });

  it('media larger than maxBytes → 413 without downloading', async () => {
    const res = await get(link(), app({ maxBytes: 1000 }));
    expect(res.status).toBe(413);
    expect(json(res).error.code).toBe('MEDIA_TOO_LARGE');
    expect(metaCalls().map((c) => c.endpoint)).toEqual(['media']);
  });
});
