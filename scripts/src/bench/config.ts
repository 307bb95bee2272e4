/**
 * The bench's settings: BENCH_* on top of what every script understands (../config.ts), parsed
 * once in index.ts, and the two a profiled service reads in cpuprof.ts. bench/README.md says what
 * each phase does with them.
 */
import { z } from 'zod';
import { count, flag, scriptsConfigSchema } from '../config';

const PHASES = ['1', '2', '3', '4', '6', '8'] as const;

export const benchConfigSchema = scriptsConfigSchema
  .extend({
    BENCH_PHASES: z
      .string()
      .default('1,4,2,3,6,8')
      .transform((s) => s.split(',').map((p) => p.trim()))
      .pipe(z.array(z.enum(PHASES)).min(1))
      .describe('Phases to run, comma-separated; they always run in the order 1, 4, 2, 3, 6, 8'),
    BENCH_SECONDS: count(1, 5).describe('Length of each measured load run, seconds'),
    BENCH_WARMUP_SECONDS: count(1, 2).describe('Phase 1: length of the calibration and warm-up runs, seconds'),
    BENCH_LATENCY_SECONDS: count(1, 2).describe('Phase 1: length of the runs at 1 connection, seconds'),
    BENCH_COLD_SECONDS: count(1, 10).describe('Phase 4: longest run over first-use API keys, seconds'),
    BENCH_CONNECTIONS: count(1, 50).describe('Connections of the saturation runs of single requests'),
    BENCH_BATCH_CONNECTIONS: count(1, 10).describe('Phase 2: connections of the saturation runs of batched webhooks'),
    BENCH_TENANTS: count(1, 1000).describe('Tenants seeded for phases 1, 2 and 3, one API key each'),
    BENCH_SCALE_TENANTS: count(2, 10_000).describe('Phase 4: tenants in all, more than BENCH_TENANTS'),
    BENCH_SCALE_KEYS: count(1, 20_000).describe('Phase 4: API keys in all, spread evenly over the tenants'),
    BENCH_BATCH_SIZE: count(1, 50).describe('Phase 2: messages per batched webhook'),
    BENCH_FIXED_RATE: count(1, 1000).describe('Phase 2: messages/s offered in the fixed-rate runs'),
    BENCH_E2E_TENANTS: count(1, 100).describe('Phase 3: tenants whose conversations are measured'),
    BENCH_E2E_CONVERSATIONS: count(1, 200).describe('Phase 3: conversations measured, spread over those tenants'),
    BENCH_E2E_RATE: count(0, 0).describe('Phase 3: messages/s each way; 0: half the measured end-to-end capacity (BENCH_E2E_CAPACITY_SECONDS)'),
    BENCH_E2E_CAPACITY_SECONDS: count(0, 5).describe(
      'Phase 3: how long both directions are offered more than the bridge can take, to measure its end-to-end capacity; 0: no capacity run, BENCH_E2E_RATE 0 means 500 msg/s or 30% of phase 2’s single-message capacity if lower',
    ),
    BENCH_E2E_SECONDS: count(1, 10).describe('Phase 3: length of each direction’s run, seconds'),
    BENCH_E2E_DRAIN_SECONDS: count(1, 30).describe('Phase 3: longest wait for the last deliveries, seconds'),
    BENCH_DRAIN_SECONDS: count(0, 10).describe('Phase 3a: how long the connector works on each backlog (tokens cold, then warm), seconds; 0 skips 3a'),
    BENCH_WARM_QUEUE: count(1, 20_000).describe('Phase 3a: deliveries queued for the warm drain, over all BENCH_TENANTS tenants'),
    BENCH_REPLICA_QUEUE: count(1, 5000).describe('Phase 6: deliveries queued before each connector run (one, then two processes)'),
    BENCH_REPLY_DRIVER: z
      .enum(['autocannon', 'simulator'])
      .default('autocannon')
      .describe('Phase 3: what sends the measured agent replies: autocannon, or the Genesys simulator’s agentReply (open loop)'),
    BENCH_CPU_PROF: flag.describe('V8 CPU profiles of gateway and webhook-service, summarised in the report'),
  })
  .refine((c) => c.BENCH_SCALE_TENANTS > c.BENCH_TENANTS, {
    path: ['BENCH_SCALE_TENANTS'],
    message: 'must be more than BENCH_TENANTS (phase 4 measures first-use keys of the tenants it adds)',
  });

export type BenchConfig = z.infer<typeof benchConfigSchema>;

/** Read by a service that the bench profiles (cpuprof.ts runs inside it). */
export const profilerConfigSchema = z.object({
  BENCH_CPU_PROF_FILE: z.string().min(1).optional().describe('Where a profiled service writes its profile; set by the bench for each one'),
  BENCH_CPU_PROF_INTERVAL_US: count(1, 1000).describe('Sampling interval of the CPU profiles, microseconds'),
});

/** The settings as the phases use them, and as the report's `settings` records them. */
export function benchSettings(c: BenchConfig) {
  return {
    seconds: c.BENCH_SECONDS,
    warmupSeconds: c.BENCH_WARMUP_SECONDS,
    latencySeconds: c.BENCH_LATENCY_SECONDS,
    coldSeconds: c.BENCH_COLD_SECONDS,
    connections: c.BENCH_CONNECTIONS,
    batchConnections: c.BENCH_BATCH_CONNECTIONS,
    tenants: c.BENCH_TENANTS,
    scaleTenants: c.BENCH_SCALE_TENANTS,
    scaleKeys: c.BENCH_SCALE_KEYS,
    batchSize: c.BENCH_BATCH_SIZE,
    fixedRate: c.BENCH_FIXED_RATE,
    /** Distinct customers per tenant in phase 2. */
    customersPerTenant: 50,
    e2eTenants: c.BENCH_E2E_TENANTS,
    e2eConversations: c.BENCH_E2E_CONVERSATIONS,
    /** 0 = auto: half the end-to-end capacity (or, without a capacity run, 500 msg/s or 30% of phase 2's single-message capacity through the gateway if lower). */
    e2eRate: c.BENCH_E2E_RATE,
    /** Phase 3: seconds of the end-to-end capacity run (0: none). */
    e2eCapacitySeconds: c.BENCH_E2E_CAPACITY_SECONDS,
    e2eSeconds: c.BENCH_E2E_SECONDS,
    e2eDrainSeconds: c.BENCH_E2E_DRAIN_SECONDS,
    /** Phase 3a: how long the connector works on phase 2's backlog before it is cleared (0: skip). */
    drainSeconds: c.BENCH_DRAIN_SECONDS,
    /** Phase 3a: deliveries queued for the warm drain. */
    warmQueue: c.BENCH_WARM_QUEUE,
    /** Phase 6: deliveries queued before each connector run. */
    replicaQueue: c.BENCH_REPLICA_QUEUE,
    /** How phase 3 sends agent replies. */
    replyDriver: c.BENCH_REPLY_DRIVER,
    cpuProf: c.BENCH_CPU_PROF,
    phases: c.BENCH_PHASES,
  };
}

export type BenchSettings = ReturnType<typeof benchSettings>;
