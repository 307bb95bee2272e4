import { randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
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
/** What the tenant directory says of each tenant (absent: no such tenant). */
let statuses: Record<string, 'active' | 'suspended'> = {};
const statusLookups: string[] = [];

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

beforeEach(() => {
  meta.reset();
  statuses = { acme: 'active', globex: 'active', ghost: 'active' };
  statusLookups.length = 0;
});

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
    tenantStatus: async (tenantId) => {
      statusLookups.push(tenantId);
      const status = statuses[tenantId];
      return status && { status, suspendedReason: status === 'suspended' ? 'Unpaid invoice 2026-11' : null };
    },
    // The simulator's download URLs are http://127.0.0.1:<port>/media-download/...
    downloadHosts: ['127.0.0.1'],
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
      `attachment; filename="Factura _ _2024_.pdf"; filename*=UTF-8''Factura%20%C3%91%20%222024%22.pdf`,
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

/** The directives of a response's Content-Security-Policy, by name. */
function csp(res: Response): Map<string, string> {
  const header = String(res.headers['content-security-policy'] ?? '');
  return new Map(
    header
      .split(';')
      .map((d) => d.trim())
      .filter(Boolean)
      .map((d) => {
        const [name, ...values] = d.split(/\s+/);
        return [name.toLowerCase(), values.join(' ')] as [string, string];
      }),
  );
}

/** Every media answer, whatever its type or status: no sniffing, and a sandbox with nothing allowed. */
function expectLockedDown(res: Response) {
  expect(res.headers['x-content-type-options']).toBe('nosniff');
  const directives = csp(res);
  expect(directives.get('sandbox')).toBe('');
  expect(directives.get('default-src')).toBe("'none'");
  for (const name of directives.keys()) expect(['sandbox', 'default-src', 'media-src']).toContain(name);
}

describe('what a browser may do with a media answer', () => {
  const passive = ['image/jpeg', 'image/png', 'image/webp', 'image/gif', 'audio/ogg; codecs=opus', 'audio/mpeg', 'audio/aac', 'video/mp4', 'video/3gpp'];
  it.each(passive)('%s, a passive type, is shown inline, sandboxed', async (mimeType) => {
    const res = await get(link({ mimeType, filename: 'file' }));
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe(mimeType);
    expect(res.headers['content-disposition']).toBe('inline; filename="file"');
    expectLockedDown(res);
    // A browser's own player loads the file again as media; nothing else may load.
    if (/^(audio|video)\//.test(mimeType)) expect(csp(res).get('media-src')).toBe("'self'");
    else expect(csp(res).has('media-src')).toBe(false);
  });

  const downloads = [
    'image/svg+xml', 'IMAGE/SVG+XML', 'text/html', 'text/html; charset=utf-8', 'application/xhtml+xml', 'text/xml', 'application/xml',
    'text/xsl', 'application/xslt+xml', 'application/rss+xml', 'application/atom+xml', 'application/mathml+xml', 'application/vnd.example+xml',
    'text/javascript', 'application/pdf', 'text/plain', 'application/octet-stream',
    'application/vnd.openxmlformats-officedocument.wordprocessingml.document', 'multipart/x-mixed-replace; boundary=x', 'image/x-unknown',
  ];
  it.each(downloads)('%s is only ever a download', async (mimeType) => {
    const res = await get(link({ mimeType, filename: 'file' }));
    expect(res.status).toBe(200);
    expect(res.headers['content-disposition']).toBe('attachment; filename="file"');
    expectLockedDown(res);
    expect(csp(res).has('media-src')).toBe(false);
  });

  it('a download without a signed filename still says attachment', async () => {
    const res = await get(link({ mimeType: 'application/rss+xml', filename: undefined }));
    expect(res.status).toBe(200);
    expect(res.headers['content-disposition']).toBe('attachment');
  });

  it.each([['image/png, text/html'], ['image/png; a=1, text/html'], ['image/png; a="x,text/html"'], ['image png'], ['image/']])(
    '%s, not one well-formed media type, is served as application/octet-stream, as a download',
    async (mimeType) => {
      const res = await get(link({ mimeType, filename: 'file' }));
      expect(res.status).toBe(200);
      expect(res.headers['content-type']).toBe('application/octet-stream');
      expect(res.headers['content-disposition']).toBe('attachment; filename="file"');
      expectLockedDown(res);
    },
  );

  it('HEAD answers carry the same headers', async () => {
    const res = await request(app()).head(link({ mimeType: 'text/xsl', filename: 'x.xsl' }));
    responses.push(res);
    expect(res.status).toBe(200);
    expect(res.headers['content-disposition']).toBe('attachment; filename="x.xsl"');
    expectLockedDown(res);
  });

  it('error answers carry them too', async () => {
    const forged = await get(link().replace(/sig=[^&]*/, 'sig=forged'));
    expect(forged.status).toBe(403);
    expectLockedDown(forged);
    const missing = await get(link({ mediaId: 'no-such-media' }));
    expect(missing.status).toBe(404);
    expectLockedDown(missing);
    meta.setOutage(true);
    const down = await get(link());
    expect(down.status).toBe(502);
    expectLockedDown(down);
  });
});

/** A local HTTP server that records what it was asked (path and Authorization header). */
interface Recorder {
  port: number;
  requests: Array<{ path: string; authorization?: string }>;
  close(): Promise<void>;
}

async function recorder(answer: (req: http.IncomingMessage, res: http.ServerResponse) => void): Promise<Recorder> {
  const requests: Recorder['requests'] = [];
  const server = http.createServer((req, res) => {
    requests.push({ path: req.url ?? '', authorization: req.headers.authorization });
    answer(req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** A Graph API stand-in whose media lookup answers with `url()` as the download URL. */
async function graphAnswering(url: () => string): Promise<Recorder> {
  return recorder((_req, res) => {
    res.writeHead(200, { 'Content-Type': 'application/json' });
    res.end(JSON.stringify({ url: url(), mime_type: 'image/jpeg', sha256: 'x', file_size: 5, id: '1234567890', messaging_product: 'whatsapp' }));
  });
}

describe("where the tenant's token may go", () => {
  let catcher: Recorder;
  let graph: Recorder;
  let downloadUrl: string;

  beforeAll(async () => {
    catcher = await recorder((_req, res) => res.end('bytes'));
    graph = await graphAnswering(() => downloadUrl);
  });

  afterAll(async () => {
    await Promise.all([catcher.close(), graph.close()]);
  });

  beforeEach(() => {
    catcher.requests.length = 0;
  });

  const viaGraph = (options: Partial<MediaRouterOptions> = {}) => app({ graphUrl: `http://127.0.0.1:${graph.port}/v23.0`, ...options });

  it("by default only to Meta's media host: the simulator's http://127.0.0.1 URL is refused, before any download", async () => {
    const res = await get(link(), app({ downloadHosts: undefined }));
    expect(res.status).toBe(502);
    expect(json(res).error.code).toBe('MEDIA_UNAVAILABLE');
    expect(json(res).error.message).not.toContain('127.0.0.1');
    expect(metaCalls().map((c) => c.endpoint)).toEqual(['media']);
  });

  it.each([
    ['a host not on the list', () => `http://localhost:${catcher.port}/steal`, ['127.0.0.1']],
    ['a loopback host off the (default) list', () => `http://127.0.0.1:${catcher.port}/steal`, ['lookaside.fbsbx.com']],
    ['a loopback host the list does not name', () => `http://127.0.0.1:${catcher.port}/steal`, ['localhost']],
    ['a URL with userinfo', () => `http://127.0.0.1@localhost:${catcher.port}/steal`, ['127.0.0.1']],
  ])('never to %s (502, nothing sent)', async (_what, url, downloadHosts) => {
    downloadUrl = url();
    const res = await get(link(), viaGraph({ downloadHosts }));
    expect(res.status).toBe(502);
    expect(json(res).error.code).toBe('MEDIA_UNAVAILABLE');
    expect(graph.requests.at(-1)?.authorization).toBe(`Bearer ${TOKEN}`);
    expect(catcher.requests).toEqual([]);
  });

  it('HEAD refuses such a URL as well', async () => {
    downloadUrl = `http://localhost:${catcher.port}/steal`;
    const res = await request(viaGraph()).head(link());
    responses.push(res);
    expect(res.status).toBe(502);
  });

  it('never follows a redirect off the list', async () => {
    const hop = await recorder((_req, res) => {
      res.writeHead(302, { Location: `http://localhost:${catcher.port}/steal` });
      res.end();
    });
    try {
      downloadUrl = `http://127.0.0.1:${hop.port}/media`;
      const res = await get(link(), viaGraph());
      expect(res.status).toBe(502);
      expect(json(res).error.code).toBe('MEDIA_UNAVAILABLE');
      expect(hop.requests.map((r) => r.authorization)).toEqual([`Bearer ${TOKEN}`]);
      expect(catcher.requests).toEqual([]);
    } finally {
      await hop.close();
    }
  });

  it('follows a redirect that stays on the list', async () => {
    const hop = await recorder((req, res) => {
      if (req.url === '/media') {
        res.writeHead(302, { Location: `http://127.0.0.1:${catcher.port}/final` });
        res.end();
      } else res.end('never');
    });
    try {
      downloadUrl = `http://127.0.0.1:${hop.port}/media`;
      const res = await get(link(), viaGraph());
      expect(res.status).toBe(200);
      expect((res.body as Buffer).toString()).toBe('bytes');
      expect(catcher.requests.map((r) => r.path)).toEqual(['/final']);
    } finally {
      await hop.close();
    }
  });
});

describe("a tenant's status", () => {
  it('a suspended tenant → 423 TENANT_SUSPENDED, without calling Meta', async () => {
    statuses.acme = 'suspended';
    const res = await get(link());
    expect(res.status).toBe(423);
    expect(json(res).error.code).toBe('TENANT_SUSPENDED');
    expect(json(res).error.message).toBe('This tenant is suspended: Unpaid invoice 2026-11');
    expectLockedDown(res);
    expect(metaCalls()).toEqual([]);
  });

  it('a deleted (unknown) tenant → 404 TENANT_NOT_FOUND, without calling Meta', async () => {
    delete statuses.acme;
    const res = await get(link());
    expect(res.status).toBe(404);
    expect(json(res).error.code).toBe('TENANT_NOT_FOUND');
    expect(metaCalls()).toEqual([]);
  });

  it('is asked on every request, so a suspension stops a link that just worked', async () => {
    const path = link();
    expect((await get(path)).status).toBe(200);
    statuses.acme = 'suspended';
    expect((await get(path)).status).toBe(423);
    statuses.acme = 'active';
    expect((await get(path)).status).toBe(200);
    expect(statusLookups).toEqual(['acme', 'acme', 'acme']);
  });

  it('is asked only for a genuine link: a forged one is 403 whatever the tenant', async () => {
    statuses.acme = 'suspended';
    const res = await get(link().replace(/sig=[^&]*/, 'sig=forged'));
    expect(res.status).toBe(403);
    expect(statusLookups).toEqual([]);
  });
});
