import { Client } from 'pg';
import { LeaseLost, OUTBOX_CHANNEL, afterFailure, type Job, type Logger, type Outbox, type RetryPolicy } from '@bridge/shared';
import type { Deliveries } from './deliveries';
import { DeliveryError } from './errors';
import type { DeliveryMetrics, DeliveryOutcome } from './metrics';

export interface WorkerOptions {
  outbox: Pick<Outbox, 'claim' | 'renewLeases' | 'release' | 'retry' | 'pace' | 'holdForCredential'>;
  deliveries: Deliveries;
  logger: Logger;
  /** A connection string for LISTEN (new work wakes the worker at once). */
  listenUrl: string;
  concurrency: number;
  tenantConcurrency: number;
  leaseMs: number;
  pollMs: number;
  retry: RetryPolicy;
  /**
   * A provider refused the tenant's credential of `type`: drop any copy of it kept in this
   * process, so that the next attempt after a replacement reads the new one (usually
   * CredentialsClient.invalidate).
   */
  onCredentialRefused?: (tenantId: string, type: 'meta' | 'genesys') => void;
  /** Counts each attempt's outcome (bridge_deliveries_total, ...). */
  metrics?: DeliveryMetrics;
}

/**
 * Drains the delivery queue: claims due lane heads up to the concurrency limits (globally and per
 * tenant, so one tenant's slow org cannot take every slot), delivers each, and records the
 * outcome. Woken by NOTIFY when webhooks store new work, and by a poll for retries that fall due.
 */
export class DeliveryWorker {
  private readonly inFlight = new Map<string, number>();
  private total = 0;
  private stopped = false;
  private timer?: NodeJS.Timeout;
  private listener?: Client;
  private pumping = false;
  private again = false;
  private readonly settled = new Set<Promise<void>>();
  /** Jobs in flight in this process, by `tenant/id`. */
  private readonly running = new Map<string, Job>();
  private heartbeat?: NodeJS.Timeout;
  /** The claim loop's run in progress, if any (a claim it makes must be run before stopping). */
  private pumped: Promise<void> = Promise.resolve();
  private stopping?: Promise<void>;

  constructor(private readonly o: WorkerOptions) {}

  async start(): Promise<void> {
    await this.listen();
    // Leases of slow attempts are renewed well before they run out.
    this.heartbeat = setInterval(() => {
      this.o.outbox
        .renewLeases([...this.running.values()], this.o.leaseMs)
        .then((lost) => {
          for (const job of lost) this.o.logger.warn({ tenantId: job.tenantId, jobId: job.id, attempt: job.attempts }, 'lease lost: another worker claimed this delivery again; this attempt will record nothing');
        })
        .catch((err) => this.o.logger.warn({ err: (err as Error).message }, 'lease renewal failed'));
    }, Math.max(100, Math.floor(this.o.leaseMs / 3)));
    this.heartbeat.unref();
    this.schedule(0);
  }

  private async listen(): Promise<void> {
    // A reconnection scheduled before stop() is not made.
    if (this.stopped) return;
    const client = new Client({ connectionString: this.o.listenUrl, application_name: 'genesys-connector-listen' });
    client.on('notification', () => this.wake());
    client.on('error', () => {
      // Lost the LISTEN connection: polling keeps the queue moving; reconnect shortly.
      this.listener = undefined;
      if (!this.stopped) setTimeout(() => this.listen().catch(() => undefined), 1_000).unref();
    });
    try {
      await client.connect();
      await client.query(`LISTEN ${OUTBOX_CHANNEL}`);
      if (this.stopped) {
        await client.end().catch(() => undefined);
        return;
      }
      this.listener = client;
    } catch (err) {
      this.o.logger.warn({ err: (err as Error).message }, 'LISTEN failed; relying on polling');
      await client.end().catch(() => undefined);
      if (!this.stopped) setTimeout(() => this.listen().catch(() => undefined), 1_000).unref();
    }
  }

  private schedule(ms: number) {
    if (this.stopped) return;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.wake(), ms);
    this.timer.unref();
  }

  private soon?: NodeJS.Timeout;

  private wakeSoon(): void {
    if (this.soon || this.stopped) return;
    this.soon = setTimeout(() => {
      this.soon = undefined;
      this.wake();
    }, 2);
  }

  /** Runs the claim loop now (or right after the running one). */
  wake(): void {
    if (this.stopped) return;
    if (this.pumping) {
      this.again = true;
      return;
    }
    this.pumping = true;
    this.pumped = this.pump()
      .catch((err) => this.o.logger.warn({ err: (err as Error).message }, 'claiming deliveries failed'))
      .finally(() => {
        this.pumping = false;
        if (this.again) {
          this.again = false;
          this.wake();
        } else this.schedule(this.o.pollMs);
      });
  }

  private async pump(): Promise<void> {
    while (!this.stopped) {
      const free = this.o.concurrency - this.total;
      if (free <= 0) return;
      const saturated = [...this.inFlight].filter(([, n]) => n >= this.o.tenantConcurrency).map(([t]) => t);
      const jobs = await this.o.outbox.claim(Math.min(free, 50), this.o.leaseMs, saturated);
      if (jobs.length === 0) return;
      for (const job of jobs) this.run(job);
      if (jobs.length < Math.min(free, 50)) return;
    }
  }

  private run(job: Job): void {
    const key = `${job.tenantId}/${job.id}`;
    const mine = this.running.get(key);
    if (mine) {
      // Ours and still in flight, its lease lapsed (renewals failed) and claimed again by us: the
      // running attempt now holds the new claim, so that its outcome is recorded, not fenced out.
      mine.attempts = job.attempts;
      return;
    }
    this.running.set(key, job);
    this.total++;
    this.inFlight.set(job.tenantId, (this.inFlight.get(job.tenantId) ?? 0) + 1);
    const done = this.execute(job).finally(() => {
      this.running.delete(key);
      this.total--;
      const n = (this.inFlight.get(job.tenantId) ?? 1) - 1;
      if (n <= 0) this.inFlight.delete(job.tenantId);
      else this.inFlight.set(job.tenantId, n);
      this.settled.delete(done);
      // A finished job may unblock the next of its lane: claim again shortly, once for all the
      // jobs finishing meanwhile rather than once per job.
      this.wakeSoon();
    });
    this.settled.add(done);
  }

  private async execute(job: Job): Promise<void> {
    const started = process.hrtime.bigint();
    const outcome = (o: DeliveryOutcome) => this.o.metrics?.record(job, o, Number(process.hrtime.bigint() - started) / 1e9);
    const log = this.o.logger.child({ tenantId: job.tenantId, jobId: job.id, kind: job.kind, attempt: job.attempts });
    log.debug('claimed');
    if (job.uncertain) log.warn('retrying a delivery whose last attempt has no recorded outcome: it may reach the recipient twice');
    // This attempt stalled past its lease and another worker claimed the job: its outcome is that
    // worker's to record, and this one's writes were rolled back.
    const leaseLost = (err: LeaseLost) => {
      outcome('lease_lost');
      log.warn({ operation: err.operation }, 'lease lost: another worker claimed this delivery again (or it was removed); nothing recorded');
    };
    const startedAt = new Date();
    try {
      await this.o.deliveries.deliver(job);
      outcome('delivered');
      log.debug('delivered');
    } catch (err) {
      if (err instanceof LeaseLost) return leaseLost(err);
      // An unexpected error (e.g. the database failing while recording a delivery the provider had
      // accepted) leaves the outcome unknown.
      const e = err instanceof DeliveryError ? err : new DeliveryError('transient', 'INTERNAL_ERROR', (err as Error).message, undefined, undefined, true);
      try {
        if (e.kind === 'credential' && e.credential) {
          // The provider refused the tenant's credential itself (Meta's 190, Genesys refusing the
          // OAuth client): not this delivery's failure. The credential is marked invalid and the
          // tenant's deliveries that need it wait, in order, until it is replaced.
          this.o.onCredentialRefused?.(job.tenantId, e.credential);
          const held = await this.o.outbox.holdForCredential(job, e.credential, `${e.code}: ${e.message}`, startedAt);
          outcome(held.outcome === 'held' ? 'held' : 'retried');
          if (held.outcome === 'held') {
            log.warn({ code: e.code, reason: e.message, credential: e.credential, newlyInvalid: held.newlyInvalid, heldJobs: held.heldJobs }, 'credential refused: the tenant\'s deliveries that need it are held until it is replaced');
          } else log.info({ code: e.code, credential: e.credential }, 'credential refused, but it was replaced since the attempt began: tried again');
          return;
        }
        const next = afterFailure(job, { permanent: e.kind === 'permanent', retryAfterMs: e.retryAfterMs, paced: e.kind === 'paced' }, this.o.retry);
        if ('paceInMs' in next) {
          // The recipient is written to too fast (Meta's pair rate limit): its lane waits, in
          // order, while other lanes go on; not a failure, so no backoff and no Failed receipt.
          log.info({ code: e.code, reason: e.message, paceInMs: Math.round(next.paceInMs) }, 'delivery paced: the lane waits');
          await this.o.outbox.pace(job, next.paceInMs, `${e.code}: ${e.message}`);
          outcome('paced');
        } else if ('retryInMs' in next) {
          log.info({ code: e.code, reason: e.message, retryInMs: Math.round(next.retryInMs) }, 'delivery will be retried');
          await this.o.outbox.retry(job, next.retryInMs, `${e.code}: ${e.message}`, e.uncertain);
          outcome('retried');
        } else {
          if (next.finish === 'failed') log.warn({ code: e.code, reason: e.message }, 'delivery failed permanently');
          else log.error({ code: e.code, reason: e.message }, 'delivery out of retries: dead-lettered');
          await this.o.deliveries.giveUp(job, e, next.finish);
          outcome(next.finish);
        }
      } catch (recordErr) {
        if (recordErr instanceof LeaseLost) return leaseLost(recordErr);
        // The lease expires and the job is claimed again: nothing is lost.
        outcome('unrecorded');
        log.error({ err: (recordErr as Error).message }, 'could not record the delivery outcome');
      }
    }
  }

  /**
   * Stops claiming and lets the deliveries in flight end, for up to `graceMs` (default: for as
   * long as they take), their leases still renewed meanwhile. Those still running at the deadline
   * are handed back to the queue (`outbox.release`): another replica claims them at once, in their
   * place in their lane, instead of waiting for their leases to run out. Their attempts are
   * abandoned (the process is about to exit; a late outcome write is fenced out once the job is
   * claimed again) and counted uncertain on their messages, as they may have reached the provider.
   * Idempotent: a second call waits for the first.
   */
  stop(graceMs = Infinity): Promise<void> {
    return (this.stopping ??= this.drain(graceMs));
  }

  private async drain(graceMs: number): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    clearTimeout(this.soon);
    const listener = this.listener;
    this.listener = undefined;
    await listener?.end().catch(() => undefined);
    // A claim already under way still starts its jobs: wait for it, so they are waited for too.
    await this.pumped;
    const ended = Promise.allSettled([...this.settled]).then(() => true);
    let deadline: NodeJS.Timeout | undefined;
    const inTime =
      graceMs === Infinity ? await ended : await Promise.race([ended, new Promise<boolean>((r) => (deadline = setTimeout(() => r(false), graceMs)))]);
    clearTimeout(deadline);
    clearInterval(this.heartbeat);
    if (inTime) return;
    const unfinished = [...this.running.values()];
    try {
      const released = await this.o.outbox.release(unfinished, `SHUTDOWN: released unfinished after ${graceMs} ms`);
      this.o.logger.warn(
        { released: released.map((j) => ({ tenantId: j.tenantId, jobId: j.id, attempt: j.attempts })), unfinished: unfinished.length },
        'shutting down: deliveries still in flight handed back to the queue for another replica',
      );
    } catch (err) {
      // Their leases run out instead: another replica takes them then.
      this.o.logger.error({ err: (err as Error).message, unfinished: unfinished.length }, 'could not hand back the deliveries in flight');
    }
  }
}
