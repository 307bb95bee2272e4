import { readFileSync } from 'node:fs';
import path from 'node:path';
import { ConfigError, parseEnv } from '@bridge/shared';
import { benchConfigSchema, benchSettings, profilerConfigSchema } from '../src/bench/config';
import { scriptsConfigSchema, soakArgs, soakConfigSchema, startConfigSchema } from '../src/config';

const ROOT = path.join(__dirname, '..', '..');
const bench = (env: NodeJS.ProcessEnv = {}) => benchSettings(parseEnv(benchConfigSchema, env));

describe("the bench's settings", () => {
  it('default to the figures bench/README.md reports on', () => {
    expect(bench()).toEqual({
      seconds: 5,
      warmupSeconds: 2,
      latencySeconds: 2,
      coldSeconds: 10,
      connections: 50,
      batchConnections: 10,
      tenants: 1000,
      scaleTenants: 10_000,
      scaleKeys: 20_000,
      batchSize: 50,
      fixedRate: 1000,
      customersPerTenant: 50,
      e2eTenants: 100,
      e2eConversations: 200,
      e2eRate: 0,
      e2eCapacitySeconds: 5,
      e2eSeconds: 10,
      e2eDrainSeconds: 30,
      drainSeconds: 10,
      warmQueue: 20_000,
      replicaQueue: 5000,
      replyDriver: 'autocannon',
      cpuProf: false,
      phases: ['1', '4', '2', '3', '6', '8'],
    });
  });

  it('take whole numbers, switches and phase lists from the environment', () => {
    const s = bench({ BENCH_SECONDS: '1', BENCH_DRAIN_SECONDS: '0', BENCH_E2E_RATE: '40', BENCH_E2E_CAPACITY_SECONDS: '0', BENCH_CPU_PROF: '1', BENCH_REPLY_DRIVER: 'simulator', BENCH_PHASES: ' 2, 3, 8' });
    expect(s).toMatchObject({ seconds: 1, drainSeconds: 0, e2eRate: 40, e2eCapacitySeconds: 0, cpuProf: true, replyDriver: 'simulator', phases: ['2', '3', '8'] });
    expect(bench({ BENCH_CPU_PROF: 'true' }).cpuProf).toBe(true);
    expect(bench({ BENCH_CPU_PROF: '0' }).cpuProf).toBe(false);
  });

  it('treat an empty variable as unset', () => {
    expect(bench({ BENCH_SECONDS: '', BENCH_PHASES: '' })).toMatchObject({ seconds: 5, phases: ['1', '4', '2', '3', '6', '8'] });
  });

  it.each([
    ['BENCH_SECONDS', '0'],
    ['BENCH_SECONDS', 'five'],
    ['BENCH_CONNECTIONS', '1.5'],
    ['BENCH_DRAIN_SECONDS', '-1'],
    ['BENCH_WARM_QUEUE', '0'],
    ['BENCH_PHASES', '1,5'],
    ['BENCH_REPLY_DRIVER', 'curl'],
    ['BENCH_CPU_PROF', 'yes'],
  ])('refuse %s=%s, naming it', (name, value) => {
    expect(() => bench({ [name]: value })).toThrow(ConfigError);
    expect(() => bench({ [name]: value })).toThrow(new RegExp(name));
  });

  it('refuse a tenant scale that adds no tenant (phase 4 would have no first-use key)', () => {
    expect(() => bench({ BENCH_TENANTS: '10', BENCH_SCALE_TENANTS: '10' })).toThrow(/BENCH_SCALE_TENANTS/);
    expect(bench({ BENCH_TENANTS: '1', BENCH_SCALE_TENANTS: '2' })).toMatchObject({ tenants: 1, scaleTenants: 2 });
  });

  it('give a profiled service its file and interval', () => {
    expect(parseEnv(profilerConfigSchema, {})).toEqual({ BENCH_CPU_PROF_INTERVAL_US: 1000 });
    expect(parseEnv(profilerConfigSchema, { BENCH_CPU_PROF_FILE: '/tmp/p.json', BENCH_CPU_PROF_INTERVAL_US: '250' })).toEqual({
      BENCH_CPU_PROF_FILE: '/tmp/p.json',
      BENCH_CPU_PROF_INTERVAL_US: 250,
    });
  });
});

describe("the other scripts' settings", () => {
  it('default as npm start, npm test and the soak always did', () => {
    expect(parseEnv(soakConfigSchema, {})).toEqual({ BRIDGE_DATA_DIR: '.data', REQUIRE_ALL_TESTS: false, SOAK_SECONDS: 300, SOAK_TENANTS: 4, SOAK_CONVERSATIONS: 5, SOAK_REPLICAS: 1 });
  });

  it("take the soak's options from the command line, over the environment", () => {
    const parse = (argv: string[], env: NodeJS.ProcessEnv = {}) => parseEnv(soakConfigSchema, { ...env, ...soakArgs(argv) });
    expect(parse(['--replicas', '2'])).toMatchObject({ SOAK_REPLICAS: 2, SOAK_SECONDS: 300 });
    expect(parse(['--replicas=3', '--seconds', '60'], { SOAK_REPLICAS: '1' })).toMatchObject({ SOAK_REPLICAS: 3, SOAK_SECONDS: 60 });
    expect(() => parse(['--replicas', '0'])).toThrow(/SOAK_REPLICAS/);
    expect(() => parse(['--replica', '2'])).toThrow(/unknown option --replica: the soak takes --seconds, --tenants, --conversations, --replicas/);
    expect(() => parse(['--replicas'])).toThrow(/--replicas needs a value/);
    expect(() => parse(['2'])).toThrow(/unknown option 2/);
  });

  it('read REQUIRE_ALL_TESTS=1 (as .ci/run sets it) and the soak length', () => {
    expect(parseEnv(scriptsConfigSchema, { REQUIRE_ALL_TESTS: '1' }).REQUIRE_ALL_TESTS).toBe(true);
    expect(parseEnv(soakConfigSchema, { SOAK_SECONDS: '40' }).SOAK_SECONDS).toBe(40);
    expect(() => parseEnv(soakConfigSchema, { SOAK_TENANTS: '0' })).toThrow(/SOAK_TENANTS/);
    expect(() => parseEnv(scriptsConfigSchema, { EMBEDDED_PG_PORT: '70000' })).toThrow(/EMBEDDED_PG_PORT/);
  });
});

describe('the documentation', () => {
  /** Keys of `shape` (those `only` keeps) without a row `| `KEY` | <the schema's description> |` in `file`. */
  const undocumented = (file: string, shape: Record<string, { description?: string }>, only: (key: string) => boolean = () => true) => {
    const text = readFileSync(path.join(ROOT, file), 'utf8');
    return Object.entries(shape)
      .filter(([key]) => only(key))
      .filter(([key, schema]) => !text.includes(`\n| \`${key}\` | ${schema.description} |`))
      .map(([key]) => key);
  };

  it("lists every script setting in README.md with the schema's description", () => {
    expect(undocumented('README.md', soakConfigSchema.shape)).toEqual([]);
    expect(undocumented('README.md', startConfigSchema.shape)).toEqual([]);
  });

  it("lists every BENCH_* setting in bench/README.md with the schema's description", () => {
    expect(undocumented('bench/README.md', benchConfigSchema.shape, (key) => key.startsWith('BENCH_'))).toEqual([]);
    expect(undocumented('bench/README.md', profilerConfigSchema.shape)).toEqual([]);
  });
});
