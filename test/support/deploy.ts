/**
 * What the deployment files are checked against, shared by test/deploy.test.ts (docker-compose.yml,
 * the Dockerfile) and test/k8s.test.ts (deploy/k8s): the contract's services and ports, their
 * config schemas, which service holds which secret, and a reader of the Dockerfile.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { requiredInProduction, SECRET_ALTERNATIVES, type SecretName } from '@bridge/shared';
import { configSchema as gatewaySchema } from '../../gateway/src/config';
import { configSchema as webhookSchema } from '../../webhook-service/src/config';
import { configSchema as stateSchema } from '../../state-manager/src/config';
import { configSchema as authSchema } from '../../auth-service/src/config';
import { configSchema as connectorSchema } from '../../genesys-connector/src/config';
import { configSchema as tenantSchema } from '../../tenant-service/src/config';

export const ROOT = path.resolve(__dirname, '..', '..');
export const read = (file: string) => readFileSync(path.join(ROOT, file), 'utf8');

/** The contract's services and ports. */
export const CONTRACT_PORTS: Record<string, number> = {
  gateway: 3000,
  'webhook-service': 3001,
  'state-manager': 3002,
  'auth-service': 3003,
  'genesys-connector': 3004,
  'tenant-service': 3007,
};
export const SERVICES = Object.keys(CONTRACT_PORTS);
/** The services' internal listeners (/internal/...), as the README documents them: never published. */
export const INTERNAL_PORTS: Record<string, number> = { 'auth-service': 4003, 'genesys-connector': 4004, 'tenant-service': 4007 };
/** The services' metrics listeners (GET /metrics, METRICS_PORT), as the README documents them: never published, reached by Prometheus only. */
export const METRICS_PORTS: Record<string, number> = Object.fromEntries(Object.entries(CONTRACT_PORTS).map(([name, port]) => [name, port + 6400]));
/** Only these are reachable from the host. */
export const PUBLISHED: Record<string, number> = { gateway: 3000, 'tenant-service': 3007 };
/** Where each service is found by the others. */
export const URL_VARS: Record<string, string> = {
  TENANT_SERVICE_URL: 'tenant-service',
  STATE_MANAGER_URL: 'state-manager',
  AUTH_SERVICE_URL: 'auth-service',
  WEBHOOK_SERVICE_URL: 'webhook-service',
  GENESYS_CONNECTOR_URL: 'genesys-connector',
};
/** Where each internal listener is found by the others. */
export const INTERNAL_URL_VARS: Record<string, string> = {
  TENANT_SERVICE_INTERNAL_URL: 'tenant-service',
  AUTH_SERVICE_INTERNAL_URL: 'auth-service',
};
export const SCHEMAS: Record<string, z.ZodObject> = {
  gateway: gatewaySchema,
  'webhook-service': webhookSchema,
  'state-manager': stateSchema,
  'auth-service': authSchema,
  'genesys-connector': connectorSchema,
  'tenant-service': tenantSchema,
};
/**
 * Which service holds which secret: the README's table, and what each one's config schema must
 * require in production. The internet-facing parsers (gateway, webhook-service) hold neither the
 * admin key nor the credentials keyring, and no token that opens the credentials of every type
 * but webhook-service's own.
 */
export const HOLDS: Record<string, SecretName[]> = {
  gateway: ['JWT_SECRET', 'GATEWAY_INTERNAL_TOKEN'],
  'webhook-service': ['MEDIA_SIGNING_SECRET', 'WEBHOOK_SERVICE_INTERNAL_TOKEN'],
  'state-manager': ['GATEWAY_INTERNAL_TOKEN'],
  'auth-service': ['JWT_SECRET', 'GATEWAY_INTERNAL_TOKEN', 'AUTH_SERVICE_INTERNAL_TOKEN', 'GENESYS_CONNECTOR_INTERNAL_TOKEN'],
  'genesys-connector': ['MEDIA_SIGNING_SECRET', 'GENESYS_CONNECTOR_INTERNAL_TOKEN'],
  'tenant-service': ['ADMIN_API_KEY', 'CREDENTIALS_ENCRYPTION_KEY', 'WEBHOOK_SERVICE_INTERNAL_TOKEN', 'AUTH_SERVICE_INTERNAL_TOKEN', 'GENESYS_CONNECTOR_INTERNAL_TOKEN'],
};
/** Every secret some service requires in production. */
export const ALL_SECRETS = [...new Set(Object.values(SCHEMAS).flatMap((schema) => requiredInProduction(schema)))];
/** Every variable a secret may be passed as (a required one, or the variable that stands in for it). */
export const SECRET_VARIABLES = new Set<string>([...ALL_SECRETS, ...Object.values(SECRET_ALTERNATIVES), 'INTERNAL_SERVICE_TOKEN']);
/** What the gateway forwards to, so it must wait for them. */
export const GATEWAY_UPSTREAMS = ['tenant-service', 'auth-service', 'state-manager', 'webhook-service'];

// docker-compose.yml

export interface ComposeService {
  build?: { context?: string; dockerfile?: string; args?: Record<string, string> };
  image?: string;
  environment?: Record<string, string | number | boolean | null>;
  ports?: Array<string | { target: number; published?: string | number }>;
  expose?: Array<string | number>;
  depends_on?: Record<string, { condition?: string }>;
  healthcheck?: { test?: string | string[]; disable?: boolean };
  restart?: string;
}
export interface ComposeFile {
  services: Record<string, ComposeService>;
}

export const composeFile = read('docker-compose.yml');
// `<<` merge keys are how the file shares its service defaults; compose resolves them too.
export const compose = parseYaml(composeFile, { merge: true }) as ComposeFile;
/** The file without its comment lines, which compose does not interpolate. */
export const composeText = composeFile.replace(/^[ \t]*#.*$/gm, '');

// Dockerfile

export interface Instruction {
  keyword: string;
  args: string;
}
export interface Stage {
  base: string;
  name?: string;
  instructions: Instruction[];
}

/** Instructions by stage, with continuation lines joined and comments dropped. */
export function parseDockerfile(text: string): { globalArgs: Map<string, string | undefined>; stages: Stage[] } {
  const logical: string[] = [];
  let current = '';
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line.startsWith('#') || (!line && !current)) continue;
    if (line.endsWith('\\')) current += `${line.slice(0, -1)} `;
    else {
      logical.push(current + line);
      current = '';
    }
  }
  const globalArgs = new Map<string, string | undefined>();
  const stages: Stage[] = [];
  for (const line of logical) {
    const [, keyword, args = ''] = /^(\S+)\s*(.*)$/.exec(line) ?? [];
    const kw = keyword.toUpperCase();
    if (kw === 'FROM') {
      const [base, as, name] = args.split(/\s+/);
      stages.push({ base, name: as?.toUpperCase() === 'AS' ? name : undefined, instructions: [] });
    } else if (!stages.length) {
      if (kw === 'ARG') {
        const [n, ...v] = args.split('=');
        globalArgs.set(n, v.length ? v.join('=') : undefined);
      }
    } else stages[stages.length - 1].instructions.push({ keyword: kw, args });
  }
  return { globalArgs, stages };
}

export const expandArgs = (s: string, args: Record<string, string | undefined>) =>
  s.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$([A-Za-z_][A-Za-z0-9_]*)/g, (m, a: string, b: string) => args[a ?? b] ?? m);

export interface Image {
  /** The stages the image is made of, base first. */
  chain: Stage[];
  cmd?: string[];
  healthcheck?: string;
  user?: string;
  workdir?: string;
  env: Record<string, string>;
  /** Every instruction of the chain with the build args substituted. */
  instructions: Instruction[];
}

/** What `docker build --build-arg SERVICE=<service>` produces, as far as the test cares. */
export function imageFor(dockerfile: ReturnType<typeof parseDockerfile>, buildArgs: Record<string, string>): Image {
  const args = { ...Object.fromEntries(dockerfile.globalArgs), ...buildArgs };
  const byName = new Map(dockerfile.stages.filter((s) => s.name).map((s) => [s.name!, s]));
  const chain: Stage[] = [];
  for (let stage: Stage | undefined = dockerfile.stages[dockerfile.stages.length - 1]; stage; ) {
    chain.unshift(stage);
    const base = expandArgs(stage.base, args);
    stage = byName.get(base);
    if (chain.includes(stage!)) throw new Error(`stage cycle at ${base}`);
  }
  const image: Image = { chain, env: {}, instructions: [] };
  for (const stage of chain) {
    for (const ins of stage.instructions) {
      const expanded = { keyword: ins.keyword, args: expandArgs(ins.args, args) };
      image.instructions.push(expanded);
      if (ins.keyword === 'CMD') image.cmd = JSON.parse(ins.args);
      if (ins.keyword === 'HEALTHCHECK') image.healthcheck = ins.args;
      if (ins.keyword === 'USER') image.user = ins.args;
      if (ins.keyword === 'WORKDIR') image.workdir = ins.args;
      if (ins.keyword === 'ENV') {
        for (const m of ins.args.matchAll(/([A-Za-z_][A-Za-z0-9_]*)=("[^"]*"|\S+)/g)) image.env[m[1]] = expandArgs(m[2].replace(/^"|"$/g, ''), args);
      }
    }
  }
  return image;
}
