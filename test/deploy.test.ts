/**
 * Keeps the Docker deployment honest without a Docker engine: docker-compose.yml is checked
 * against the Compose Specification's schema and the contract (ports, dependencies, roles,
 * secrets); the Dockerfile's command for each service is derived from its text and shown to
 * point at a built file; and that very command, `node <service>/dist/server.js`, is run here
 * the way a container runs it, with exactly the secrets compose gives it: answers /health and
 * /ready, serves its internal routes only on its internal port, exits 0 on SIGTERM, and refuses
 * to start as a privileged database role or without a production secret.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import Ajv from 'ajv';
import request from 'supertest';
import { INTERNAL_TOKEN_HEADER, metricsPort, requiredInProduction, SECRET_ALTERNATIVES } from '@bridge/shared';
import { freePort } from '../scripts/src/postgres';
import { createTestDatabase, type TestDatabase } from './support/db';
import {
  ALL_SECRETS,
  compose,
  composeText,
  CONTRACT_PORTS,
  expandArgs,
  GATEWAY_UPSTREAMS,
  HOLDS,
  imageFor,
  INTERNAL_PORTS,
  METRICS_PORTS,
  INTERNAL_URL_VARS,
  parseDockerfile,
  PUBLISHED,
  read,
  ROOT,
  SCHEMAS,
  SECRET_VARIABLES,
  SERVICES,
  URL_VARS,
  type ComposeService,
} from './support/deploy';
import { serviceEnv, TEST_REDIS_URL, testSecrets } from './support/env';

// ---------------------------------------------------------------------------------------------
// docker-compose.yml

/** The value of `${NAME...}` expressions: names, and the whole expression for each (nested ones too). */
function referencedVariables(text: string): Map<string, string[]> {
  const found = new Map<string, string[]>();
  for (const m of text.matchAll(/(?<!\$)\$\{([A-Za-z_][A-Za-z0-9_]*)/g)) {
    // The expression ends at its matching brace: a default may itself be a `${...}`.
    let end = m.index;
    for (let depth = 0; end < text.length; end++) {
      if (text[end] === '{') depth++;
      else if (text[end] === '}' && --depth === 0) break;
    }
    found.set(m[1], [...(found.get(m[1]) ?? []), text.slice(m.index, end + 1)]);
  }
  return found;
}

/** Host ports a service publishes, from either ports syntax. */
function publishedPorts(service: ComposeService): Array<{ host: number; container: number }> {
  return (service.ports ?? []).map((p) => {
    if (typeof p === 'object') return { host: Number(p.published), container: Number(p.target) };
    const parts = String(p).split('/')[0].split(':');
    const container = Number(parts[parts.length - 1]);
    const host = parts.length >= 2 ? Number(parts[parts.length - 2]) : NaN;
    return { host, container };
  });
}

describe('docker-compose.yml', () => {
  it('is valid against the Compose Specification', () => {
    const schemaPath = path.join(__dirname, 'fixtures/schemas/compose-spec.json');
    // The schema names its draft by an https URL ajv does not know; ajv's default is draft-07.
    const { $schema: _draft, ...schema } = JSON.parse(readFileSync(schemaPath, 'utf8'));
    const ajv = new Ajv({ strict: false, allErrors: true, validateFormats: false });
    const validate = ajv.compile(schema);

    const valid = validate(compose);
    if (!valid) console.error(`docker-compose.yml does not match the Compose Specification:\n${ajv.errorsText(validate.errors, { separator: '\n' })}`);
    expect(validate.errors ?? []).toEqual([]);
    expect(valid).toBe(true);

    // The validator does reject a broken file (so a pass above means something).
    const broken = JSON.parse(JSON.stringify(compose)) as { services: Record<string, Record<string, unknown>> };
    broken.services.gateway.restart = 5;
    broken.services.gateway.portz = ['3000:3000'];
    expect(validate(broken)).toBe(false);
  });

  it('runs postgres, redis, migrate and exactly the six services', () => {
    expect(Object.keys(compose.services).sort()).toEqual(['migrate', 'postgres', 'redis', ...SERVICES].sort());
    expect(compose.services.postgres.image).toMatch(/^postgres:16-alpine$/);
    expect(compose.services.postgres.environment?.POSTGRES_DB).toBe('bridge');
    expect(compose.services.postgres.healthcheck?.test?.includes('pg_isready')).toBe(true);
    expect(compose.services.redis.image).toMatch(/^redis:7-alpine$/);
    expect(JSON.stringify(compose.services.redis.healthcheck?.test)).toContain('redis-cli ping');
  });

  it('publishes only gateway on 3000 and tenant-service on 3007', () => {
    for (const [name, service] of Object.entries(compose.services)) {
      const ports = publishedPorts(service);
      if (name in PUBLISHED) expect({ name, ports }).toEqual({ name, ports: [{ host: PUBLISHED[name], container: PUBLISHED[name] }] });
      else expect({ name, ports }).toEqual({ name, ports: [] });
    }
  });

  it('publishes no internal port; each is on its documented port and reachable on the project network only', () => {
    for (const [name, service] of Object.entries(compose.services)) {
      const internal = service.environment?.INTERNAL_PORT;
      const hasInternalRoutes = name in SCHEMAS && 'INTERNAL_PORT' in SCHEMAS[name].shape;
      expect({ name, internal }).toEqual({ name, internal: hasInternalRoutes ? String(INTERNAL_PORTS[name]) : undefined });
      if (!hasInternalRoutes) continue;
      // The documented port is the service's own default too (plain `node`, outside compose).
      expect(SCHEMAS[name].shape.INTERNAL_PORT.parse(undefined)).toBe(INTERNAL_PORTS[name]);
      const published = publishedPorts(service).flatMap((p) => [p.host, p.container]);
      expect({ name, published: published.includes(INTERNAL_PORTS[name]) }).toEqual({ name, published: false });
      expect((service.expose ?? []).map(String)).toContain(String(INTERNAL_PORTS[name]));
    }
  });

  it('publishes no metrics port; each service has its documented one (its default too), on the project network only', () => {
    for (const name of SERVICES) {
      const service = compose.services[name];
      expect({ name, metrics: service.environment?.METRICS_PORT }).toEqual({ name, metrics: String(METRICS_PORTS[name]) });
      expect(metricsPort({ PORT: CONTRACT_PORTS[name] })).toBe(METRICS_PORTS[name]);
      const published = publishedPorts(service).flatMap((p) => [p.host, p.container]);
      expect({ name, published: published.includes(METRICS_PORTS[name]) }).toEqual({ name, published: false });
      expect((service.expose ?? []).map(String)).toContain(String(METRICS_PORTS[name]));
    }
  });

  it.each(SERVICES)('%s: built from the root Dockerfile, on its contract port, waits for its dependencies, has a healthcheck', (name) => {
    const service = compose.services[name];
    expect(service.build?.context).toBe('.');
    expect(service.build?.dockerfile ?? 'Dockerfile').toBe('Dockerfile');
    expect(service.build?.args?.SERVICE).toBe(name);
    expect(service.environment?.PORT).toBe(String(CONTRACT_PORTS[name]));
    expect(service.environment?.NODE_ENV).toBe('production');
    expect(service.restart).toBe('unless-stopped');

    expect(service.depends_on).toMatchObject({
      postgres: { condition: 'service_healthy' },
      redis: { condition: 'service_healthy' },
      migrate: { condition: 'service_completed_successfully' },
    });
    if (name === 'gateway') {
      for (const upstream of GATEWAY_UPSTREAMS) expect(service.depends_on?.[upstream]).toEqual({ condition: 'service_healthy' });
    }

    expect(service.healthcheck?.disable).toBeFalsy();
    const test = service.healthcheck?.test;
    expect(Array.isArray(test) ? test.join(' ') : test).toMatch(/\/health\b/);
  });

  it.each(SERVICES)('%s: its config schema requires in production the secrets the README says it holds, and nothing more', (name) => {
    expect([...requiredInProduction(SCHEMAS[name])].sort()).toEqual([...HOLDS[name]].sort());
  });

  it.each(SERVICES)('%s: connects as bridge_app, with Redis, exactly the secrets its schema requires, and the internal URLs', (name) => {
    const env = service(name).environment ?? {};
    const db = new URL(String(env.DATABASE_URL).replace(/\$\{[^}]*\}/g, 'secret'));
    expect(db.username).toBe('bridge_app');
    expect({ host: db.hostname, port: db.port, database: db.pathname }).toEqual({ host: 'postgres', port: '5432', database: '/bridge' });
    expect(String(env.DATABASE_URL)).toMatch(/^postgres:\/\/bridge_app:\$\{DB_APP_PASSWORD:\?[^}]+\}@/);
    expect(env.REDIS_URL).toBe('redis://redis:6379');

    const required = requiredInProduction(SCHEMAS[name]);
    const given: string[] = [];
    for (const secret of required) {
      const alternative = SECRET_ALTERNATIVES[secret];
      if (alternative) {
        // Passed as the alternative, which falls back to the secret, required; never both (a service refuses both).
        const value = expect.stringMatching(new RegExp(`^\\$\\{${alternative}:-\\$\\{${secret}:\\?[^}]+\\}\\}$`));
        expect({ secret, value: env[alternative], both: secret in env }).toEqual({ secret, value, both: false });
        given.push(alternative);
      } else {
        expect({ secret, value: env[secret] }).toEqual({ secret, value: expect.stringMatching(new RegExp(`^\\$\\{${secret}:\\?[^}]+\\}$`)) });
        given.push(secret);
      }
    }
    // No other secret: not another service's, and not the development-only INTERNAL_SERVICE_TOKEN.
    expect(Object.keys(env).filter((k) => SECRET_VARIABLES.has(k)).sort()).toEqual(given.sort());
    for (const [variable, target] of Object.entries(URL_VARS)) {
      expect(env[variable]).toBe(`http://${target}:${CONTRACT_PORTS[target]}`);
    }
    for (const [variable, target] of Object.entries(INTERNAL_URL_VARS)) {
      expect(env[variable]).toBe(`http://${target}:${INTERNAL_PORTS[target]}`);
    }
    for (const optional of ['BASE_DOMAIN', 'META_GRAPH_URL', 'GENESYS_API_URL', 'GENESYS_LOGIN_URL', 'LOG_LEVEL']) {
      expect(Object.keys(env)).toContain(optional);
    }
    // Nothing the service does not understand (a typo would be silently ignored).
    const known = new Set(Object.keys(SCHEMAS[name].shape));
    expect(Object.keys(env).filter((k) => !known.has(k))).toEqual([]);
  });

  it('migrates as the owner, with the app role password, once postgres is healthy, and never restarts', () => {
    const migrate = compose.services.migrate;
    expect(migrate.build?.context).toBe('.');
    expect(migrate.build?.args?.SERVICE).toBe('migrations');
    const url = new URL(String(migrate.environment?.DATABASE_URL).replace(/\$\{[^}]*\}/g, 'secret'));
    expect({ user: url.username, host: url.hostname, database: url.pathname }).toEqual({ user: 'postgres', host: 'postgres', database: '/bridge' });
    expect(String(migrate.environment?.DATABASE_URL)).toContain('${POSTGRES_PASSWORD:?');
    expect(String(migrate.environment?.DB_APP_PASSWORD)).toMatch(/^\$\{DB_APP_PASSWORD:\?[^}]+\}$/);
    expect(migrate.depends_on).toEqual({ postgres: { condition: 'service_healthy' } });
    expect(migrate.restart).toBe('no');
    expect(publishedPorts(migrate)).toEqual([]);
  });

  it('requires every secret in the ${VAR:?message} form wherever it is used', () => {
    const refs = referencedVariables(composeText);
    for (const secret of [...ALL_SECRETS, 'DB_APP_PASSWORD', 'POSTGRES_PASSWORD']) {
      const uses = refs.get(secret) ?? [];
      expect({ secret, uses: uses.length > 0 }).toEqual({ secret, uses: true });
      for (const use of uses) expect(use).toMatch(new RegExp(`^\\$\\{${secret}:\\?[^}]+\\}$`));
    }
    // Every interpolation is in braces, so the scan above (and the .env.example check) sees it.
    expect(composeText.replace(/\$\$/g, '').match(/\$(?!\{)/g) ?? []).toEqual([]);
  });
});

function service(name: string): ComposeService {
  return compose.services[name];
}

// ---------------------------------------------------------------------------------------------
// .dockerignore, .env.example

describe('.dockerignore', () => {
  it('keeps dependencies, build output, build state, local data and secrets out of the build context', () => {
    const lines = read('.dockerignore').split('\n').map((l) => l.trim());
    // `**/` because each workspace has its own dist/ and tsbuildinfo: a stale tsbuildinfo
    // would make `tsc -b` in the image skip the build.
    for (const pattern of ['**/node_modules', '**/dist', '**/*.tsbuildinfo', '.data', '.git', '.env']) expect(lines).toContain(pattern);
    expect(lines.some((l) => /coverage$/.test(l))).toBe(true);
  });
});

describe('.env.example', () => {
  const documented = new Set([...read('.env.example').matchAll(/^[ \t]*#?[ \t]*([A-Z_][A-Z0-9_]*)=/gm)].map((m) => m[1]));

  it('documents every variable docker-compose.yml reads', () => {
    const passedThrough = Object.values(compose.services).flatMap((s) =>
      Object.entries(s.environment ?? {})
        .filter(([, v]) => v === null)
        .map(([k]) => k),
    );
    const needed = new Set([...referencedVariables(composeText).keys(), ...passedThrough]);
    expect([...needed].filter((v) => !documented.has(v)).sort()).toEqual([]);
  });

  it('says how to generate each secret, and that the encryption key is 32 bytes of base64', () => {
    const text = read('.env.example');
    for (const secret of [...ALL_SECRETS, 'DB_APP_PASSWORD', 'POSTGRES_PASSWORD']) {
      const block = text.slice(0, text.search(new RegExp(`^${secret}=`, 'm')));
      const comment = block.split('\n\n').pop() ?? '';
      expect({ secret, comment }).toEqual({ secret, comment: expect.stringMatching(/openssl rand/) });
    }
    expect(text).toMatch(/openssl rand -base64 32\s*\n(#.*\n)*CREDENTIALS_ENCRYPTION_KEY=/);
  });
});

// ---------------------------------------------------------------------------------------------
// Dockerfile


describe('Dockerfile', () => {
  const text = read('Dockerfile');
  const dockerfile = parseDockerfile(text);
  const buildStage = dockerfile.stages.find((s) => s.name === 'build');
  const targets = Object.entries(compose.services).filter(([, s]) => s.build);

  it('starts every stage from node:22-bookworm-slim and takes SERVICE as a global build arg', () => {
    expect(dockerfile.globalArgs.has('SERVICE')).toBe(true);
    const bases = dockerfile.stages.map((s) => expandArgs(s.base, Object.fromEntries(dockerfile.globalArgs)));
    const external = bases.filter((b) => !dockerfile.stages.some((s) => s.name === b));
    expect([...new Set(external)]).toEqual(['node:22-bookworm-slim']);
    expect(buildStage).toBeDefined();
  });

  it("copies every workspace's package.json before `npm ci` (else npm ci fails on the lockfile)", () => {
    const workspaces: string[] = JSON.parse(read('package.json')).workspaces;
    const ins = buildStage!.instructions;
    const ci = ins.findIndex((i) => i.keyword === 'RUN' && /\bnpm ci\b/.test(i.args));
    expect(ci).toBeGreaterThan(0);
    const copied = ins
      .slice(0, ci)
      .filter((i) => i.keyword === 'COPY')
      .flatMap((i) => i.args.split(/\s+/).filter((a) => !a.startsWith('--')).slice(0, -1));
    expect(copied).toEqual(expect.arrayContaining(['package.json', 'package-lock.json', '.npmrc', ...workspaces.map((w) => `${w}/package.json`)]));
    // Sources come after the install layer; `npm prune --omit=dev` after the build.
    const build = ins.findIndex((i) => i.keyword === 'RUN' && /tsc -b/.test(i.args));
    const prune = ins.findIndex((i) => i.keyword === 'RUN' && /npm prune --omit=dev/.test(i.args));
    expect(build).toBeGreaterThan(ci);
    expect(prune).toBeGreaterThan(build);
  });

  it.each(['migrations', ...SERVICES])('SERVICE=%s: compiles that workspace (and migrations) in the build stage', (target) => {
    const run = buildStage!.instructions.find((i) => i.keyword === 'RUN' && /tsc -b/.test(i.args))!.args;
    const branch = [...run.matchAll(/([\w|-]+)\)\s*(npx tsc -b [^;]+);;/g)].find((m) => m[1].split('|').includes(target));
    expect(branch).toBeDefined();
    const projects = expandArgs(branch![2], { SERVICE: target }).replace(/"/g, '').split(/\s+/).slice(3);
    expect(projects).toEqual(expect.arrayContaining([target, 'migrations']));
  });

  it("SERVICE=tenant-service: also builds the admin console, into tenant-service/dist (which the image copies)", () => {
    const run = buildStage!.instructions.find((i) => i.keyword === 'RUN' && /tsc -b/.test(i.args))!.args;
    const branch = [...run.matchAll(/([\w|-]+)\)\s*([^;]+);;/g)].find((m) => m[1].split('|').includes('tenant-service'));
    expect(branch![2]).toMatch(/&& npm run build -w tenant-service\s*$/);
    expect(JSON.parse(read('tenant-service/package.json')).scripts.build).toMatch(/vite build --config console\/vite\.config\.mjs/);
    expect(read('tenant-service/console/vite.config.mjs')).toMatch(/outDir: fileURLToPath\(new URL\('\.\.\/dist\/console'/);
  });

  it.each(targets.map(([name, s]) => [name, s.build!.args!.SERVICE]))(
    'compose service %s (SERVICE=%s): the image runs `node <file>` on a file the build produces',
    (name, target) => {
      const image = imageFor(dockerfile, { SERVICE: target });
      const main = target === 'migrations' ? 'migrations/dist/cli.js' : `${target}/dist/server.js`;
      // Exec form: node itself is the process that gets SIGTERM.
      expect(image.cmd).toEqual(['node', main]);
      expect(existsSync(path.join(ROOT, main))).toBe(true);

      // The image holds that file: its workspace's dist, shared and migrations, in /app.
      expect(image.workdir).toBe('/app');
      const copies = image.instructions.filter((i) => i.keyword === 'COPY' && i.args.startsWith('--from=build')).map((i) => i.args.split(/\s+/)[1]);
      expect(copies).toEqual(expect.arrayContaining(['/app/node_modules', '/app/shared/dist', '/app/migrations/dist', '/app/migrations/sql', `/app/${target}/dist`]));
      // What npm nests in a workspace (a version the root holds another of, like shared's lru-cache) goes too.
      expect(copies).toEqual(expect.arrayContaining(['/app/shared/node_modules', '/app/migrations/node_modules', `/app/${target}/node_modules`]));

      expect(image.user).toBe('node');
      expect(image.env.NODE_ENV).toBe('production');
      if (target === 'migrations') {
        expect(image.healthcheck).toBe('NONE');
      } else {
        expect(image.env.PORT).toBe(String(CONTRACT_PORTS[target]));
        expect(image.healthcheck).toMatch(/^.*CMD \["node", "-e", .*\/health/);
      }
    },
  );
});

// ---------------------------------------------------------------------------------------------
// The command itself

interface Child {
  name: string;
  proc: ChildProcess;
  stderr: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}
const children: Child[] = [];

/** Starts `node <script>` from the repo root, as the image's CMD does from /app. */
function startNode(name: string, script: string, env: NodeJS.ProcessEnv): Child {
  const clean = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined)) as NodeJS.ProcessEnv;
  const proc = spawn(process.execPath, [script], { cwd: ROOT, env: clean, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  proc.stderr!.on('data', (d) => (stderr += d));
  proc.stdout!.resume();
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => proc.once('exit', (code, signal) => resolve({ code, signal })));
  const child = { name, proc, stderr: () => stderr, exited };
  children.push(child);
  return child;
}

function get(url: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { agent: false, timeout: 2000 }, (res) => {
      let body = '';
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
  });
}

function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    promise,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what}: no result within ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

/** Polls GET /health until 200; fails at once (with its stderr) if the process exits. */
async function waitForHealth(child: Child, baseUrl: string, timeoutMs = 15_000): Promise<void> {
  let exited: { code: number | null } | undefined;
  void child.exited.then((e) => (exited = e));
  const deadline = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < deadline) {
    if (exited) throw new Error(`${child.name} exited with ${exited.code} before answering /health:\n${child.stderr()}`);
    try {
      const res = await get(`${baseUrl}/health`);
      if (res.status === 200) return;
      last = `status ${res.status}`;
    } catch (err) {
      last = (err as Error).message;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${child.name} did not answer /health with 200 within ${timeoutMs} ms (last: ${last}):\n${child.stderr()}`);
}

describe('the command the images run: node <service>/dist/server.js', () => {
  let db: TestDatabase;

  beforeAll(async () => {
    db = await createTestDatabase();
  });

  afterAll(async () => {
    for (const c of children) if (c.proc.exitCode === null && c.proc.signalCode === null) c.proc.kill('SIGKILL');
    await Promise.all(children.map((c) => within(c.exited, 5_000, `${c.name} exit`).catch(() => undefined)));
    await db?.drop();
  });

  /** A service's production environment with only the secrets its schema requires, as compose gives them. */
  function productionEnv(name: string, extra: Record<string, string | undefined>): NodeJS.ProcessEnv {
    const env = serviceEnv(db.appUrl, { NODE_ENV: 'production', ...extra });
    for (const secret of Object.keys(testSecrets)) delete env[secret];
    for (const secret of requiredInProduction(SCHEMAS[name])) env[secret] = testSecrets[secret as keyof typeof testSecrets];
    return env;
  }

  it('all six start as in production with only their own secrets, answer /health and /ready, serve /internal/... only on their internal port, and exit 0 on SIGTERM within 10 s', async () => {
    const ports = Object.fromEntries(await Promise.all(SERVICES.map(async (s) => [s, await freePort()] as const)));
    const internalPorts = Object.fromEntries(await Promise.all(Object.keys(INTERNAL_PORTS).map(async (s) => [s, await freePort()] as const)));
    const urls = {
      ...Object.fromEntries(Object.entries(URL_VARS).map(([v, s]) => [v, `http://127.0.0.1:${ports[s]}`])),
      ...Object.fromEntries(Object.entries(INTERNAL_URL_VARS).map(([v, s]) => [v, `http://127.0.0.1:${internalPorts[s]}`])),
    };
    const started = SERVICES.map((name) => ({
      name,
      url: `http://127.0.0.1:${ports[name]}`,
      child: startNode(
        name,
        `${name}/dist/server.js`,
        productionEnv(name, { PORT: String(ports[name]), INTERNAL_PORT: internalPorts[name] ? String(internalPorts[name]) : undefined, REDIS_URL: TEST_REDIS_URL, ...urls }),
      ),
    }));

    await Promise.all(started.map(({ child, url }) => waitForHealth(child, url)));
    for (const { name, url } of started) {
      const ready = await get(`${url}/ready`);
      expect({ name, status: ready.status }).toEqual({ name, status: 200 });
    }

    // The decrypted credentials: not on 3007 (whatever the caller shows), only on the internal
    // port, and there only to a service that reads credentials.
    const admin = `Bearer ${testSecrets.ADMIN_API_KEY}`;
    const tenantId = `deploy-${Date.now().toString(36)}`;
    const tenantService = `http://127.0.0.1:${ports['tenant-service']}`;
    const tenantInternal = `http://127.0.0.1:${internalPorts['tenant-service']}`;
    await request(tenantService).post('/tenants').set('Authorization', admin).send({ tenantId, name: tenantId }).expect(201);
    const genesys = {
      clientId: '5f1a7c1e-0000-4000-8000-000000000001',
      clientSecret: 'genesys-client-secret-deploy',
      region: 'mypurecloud.ie',
      integrationId: '8a6e4b2c-0000-4000-8000-000000000002',
      webhookSecret: 'a-webhook-secret-of-16+chars',
    };
    await request(tenantService).post(`/tenants/${tenantId}/credentials`).set('Authorization', admin).send({ type: 'genesys', credentials: genesys }).expect(201);
    const route = `/internal/tenants/${tenantId}/credentials/genesys`;
    const onPublicPort = await request(tenantService).get(route).set('Authorization', admin).set(INTERNAL_TOKEN_HEADER, testSecrets.WEBHOOK_SERVICE_INTERNAL_TOKEN);
    expect(onPublicPort.status).toBe(404);
    expect(onPublicPort.text).not.toContain(genesys.clientSecret);
    const read = await request(tenantInternal).get(route).set(INTERNAL_TOKEN_HEADER, testSecrets.WEBHOOK_SERVICE_INTERNAL_TOKEN);
    expect({ status: read.status, clientSecret: read.body.credentials?.clientSecret }).toEqual({ status: 200, clientSecret: genesys.clientSecret });
    expect((await request(tenantInternal).get(route).set(INTERNAL_TOKEN_HEADER, testSecrets.GATEWAY_INTERNAL_TOKEN)).status).toBe(401);
    // The other internal routes likewise.
    const auth = { pub: `http://127.0.0.1:${ports['auth-service']}`, internal: `http://127.0.0.1:${internalPorts['auth-service']}` };
    expect((await request(auth.pub).post('/internal/genesys/token').set(INTERNAL_TOKEN_HEADER, testSecrets.GENESYS_CONNECTOR_INTERNAL_TOKEN).send({ tenantId })).status).toBe(404);
    expect((await request(auth.internal).post('/internal/genesys/token').set(INTERNAL_TOKEN_HEADER, testSecrets.WEBHOOK_SERVICE_INTERNAL_TOKEN).send({ tenantId })).status).toBe(401);
    const connector = { pub: `http://127.0.0.1:${ports['genesys-connector']}`, internal: `http://127.0.0.1:${internalPorts['genesys-connector']}` };
    expect((await request(connector.pub).get('/internal/queue').set(INTERNAL_TOKEN_HEADER, testSecrets.GENESYS_CONNECTOR_INTERNAL_TOKEN)).status).toBe(404);
    expect((await request(connector.internal).get('/internal/queue').set(INTERNAL_TOKEN_HEADER, testSecrets.GENESYS_CONNECTOR_INTERNAL_TOKEN)).status).toBe(200);
    expect((await request(connector.internal).get('/internal/queue').set(INTERNAL_TOKEN_HEADER, testSecrets.GATEWAY_INTERNAL_TOKEN)).status).toBe(401);

    for (const { child } of started) child.proc.kill('SIGTERM');
    const exits = await Promise.all(started.map(async ({ name, child }) => ({ name, ...(await within(child.exited, 10_000, `${name} after SIGTERM`)) })));
    expect(exits).toEqual(started.map(({ name }) => ({ name, code: 0, signal: null })));
  }, 60_000);

  it('refuses to start connected as a superuser (the owner), naming the bridge_app role', async () => {
    const child = startNode('tenant-service', 'tenant-service/dist/server.js', serviceEnv(db.ownerUrl, { PORT: String(await freePort()) }));
    const { code } = await within(child.exited, 15_000, 'tenant-service as owner');
    expect(code).not.toBe(0);
    expect(child.stderr()).toMatch(/bridge_app/);
  }, 20_000);

  it.each(requiredInProduction(SCHEMAS['tenant-service']))('tenant-service refuses to start in production without %s, and names it', async (secret) => {
    const env = productionEnv('tenant-service', { PORT: String(await freePort()), INTERNAL_PORT: String(await freePort()) });
    delete env[secret];
    const child = startNode('tenant-service', 'tenant-service/dist/server.js', env);
    const { code } = await within(child.exited, 15_000, `tenant-service without ${secret}`);
    expect(code).not.toBe(0);
    expect(child.stderr()).toContain(secret);
  }, 20_000);
});
