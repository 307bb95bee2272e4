/**
 * Keeps the Kubernetes manifests (deploy/k8s) honest without a cluster, the way deploy.test.ts
 * keeps docker-compose.yml: each kustomization is rendered once with `kubectl kustomize` (offline),
 * every object is validated against the Kubernetes API schemas (kubernetes-models, Kubernetes
 * 1.27), and the rendered objects are held to the code: the contract's ports, the probes'
 * paths, every variable each service's config schema requires, the secrets each one holds and
 * no other, nothing secret in a ConfigMap, the images the Dockerfile builds, and NetworkPolicies
 * that let each internal port be reached exactly by the services whose source calls it.
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { parseAllDocuments } from 'yaml';
import { loadConfig, metricsPort, requiredInProduction, SECRET_ALTERNATIVES } from '@bridge/shared';
import { Namespace } from 'kubernetes-models/v1/Namespace';
import { ConfigMap } from 'kubernetes-models/v1/ConfigMap';
import { Secret } from 'kubernetes-models/v1/Secret';
import { Service } from 'kubernetes-models/v1/Service';
import { Deployment } from 'kubernetes-models/apps/v1/Deployment';
import { Job } from 'kubernetes-models/batch/v1/Job';
import { HorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2/HorizontalPodAutoscaler';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1/PodDisruptionBudget';
import { Ingress } from 'kubernetes-models/networking.k8s.io/v1/Ingress';
import { NetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1/NetworkPolicy';
import { CONTRACT_PORTS, compose, imageFor, INTERNAL_PORTS, METRICS_PORTS, INTERNAL_URL_VARS, parseDockerfile, read, ROOT, SCHEMAS, SECRET_VARIABLES, SERVICES, URL_VARS } from './support/deploy';

// ---------------------------------------------------------------------------------------------
// Rendering and validation

/** A rendered Kubernetes object, read loosely: the schema validation (below) is what holds its shape. */
type Obj = { apiVersion: string; kind: string; metadata: { name: string; namespace?: string; labels?: Record<string, string> }; spec?: any; data?: Record<string, string> };

/** The kustomizations an operator applies, in that order within an environment. */
const KUSTOMIZATIONS = ['production/migrate', 'production', 'dev/datastores', 'dev/migrate', 'dev'] as const;
type Kustomization = (typeof KUSTOMIZATIONS)[number];
const NAMESPACES: Record<string, string> = { production: 'whatsapp-bridge', dev: 'whatsapp-bridge-dev' };

function kubectl(): string {
  try {
    execFileSync('kubectl', ['version', '--client'], { stdio: 'pipe' });
    return 'kubectl';
  } catch (err) {
    throw new Error(`test/k8s.test.ts renders deploy/k8s with \`kubectl kustomize\`, and kubectl is not installed or does not run: ${(err as Error).message}`);
  }
}

/** `kubectl kustomize deploy/k8s/overlays/<k>`, parsed: rendered once per kustomization for the whole file. */
const rendered: Record<Kustomization, Obj[]> = (() => {
  const bin = kubectl();
  const out = {} as Record<Kustomization, Obj[]>;
  for (const k of KUSTOMIZATIONS) {
    const text = execFileSync(bin, ['kustomize', path.join(ROOT, 'deploy/k8s/overlays', k)], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    out[k] = parseAllDocuments(text).map((d) => d.toJS() as Obj);
  }
  return out;
})();

/** The model (with its validator) of every kind the manifests may hold, by `apiVersion/kind`. */
const MODELS: Record<string, new (data: never) => { validate(): void }> = {
  'v1/Namespace': Namespace,
  'v1/ConfigMap': ConfigMap,
  'v1/Secret': Secret,
  'v1/Service': Service,
  'apps/v1/Deployment': Deployment,
  'batch/v1/Job': Job,
  'autoscaling/v2/HorizontalPodAutoscaler': HorizontalPodAutoscaler,
  'policy/v1/PodDisruptionBudget': PodDisruptionBudget,
  'networking.k8s.io/v1/Ingress': Ingress,
  'networking.k8s.io/v1/NetworkPolicy': NetworkPolicy,
};

/** The schema errors of an object (none: valid). */
function schemaErrors(obj: Obj): string[] {
  const Model = MODELS[`${obj.apiVersion}/${obj.kind}`];
  if (!Model) return [`${obj.apiVersion} ${obj.kind} is not a kind these manifests use`];
  // kustomize wraps a Secret's long base64 values over lines, which the API server's decoder skips
  // (Go's base64 ignores line breaks) and the schema's `byte` format does not.
  const data = obj.kind === 'Secret' && obj.data ? Object.fromEntries(Object.entries(obj.data).map(([k, v]) => [k, v.replace(/\s+/g, '')])) : obj.data;
  try {
    new Model({ ...obj, ...(data && { data }) } as never).validate();
    return [];
  } catch (err) {
    return [(err as Error).message];
  }
}

const of = (k: Kustomization, kind: string) => rendered[k].filter((o) => o.kind === kind);
const named = (k: Kustomization, kind: string, name: string) => {
  const found = of(k, kind).find((o) => o.metadata.name === name);
  if (!found) throw new Error(`${k} renders no ${kind} ${name}`);
  return found;
};
/** A generated object's name without the content hash kustomize appends (`bridge-config-7kcbdchck4`; its alphabet has no vowels). */
const baseName = (name: string) => name.replace(/-[2456789bcdfghkmt]{10}$/, '');

describe('deploy/k8s renders and validates', () => {
  it.each(KUSTOMIZATIONS)('%s: every object is valid against the Kubernetes schemas, in its namespace', (k) => {
    expect(rendered[k].length).toBeGreaterThan(0);
    const errors = rendered[k].flatMap((o) => schemaErrors(o).map((e) => `${o.kind} ${o.metadata?.name}: ${e}`));
    expect(errors).toEqual([]);
    const namespace = NAMESPACES[k.split('/')[0]];
    for (const o of rendered[k]) {
      if (o.kind === 'Namespace') expect(o.metadata.name).toBe(namespace);
      else expect({ kind: o.kind, name: o.metadata.name, namespace: o.metadata.namespace }).toEqual({ kind: o.kind, name: o.metadata.name, namespace });
      if (o.kind !== 'Namespace') {
        expect({ kind: o.kind, name: o.metadata.name, partOf: o.metadata.labels?.['app.kubernetes.io/part-of'] }).toEqual({ kind: o.kind, name: o.metadata.name, partOf: 'whatsapp-genesys-bridge' });
      }
    }
  });

  it('the validator does reject a broken object (so a pass above means something)', () => {
    const deployment = structuredClone(named('production', 'Deployment', 'gateway'));
    deployment.spec.replicas = 'two';
    deployment.spec.template.spec.containers[0].ports[0].containerPort = '3000';
    expect(schemaErrors(deployment).join()).toMatch(/replicas must be integer/);
    expect(schemaErrors({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'x' } })).toEqual(['v1 Pod is not a kind these manifests use']);
  });

  it('the production kustomizations hold no Secret: they are created apart (README), never committed', () => {
    for (const k of ['production', 'production/migrate'] as const) expect(of(k, 'Secret')).toEqual([]);
  });
});

// ---------------------------------------------------------------------------------------------
// The services

/** Variables that carry a credential, beyond the services' secrets: they never go in a ConfigMap or a literal value. */
const CREDENTIAL_VARIABLES = new Set([...SECRET_VARIABLES, 'DATABASE_URL', 'DATABASE_DIRECT_URL', 'REDIS_URL', 'DB_APP_PASSWORD', 'POSTGRES_PASSWORD', 'JWT_PREVIOUS_SECRETS', 'META_PLATFORM_APP_SECRET']);
/** The Secret every service reads its connection strings from. */
const DATASTORES_SECRET = 'bridge-datastores';
/** Services scaled by a HorizontalPodAutoscaler (the issue: the three whose load follows the message rate). */
const AUTOSCALED = ['gateway', 'webhook-service', 'genesys-connector'];
/** Peak RSS measured by `npm run bench` (bench/README.md, "Figures on this machine"), MB: the larger of its two runs. */
const PEAK_RSS_MB: Record<string, number> = { gateway: 274, 'webhook-service': 177, 'state-manager': 169, 'auth-service': 116, 'genesys-connector': 150, 'tenant-service': 118 };

interface EnvSource {
  value?: string;
  secret?: { name: string; key: string; optional: boolean };
  configMap?: string;
}

/** Where each variable of a container comes from: its `env`, then what `envFrom` brings (env wins, as in Kubernetes). */
function environment(k: Kustomization, container: any): Map<string, EnvSource> {
  const env = new Map<string, EnvSource>();
  for (const from of container.envFrom ?? []) {
    if (from.configMapRef) for (const key of Object.keys(named(k, 'ConfigMap', from.configMapRef.name).data ?? {})) env.set(key, { configMap: from.configMapRef.name });
    if (from.secretRef) throw new Error('envFrom a Secret hides which keys a service reads: name each with secretKeyRef');
  }
  for (const e of container.env ?? []) {
    const ref = e.valueFrom?.secretKeyRef;
    if (ref) env.set(e.name, { secret: { name: ref.name, key: ref.key, optional: ref.optional === true } });
    else if (e.valueFrom) throw new Error(`${e.name}: only literal values and secretKeyRef are expected`);
    else env.set(e.name, { value: String(e.value) });
  }
  return env;
}

/** Schema keys that have neither a default nor `optional()`: the service cannot start without them. */
function requiredVariables(name: string): string[] {
  return Object.entries(SCHEMAS[name].shape)
    .filter(([, schema]) => !(schema as { safeParse(v: unknown): { success: boolean } }).safeParse(undefined).success)
    .map(([key]) => key);
}

/** The secrets a service holds in production, as the variables the manifests pass (the keyring as CREDENTIALS_ENCRYPTION_KEYS). */
function heldSecretVariables(name: string): string[] {
  return requiredInProduction(SCHEMAS[name]).map((s) => SECRET_ALTERNATIVES[s] ?? s);
}

const container = (k: Kustomization, name: string) => named(k, 'Deployment', name).spec.template.spec.containers[0];

describe.each(['production', 'dev'] as const)('overlay %s: the six services', (k) => {
  it('has exactly one Deployment and one Service per service of the contract, and nothing else runs', () => {
    expect(of(k, 'Deployment').map((d) => d.metadata.name).sort()).toEqual([...SERVICES].sort());
    expect(of(k, 'Service').map((d) => d.metadata.name).sort()).toEqual([...SERVICES].sort());
    expect(of(k, 'Job')).toEqual([]);
  });

  it.each(SERVICES)('%s: its contract port (and internal port) on the container, the Service and PORT/INTERNAL_PORT, as in docker-compose.yml and its config defaults', (name) => {
    const c = container(k, name);
    const hasInternal = 'INTERNAL_PORT' in SCHEMAS[name].shape;
    const ports = Object.fromEntries(c.ports.map((p: { name: string; containerPort: number }) => [p.name, p.containerPort]));
    const metrics = { metrics: METRICS_PORTS[name] };
    expect(ports).toEqual(hasInternal ? { http: CONTRACT_PORTS[name], internal: INTERNAL_PORTS[name], ...metrics } : { http: CONTRACT_PORTS[name], ...metrics });
    const env = environment(k, c);
    expect(env.get('PORT')).toEqual({ value: String(CONTRACT_PORTS[name]) });
    expect(env.get('INTERNAL_PORT')).toEqual(hasInternal ? { value: String(INTERNAL_PORTS[name]) } : undefined);
    // The metrics listener: the same port in compose, and the service's own default (metricsPort: PORT + 6400).
    expect(env.get('METRICS_PORT')).toEqual({ value: String(METRICS_PORTS[name]) });
    expect(compose.services[name].environment?.METRICS_PORT).toBe(String(METRICS_PORTS[name]));
    expect(metricsPort({ PORT: CONTRACT_PORTS[name] })).toBe(METRICS_PORTS[name]);
    expect(named(k, 'Deployment', name).spec.template.metadata.annotations).toEqual({
      'prometheus.io/scrape': 'true',
      'prometheus.io/port': String(METRICS_PORTS[name]),
      'prometheus.io/path': '/metrics',
    });
    // The same ports compose gives it, and its own defaults.
    expect(compose.services[name].environment?.PORT).toBe(String(CONTRACT_PORTS[name]));
    expect(compose.services[name].environment?.INTERNAL_PORT).toBe(hasInternal ? String(INTERNAL_PORTS[name]) : undefined);
    expect(SCHEMAS[name].shape.PORT.parse(undefined)).toBe(CONTRACT_PORTS[name]);

    const service = named(k, 'Service', name);
    expect(service.spec.type ?? 'ClusterIP').toBe('ClusterIP');
    expect(service.spec.selector).toEqual({ 'app.kubernetes.io/name': name });
    expect(named(k, 'Deployment', name).spec.template.metadata.labels).toMatchObject(service.spec.selector);
    const servicePorts = service.spec.ports.map((p: { name: string; port: number; targetPort: string }) => [p.name, p.port, p.targetPort]);
    const metricsPorts = [['metrics', METRICS_PORTS[name], 'metrics']];
    expect(servicePorts).toEqual(
      hasInternal ? [['http', CONTRACT_PORTS[name], 'http'], ['internal', INTERNAL_PORTS[name], 'internal'], ...metricsPorts] : [['http', CONTRACT_PORTS[name], 'http'], ...metricsPorts],
    );
  });

  it.each(SERVICES)('%s: started by its probes on /health, alive on /health, ready on /ready, on its own port', (name) => {
    const c = container(k, name);
    const probe = (p: { httpGet?: { path: string; port: string } }) => p?.httpGet && { path: p.httpGet.path, port: p.httpGet.port };
    expect({ startup: probe(c.startupProbe), liveness: probe(c.livenessProbe), readiness: probe(c.readinessProbe) }).toEqual({
      startup: { path: '/health', port: 'http' },
      liveness: { path: '/health', port: 'http' },
      readiness: { path: '/ready', port: 'http' },
    });
    // The image's own healthcheck (and compose's) is /health on PORT too.
    expect(JSON.stringify(compose.services[name].healthcheck?.test)).toContain('/health');
    // It stops within the grace period: preStop, then runMain closes within 10 s of SIGTERM.
    const pod = named(k, 'Deployment', name).spec.template.spec;
    const preStop = Number(c.lifecycle?.preStop?.exec?.command?.[1] ?? 0);
    expect(pod.terminationGracePeriodSeconds).toBeGreaterThanOrEqual(preStop + 10 + 5);
  });

  it.each(SERVICES)('%s: runs the image the Dockerfile builds for it, with its command, non-root on a read-only filesystem without capabilities', (name) => {
    const deployment = named(k, 'Deployment', name);
    const pod = deployment.spec.template.spec;
    const c = container(k, name);
    expect(pod.containers).toHaveLength(1);
    expect(c.image).toMatch(new RegExp(`(^|/)bridge-${name}:[\\w.-]+$`));
    // No command or args: the image's CMD, `node <service>/dist/server.js` (deploy.test.ts checks it).
    expect({ command: c.command, args: c.args }).toEqual({ command: undefined, args: undefined });
    const image = imageFor(parseDockerfile(read('Dockerfile')), { SERVICE: name });
    expect(image.cmd).toEqual(['node', `${name}/dist/server.js`]);
    expect(image.env.PORT).toBe(String(CONTRACT_PORTS[name]));
    expect(image.user).toBe('node');

    expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } });
    // The node images' `node` user; numeric, or runAsNonRoot cannot verify a named USER.
    expect(pod.securityContext.runAsUser).toBe(1000);
    expect(c.securityContext).toEqual({ allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } });
    expect(pod.automountServiceAccountToken).toBe(false);
    // No docker-link variables (TENANT_SERVICE_PORT=tcp://...) beside the service's own.
    expect(pod.enableServiceLinks).toBe(false);
  });

  it.each(SERVICES)('%s: resource requests and limits, the memory limit above its measured peak RSS', (name) => {
    const { requests, limits } = container(k, name).resources ?? {};
    expect(requests?.cpu).toBeDefined();
    expect(limits?.cpu).toBeDefined();
    const mib = (q: string) => Number(/^(\d+)Mi$/.exec(q)?.[1] ?? /^(\d+)Gi$/.exec(q)?.[1]) * (q.endsWith('Gi') ? 1024 : 1);
    expect(mib(limits.memory)).toBeGreaterThan((PEAK_RSS_MB[name] * 1e6) / 2 ** 20);
    expect(mib(requests.memory)).toBeLessThanOrEqual(mib(limits.memory));
  });

  it.each(SERVICES)('%s: every variable its config requires is provided; its secrets come from Secrets, only its own; nothing it does not understand', (name) => {
    const env = environment(k, container(k, name));
    for (const variable of [...requiredVariables(name), ...heldSecretVariables(name)]) {
      expect({ variable, provided: env.has(variable) }).toEqual({ variable, provided: true });
    }
    // Production mode, so each secret it holds is enforced.
    const config = named(k, 'ConfigMap', [...env.values()].find((s) => s.configMap)!.configMap!);
    expect(config.data?.NODE_ENV).toBe('production');

    for (const [variable, source] of env) {
      if (!CREDENTIAL_VARIABLES.has(variable)) continue;
      expect({ variable, fromSecret: !!source.secret }).toEqual({ variable, fromSecret: true });
    }
    // Its secrets and none of another's: the credential variables it is given are those its schema
    // declares; the ones production requires are not optional.
    const given = [...env].filter(([v]) => SECRET_VARIABLES.has(v)).map(([v]) => v);
    expect(given.sort()).toEqual(heldSecretVariables(name).sort());
    for (const variable of heldSecretVariables(name)) expect({ variable, optional: env.get(variable)!.secret!.optional }).toEqual({ variable, optional: false });
    // Each from the service's own Secret (the connection strings from the shared one).
    for (const [variable, source] of env) {
      if (!source.secret) continue;
      const secret = baseName(source.secret.name);
      expect({ variable, secret, key: source.secret.key }).toEqual({ variable, secret: ['DATABASE_URL', 'REDIS_URL', 'DATABASE_DIRECT_URL'].includes(variable) ? DATASTORES_SECRET : `${name}-secrets`, key: variable });
    }
    const known = new Set(Object.keys(SCHEMAS[name].shape));
    expect([...env.keys()].filter((v) => !known.has(v))).toEqual([]);
  });

  it('the ConfigMap holds nothing secret, and the addresses of the services are their Services and ports', () => {
    const maps = of(k, 'ConfigMap');
    expect(maps.map((m) => baseName(m.metadata.name))).toEqual(['bridge-config']);
    const data = maps[0].data ?? {};
    expect(Object.keys(data).filter((key) => CREDENTIAL_VARIABLES.has(key))).toEqual([]);
    // No value that looks like a credential either (a URL with a password, a long random string).
    for (const [key, value] of Object.entries(data)) {
      expect({ key, userinfo: /\/\/[^/@]*:[^/@]*@/.test(value) }).toEqual({ key, userinfo: false });
    }
    for (const [variable, target] of Object.entries(URL_VARS)) expect({ variable, url: data[variable] }).toEqual({ variable, url: `http://${target}:${CONTRACT_PORTS[target]}` });
    for (const [variable, target] of Object.entries(INTERNAL_URL_VARS)) expect({ variable, url: data[variable] }).toEqual({ variable, url: `http://${target}:${INTERNAL_PORTS[target]}` });
    expect(new URL(data.PUBLIC_BASE_URL).protocol).toBe('https:');
    // The public address is the gateway's Ingress host.
    expect(new URL(data.PUBLIC_BASE_URL).host).toBe(named(k, 'Ingress', 'gateway').spec.rules[0].host);
  });

  it('an autoscaler for gateway, webhook-service and genesys-connector (and their Deployments leave the count to it); a disruption budget for each', () => {
    const hpas = of(k, 'HorizontalPodAutoscaler');
    expect(hpas.map((h) => h.spec.scaleTargetRef.name).sort()).toEqual([...AUTOSCALED].sort());
    for (const hpa of hpas) {
      expect(hpa.spec.scaleTargetRef).toEqual({ apiVersion: 'apps/v1', kind: 'Deployment', name: hpa.metadata.name });
      expect(hpa.spec.maxReplicas).toBeGreaterThan(hpa.spec.minReplicas);
      expect(hpa.spec.metrics.map((m: { resource: { name: string } }) => m.resource.name)).toEqual(['cpu']);
      expect(named(k, 'Deployment', hpa.metadata.name).spec.replicas).toBeUndefined();
    }
    for (const name of SERVICES.filter((s) => !AUTOSCALED.includes(s))) expect(named(k, 'Deployment', name).spec.replicas).toBeGreaterThanOrEqual(k === 'production' ? 2 : 1);
    const pdbs = of(k, 'PodDisruptionBudget');
    expect(pdbs.map((p) => p.spec.selector.matchLabels['app.kubernetes.io/name']).sort()).toEqual([...SERVICES].sort());
    for (const pdb of pdbs) expect(pdb.spec.maxUnavailable).toBe(1);
  });

  it('an Ingress, with TLS, for the gateway (3000) and the admin API (3007) and nothing else', () => {
    const backends = of(k, 'Ingress').flatMap((ing) => {
      const hosts = ing.spec.rules.map((r: { host: string }) => r.host);
      expect(ing.spec.tls.flatMap((t: { hosts: string[]; secretName: string }) => t.hosts).sort()).toEqual([...hosts].sort());
      for (const t of ing.spec.tls) expect(t.secretName).toBeTruthy();
      return ing.spec.rules.flatMap((r: { http: { paths: Array<{ backend: { service: { name: string; port: { name?: string; number?: number } } } }> } }) =>
        r.http.paths.map((p) => {
          const port = p.backend.service.port;
          const service = named(k, 'Service', p.backend.service.name);
          const resolved = port.number ?? service.spec.ports.find((sp: { name: string }) => sp.name === port.name)?.port;
          return `${p.backend.service.name}:${resolved}`;
        }),
      );
    });
    expect(backends.sort()).toEqual(['gateway:3000', 'tenant-service:3007']);
  });

  it('the gateway believes the one proxy in front of it (the ingress controller) for the client address', () => {
    expect(environment(k, container(k, 'gateway')).get('TRUST_PROXY_HOPS')).toEqual({ value: '1' });
  });
});

describe('overlay dev: its Secrets, as given, make a configuration each service starts with', () => {
  it.each(SERVICES)('%s', (name) => {
    const k = 'dev';
    const env: NodeJS.ProcessEnv = {};
    for (const [variable, source] of environment(k, container(k, name))) {
      if (source.value !== undefined) env[variable] = source.value;
      else if (source.configMap) env[variable] = named(k, 'ConfigMap', source.configMap).data![variable];
      else {
        const secret = named(k, 'Secret', source.secret!.name);
        const value = secret.data?.[source.secret!.key];
        if (value === undefined) expect({ variable, optional: source.secret!.optional }).toEqual({ variable, optional: true });
        else env[variable] = Buffer.from(value.replace(/\s+/g, ''), 'base64').toString('utf8');
      }
    }
    expect(() => loadConfig(SCHEMAS[name] as never, env)).not.toThrow();
    // Each service's Secret holds exactly what it reads.
    const own = of(k, 'Secret').find((s) => baseName(s.metadata.name) === `${name}-secrets`)!;
    const read = [...environment(k, container(k, name))].filter(([, s]) => s.secret && baseName(s.secret.name) === `${name}-secrets`);
    expect(Object.keys(own.data ?? {}).sort()).toEqual(read.filter(([, s]) => !s.secret!.optional || own.data?.[s.secret!.key]).map(([v]) => v).sort());
  });
});

// ---------------------------------------------------------------------------------------------
// The migrations Job

describe.each(['production/migrate', 'dev/migrate'] as const)('%s: the migrations Job', (k) => {
  it('runs the migrations image as the owner with the app role password from its own Secret, once', () => {
    expect(rendered[k].map((o) => o.kind).sort()).toEqual([...(k === 'dev/migrate' ? ['Secret'] : []), 'Job', 'Namespace', 'NetworkPolicy'].sort());
    const job = named(k, 'Job', 'bridge-migrate');
    const pod = job.spec.template.spec;
    const c = pod.containers[0];
    expect(pod.restartPolicy).toBe('Never');
    expect(c.image).toMatch(/(^|\/)bridge-migrations:[\w.-]+$/);
    expect({ command: c.command, args: c.args }).toEqual({ command: undefined, args: undefined });
    expect(imageFor(parseDockerfile(read('Dockerfile')), { SERVICE: 'migrations' }).cmd).toEqual(['node', 'migrations/dist/cli.js']);
    expect(compose.services.migrate.build?.args?.SERVICE).toBe('migrations');
    const env = environment(k, c);
    expect(Object.fromEntries([...env].map(([v, s]) => [v, s.value ?? (s.secret && `${baseName(s.secret.name)}/${s.secret.key}`)]))).toEqual({
      NODE_ENV: 'production',
      DATABASE_URL: 'bridge-migrations/DATABASE_URL',
      DB_APP_PASSWORD: 'bridge-migrations/DB_APP_PASSWORD',
    });
    expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 1000 });
    expect(c.securityContext).toEqual({ allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } });
  });

  it('is of the same release as the services: the same registry and tag', () => {
    const services = k === 'production/migrate' ? 'production' : 'dev';
    const tag = (image: string) => image.replace(/bridge-[\w-]+:/, 'bridge-*:');
    const images = new Set([...of(services, 'Deployment').map((d) => tag(d.spec.template.spec.containers[0].image)), tag(named(k, 'Job', 'bridge-migrate').spec.template.spec.containers[0].image)]);
    expect([...images]).toHaveLength(1);
  });
});

// ---------------------------------------------------------------------------------------------
// NetworkPolicies

type Labels = Record<string, string>;
interface Selector {
  matchLabels?: Labels;
  matchExpressions?: Array<{ key: string; operator: 'In' | 'NotIn' | 'Exists' | 'DoesNotExist'; values?: string[] }>;
}

function selects(selector: Selector | undefined, labels: Labels): boolean {
  if (!selector) return false;
  const byLabels = Object.entries(selector.matchLabels ?? {}).every(([key, value]) => labels[key] === value);
  const byExpressions = (selector.matchExpressions ?? []).every((e) => {
    if (e.operator === 'In') return e.values!.includes(labels[e.key]);
    if (e.operator === 'NotIn') return !e.values!.includes(labels[e.key]);
    if (e.operator === 'Exists') return e.key in labels;
    return !(e.key in labels);
  });
  return byLabels && byExpressions;
}

/** The pods of an environment (services, the Job, the dev datastores), by name, with their labels. */
function pods(env: 'production' | 'dev'): Map<string, Labels> {
  const all = [...rendered[env], ...rendered[`${env}/migrate`], ...(env === 'dev' ? rendered['dev/datastores'] : [])];
  return new Map(all.filter((o) => o.kind === 'Deployment' || o.kind === 'Job').map((o) => [o.metadata.labels!['app.kubernetes.io/name'], o.spec.template.metadata.labels]));
}

function policies(env: 'production' | 'dev'): Obj[] {
  return [...rendered[env], ...rendered[`${env}/migrate`], ...(env === 'dev' ? rendered['dev/datastores'] : [])].filter((o) => o.kind === 'NetworkPolicy');
}

interface Peer {
  podSelector?: Selector;
  namespaceSelector?: Selector;
  ipBlock?: { cidr: string; except?: string[] };
}

/** What a peer is: pods of the namespace (by name), the ingress controller, DNS, or addresses. */
function peerNames(env: 'production' | 'dev', peer: Peer): string[] {
  if (peer.ipBlock) return [`ip:${peer.ipBlock.cidr}`];
  if (peer.namespaceSelector) {
    const ns = peer.namespaceSelector.matchLabels?.['kubernetes.io/metadata.name'];
    if (ns === 'ingress-nginx' && selects(peer.podSelector, { 'app.kubernetes.io/name': 'ingress-nginx' })) return ['ingress-controller'];
    if (ns === 'kube-system' && selects(peer.podSelector, { 'k8s-app': 'kube-dns' })) return ['dns'];
    if (ns === 'monitoring' && selects(peer.podSelector, { 'app.kubernetes.io/name': 'prometheus' })) return ['prometheus'];
    return [`namespace:${JSON.stringify(peer.namespaceSelector)}`];
  }
  return [...pods(env)].filter(([, labels]) => selects(peer.podSelector, labels)).map(([name]) => name);
}

/** Every `source -> target:port` the environment's NetworkPolicies allow into its pods (ingress), or out of them (egress). */
function allowed(env: 'production' | 'dev', direction: 'ingress' | 'egress'): Set<string> {
  const out = new Set<string>();
  for (const policy of policies(env)) {
    if (!policy.spec.policyTypes.includes(direction === 'ingress' ? 'Ingress' : 'Egress')) continue;
    const subjects = [...pods(env)].filter(([, labels]) => Object.keys(policy.spec.podSelector).length === 0 || selects(policy.spec.podSelector, labels)).map(([n]) => n);
    for (const rule of policy.spec[direction] ?? []) {
      const peers: string[] = (rule[direction === 'ingress' ? 'from' : 'to'] ?? [{ all: true }]).flatMap((p: Peer & { all?: boolean }) => (p.all ? ['anyone'] : peerNames(env, p)));
      const ports: string[] = (rule.ports ?? [{ port: 'any' }]).map((p: { port: number | string }) => String(p.port));
      for (const subject of subjects)
        for (const peer of peers)
          for (const port of ports) out.add(direction === 'ingress' ? `${peer} -> ${subject}:${port}` : `${subject} -> ${peer}:${port}`);
    }
  }
  return out;
}

/** All TypeScript source of a workspace. */
function sourceOf(workspace: string): string {
  const walk = (dir: string): string[] =>
    readdirSync(dir).flatMap((entry) => {
      const full = path.join(dir, entry);
      return statSync(full).isDirectory() ? walk(full) : full.endsWith('.ts') ? [full] : [];
    });
  return walk(path.join(ROOT, workspace, 'src'))
    .map((f) => readFileSync(f, 'utf8'))
    .join('\n');
}

/** Which services each service calls, and on which port: the URL settings its source reads (`config.TENANT_SERVICE_INTERNAL_URL`...). */
const CALLS: Record<string, string[]> = Object.fromEntries(
  SERVICES.map((caller) => {
    const source = sourceOf(caller);
    const targets = [
      ...Object.entries(URL_VARS).map(([variable, target]) => [variable, `${target}:${CONTRACT_PORTS[target]}`]),
      ...Object.entries(INTERNAL_URL_VARS).map(([variable, target]) => [variable, `${target}:${INTERNAL_PORTS[target]}`]),
    ];
    return [caller, targets.filter(([variable]) => new RegExp(`\\bconfig\\.${variable}\\b`).test(source)).map(([, target]) => target)];
  }),
);
/** The services whose source calls Meta or Genesys. */
const CALLS_OUT = SERVICES.filter((s) => /\bconfig\.(META_GRAPH_URL|GENESYS_API_URL|GENESYS_LOGIN_URL)\b/.test(sourceOf(s)));

describe.each(['production', 'dev'] as const)('overlay %s: NetworkPolicies', (env) => {
  it('deny everything by default, in and out, and allow DNS', () => {
    const deny = policies(env).find((p) => p.metadata.name === 'default-deny')!;
    expect(deny.spec).toEqual({ podSelector: {}, policyTypes: ['Ingress', 'Egress'] });
    for (const name of pods(env).keys()) {
      expect(allowed(env, 'egress').has(`${name} -> dns:53`)).toBe(true);
      expect([...allowed(env, 'egress')].filter((a) => a.startsWith(`${name} -> anyone`))).toEqual([]);
    }
  });

  it('let the ingress controller alone reach the gateway and the admin API, the Prometheus scraper alone each metrics port; each other port only from the services whose code calls it', () => {
    // The callers, from the source: the gateway forwards to webhook-service, state-manager and
    // auth-service; three services read credentials from tenant-service's internal port; the
    // connector takes Genesys tokens from auth-service's.
    expect(CALLS['gateway'].sort()).toEqual(['auth-service:3003', 'state-manager:3002', 'webhook-service:3001']);
    expect(CALLS['genesys-connector'].sort()).toEqual(['auth-service:4003', 'tenant-service:4007']);
    const expected = new Set([
      'ingress-controller -> gateway:3000',
      'ingress-controller -> tenant-service:3007',
      ...SERVICES.map((name) => `prometheus -> ${name}:${METRICS_PORTS[name]}`),
      ...SERVICES.flatMap((caller) => CALLS[caller].map((t) => `${caller} -> ${t}`)),
    ]);
    const intoServices = [...allowed(env, 'ingress')].filter((a) => SERVICES.includes(a.split(' -> ')[1].split(':')[0]));
    expect(intoServices.sort()).toEqual([...expected].sort());
    // Out of the services to one another: the same pairs.
    const between = [...allowed(env, 'egress')].filter((a) => SERVICES.includes(a.split(' -> ')[1].split(':')[0]));
    expect(between.sort()).toEqual([...expected].filter((e) => !e.startsWith('ingress-controller') && !e.startsWith('prometheus')).sort());
  });

  it('let the services alone reach PostgreSQL and Redis (and the migrations Job PostgreSQL), and only those that call Meta or Genesys reach the Internet', () => {
    const egress = [...allowed(env, 'egress')];
    const to = (port: string) =>
      egress
        .filter((a) => a.endsWith(`:${port}`) && !a.includes('-> dns'))
        .map((a) => a.split(' -> ')[0])
        .sort();
    expect(to('5432')).toEqual([...SERVICES, 'migrations'].sort());
    expect(to('6379')).toEqual([...SERVICES].sort());
    expect(to('443').filter((v, i, a) => a.indexOf(v) === i)).toEqual([...CALLS_OUT].sort());
    expect(CALLS_OUT.sort()).toEqual(['auth-service', 'genesys-connector', 'tenant-service', 'webhook-service']);
    // The Internet rule leaves out the private ranges and the metadata service.
    const internet = policies(env).find((p) => p.metadata.name === 'internet-egress')!;
    expect(internet.spec.egress[0].to[0].ipBlock.except).toEqual(expect.arrayContaining(['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', '169.254.0.0/16']));
    // The services and the Job reach the same PostgreSQL.
    const postgres = (a: string) => a.split(' -> ')[1];
    expect(new Set(egress.filter((a) => a.endsWith(':5432')).map(postgres)).size).toBe(1);
    if (env === 'dev') {
      // In dev they are pods: nothing else reaches them.
      const into = (name: string) => [...allowed(env, 'ingress')].filter((a) => a.split(' -> ')[1].startsWith(`${name}:`)).map((a) => a.split(' -> ')[0]);
      expect(into('postgres').sort()).toEqual([...SERVICES, 'migrations'].sort());
      expect(into('redis').sort()).toEqual([...SERVICES].sort());
    }
  });
});

// ---------------------------------------------------------------------------------------------
// The README's commands

describe('README "Running on Kubernetes"', () => {
  it('creates every Secret the production manifests read, with each key they need and none they do not read', () => {
    const match = /<!-- k8s-secrets -->\s*```bash\n([\s\S]*?)```/.exec(read('README.md'));
    expect(match).not.toBeNull();
    const created = new Map<string, string[]>();
    for (const command of match![1].split(/\n(?=kubectl )/)) {
      const name = /create secret generic ([\w-]+)/.exec(command)?.[1];
      if (!name) continue;
      expect({ name, twice: created.has(name) }).toEqual({ name, twice: false });
      created.set(name, [...command.matchAll(/--from-literal=([A-Z_]+)=/g)].map((m) => m[1]).sort());
    }
    // What the manifests read: key → optional, by Secret.
    const reads = new Map<string, Map<string, boolean>>();
    const containers = [...of('production', 'Deployment'), ...of('production/migrate', 'Job')].map((o) => o.spec.template.spec.containers[0]);
    for (const c of containers) {
      for (const source of environment('production', c).values()) {
        if (!source.secret) continue;
        const keys = reads.get(source.secret.name) ?? new Map<string, boolean>();
        keys.set(source.secret.key, (keys.get(source.secret.key) ?? true) && source.secret.optional);
        reads.set(source.secret.name, keys);
      }
    }
    expect([...created.keys()].sort()).toEqual([...reads.keys()].sort());
    for (const [name, keys] of reads) {
      const needed = [...keys].filter(([, optional]) => !optional).map(([key]) => key);
      expect({ name, missing: needed.filter((key) => !created.get(name)!.includes(key)) }).toEqual({ name, missing: [] });
      expect({ name, unread: created.get(name)!.filter((key) => !keys.has(key)) }).toEqual({ name, unread: [] });
    }
  });
});
