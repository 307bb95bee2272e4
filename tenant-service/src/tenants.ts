import {
  notificationUrlProblem,
  AppError,
  appError,
  appendAudit,
  badInput,
  credentialHealth,
  credentialStored,
  credentialVerified,
  checkTemplateRequest,
  listTemplates,
  templateParameters,
  TenantDirectory,
  publishTenantEvent,
  apiKeyPrefix,
  generateApiKey,
  hashApiKey,
  hashVerifyToken,
  maskSecret,
  type Cache,
  type CredentialCipher,
  type CredentialType,
  type Database,
  type ErrorCode,
  type GenesysCredentials,
  type MetaCredentials,
  type Logger,
  type Queryable,
  type TenantEntry,
  type TenantEvent,
  DEFAULT_API_KEY_SCOPES,
  keyEntryOf,
  usageReport,
} from '@bridge/shared';
import type { CredentialVerifier } from './credential-verify';
import * as repo from './repository';
import { createPlanUseCases, findPlan, planNames, type RateLimitChange } from './plans';
import type { CreateApiKeyInput, CreateTenantInput, CredentialsInput, UpdateTenantInput } from './schemas';

export interface TenantDeps {
  db: Database;
  cache: Cache;
  cipher: CredentialCipher;
  logger: Logger;
  /** The background purge, told when a deletion is recorded (without it, a replica's poll finds it). */
  purger?: { wake(): void };
  /** The template catalogue, synced in the background once Meta credentials are stored (without it: only on demand). */
  templates?: { syncInBackground(tenantId: string): void };
  /** The live checks of `verifyCredentials` (without it, verifying answers 503 CREDENTIALS_UNAVAILABLE). */
  verifier?: Pick<CredentialVerifier, 'meta' | 'genesys'>;
  /** Tenants' notification webhook URLs: on a loopback address too (NOTIFICATION_WEBHOOK_ALLOW_LOOPBACK; default false). */
  notificationWebhooks?: { allowLoopback: boolean };
}

/** Unique constraints → the contract's 409s. */
const CONFLICTS: Record<string, ErrorCode> = {
  tenants_pkey: 'TENANT_EXISTS',
  tenants_subdomain_key: 'SUBDOMAIN_TAKEN',
  // A number belongs to one tenant, platform-wide (migration 1732060800160: the numbers' directory).
  phone_number_owners_pkey: 'PHONE_NUMBER_TAKEN',
};

function asConflict(err: unknown): never {
  const e = err as { code?: string; constraint?: string };
  if (e?.code === '23505' && e.constraint && CONFLICTS[e.constraint]) {
    throw appError(CONFLICTS[e.constraint]);
  }
  throw err;
}

const tenantNotFound = () => appError('TENANT_NOT_FOUND');

/**
 * The window settings a tenant would have once `given` is applied to `stored` (none for a new
 * tenant), checked: the `template` policy needs a re-open template (400 naming `reopenTemplate`),
 * and a re-open template the catalogue already holds must be APPROVED and take exactly one
 * parameter, the agent's text (422 with the TEMPLATE_* code). One the catalogue does not hold
 * yet is accepted: the connector checks it again at send time. Runs in the tenant's transaction.
 */
async function checkWindowSettings(
  q: Queryable,
  tenantId: string,
  given: Pick<UpdateTenantInput, 'windowPolicy' | 'reopenTemplate'>,
  stored?: Pick<repo.TenantRow, 'window_policy' | 'reopen_template'>,
): Promise<void> {
  if (given.windowPolicy === undefined && given.reopenTemplate === undefined) return;
  const policy = given.windowPolicy ?? stored?.window_policy ?? 'reject';
  const reopen = given.reopenTemplate !== undefined ? given.reopenTemplate : (stored?.reopen_template ?? null);
  if (policy === 'template' && !reopen) {
    throw badInput('reopenTemplate', 'is required when windowPolicy is template: {name, language} of an approved template with one parameter');
  }
  if (!reopen) return;
  const catalogue = await listTemplates(q, tenantId);
  const check = checkTemplateRequest(catalogue, { ...reopen, parameters: ['text'] });
  if (check.ok || check.problem === 'TEMPLATE_NOT_FOUND' || check.problem === 'TEMPLATE_LANGUAGE_NOT_FOUND') return;
  const found = catalogue.find((t) => t.name === reopen.name && t.language === reopen.language);
  if (check.problem === 'TEMPLATE_PARAMETER_MISMATCH' && found) {
    const takes = templateParameters(found).total;
    throw appError(check.problem, `reopenTemplate: template ${reopen.name} (${reopen.language}) takes ${takes} parameter(s); a re-open template must take exactly 1, the agent's text`);
  }
  throw appError(check.problem, `reopenTemplate: ${check.reason}`);
}

/** A plan a tenant is to be on must exist: else 400 naming the plans there are. */
async function checkPlan(q: Queryable, plan: string | undefined): Promise<void> {
  if (plan === undefined || (await findPlan(q, plan))) return;
  throw badInput('plan', `no plan named ${plan} (the plans: ${(await planNames(q)).join(', ')}; an admin creates one with POST /plans)`);
}

/**
 * The overrides a tenant will have: `given` replaces `stored` wholesale when given; a `rateLimit`
 * (the tenant's own API rate limit, as before plans) is its apiRequestsPerMinute override.
 * Undefined: unchanged.
 */
function overridesOf(given: Record<string, unknown> | undefined, rateLimit: number | undefined, stored?: Record<string, unknown>): Record<string, unknown> | undefined {
  if (given === undefined && rateLimit === undefined) return undefined;
  const base = { ...(given ?? stored ?? {}) };
  if (rateLimit !== undefined) base.apiRequestsPerMinute = rateLimit;
  return base;
}

/** The audit action of a tenant update: suspending and reactivating are named as such. */
function tenantChange(before: repo.TenantRow, after: repo.TenantRow) {
  if (before.status !== after.status) {
    if (after.status === 'suspended') return 'tenant.suspended' as const;
    return before.status === 'pending' ? ('tenant.activated' as const) : ('tenant.reactivated' as const);
  }
  return 'tenant.updated' as const;
}

/** An API key as the audit trail records it (never the key or its hash). */
const keyAudit = (k: repo.ApiKeyRow) => ({ id: k.id, prefix: k.prefix, name: k.name, isActive: k.is_active, rateLimit: k.rate_limit, ...keyTerms(k) });

/** The cipher's type label (AAD) of a notification webhook's secret. */
const NOTIFICATION_WEBHOOK = 'notification-webhook' as const;

/** What the audit trail records of a notification webhook change: its URL, and that a secret was set (masked by appendAudit). */
const webhookAudit = (w: { url: string; secret: string } | null | undefined) => (w === undefined ? {} : { notificationWebhook: w && { url: w.url, secret: w.secret } });

/** Failed tenant-change broadcasts kept for retrying at most. */
const MAX_UNANNOUNCED = 10_000;

const tenantEntry = (r: repo.VisibleTenantRow): TenantEntry => ({ tenantId: r.tenant_id, status: r.status, rateLimit: r.rate_limit, subdomain: r.subdomain, suspendedReason: r.suspended_reason });
const keyEntry = (k: repo.ApiKeyRow) => keyEntryOf(k);
/** What a key may do, until when, from which browsers (issue #13): shown on creation and in the list, never the key or its hash. */
const keyTerms = (k: repo.ApiKeyRow) => ({ scopes: k.scopes, expiresAt: k.expires_at?.toISOString() ?? null, allowedOrigins: k.allowed_origins });
const keyRef = (k: Pick<repo.ApiKeyRow, 'id' | 'tenant_id' | 'key_hash'>) => ({ keyHash: k.key_hash, tenantId: k.tenant_id, keyId: k.id });

export function createTenantUseCases(deps: TenantDeps) {
  const { db, cipher } = deps;
  const directory = new TenantDirectory(db, deps.cache);

  /** 400 when a notification webhook URL points where the platform must not POST (shared/src/public-addresses.ts). */
  const checkNotificationUrl = (webhook: { url: string } | null | undefined) => {
    const problem = webhook && notificationUrlProblem(webhook.url, deps.notificationWebhooks?.allowLoopback ?? false);
    if (problem) throw badInput('notificationWebhook.url', problem);
  };

  /**
   * Announcements that failed (Redis away), retried in order every second until Redis takes
   * them, so that a change made during an outage (a revoked key) does not live on in a Redis that
   * kept its old entries; later announcements wait behind them. Bounded: beyond the bound the
   * oldest are dropped, and TTLs bound the staleness.
   */
  const unannounced: Array<{ event: TenantEvent; update: () => Promise<void> }> = [];
  let retrying: NodeJS.Timeout | undefined;

  async function tryAnnounce(a: { event: TenantEvent; update: () => Promise<void> }): Promise<boolean> {
    try {
      await a.update();
      await publishTenantEvent(deps.cache, a.event);
      return true;
    } catch (err) {
      deps.logger.warn({ err: { message: (err as Error).message }, tenantId: a.event.tenantId, kind: a.event.kind }, 'tenant change not broadcast yet; retrying');
      return false;
    }
  }

  async function retryUnannounced() {
    retrying = undefined;
    while (unannounced.length && (await tryAnnounce(unannounced[0]))) unannounced.shift();
    if (unannounced.length) {
      retrying = setTimeout(retryUnannounced, 1_000);
      retrying.unref();
    }
  }

  /**
   * After commit: record the new truth in the shared cache and tell every node. A failure here
   * must not fail a change that already happened: it is retried (see `unannounced`).
   */
  async function announce(event: TenantEvent, update: () => Promise<void> = async () => undefined) {
    const a = { event, update };
    if (!unannounced.length && (await tryAnnounce(a))) return;
    if (unannounced.length >= MAX_UNANNOUNCED) {
      const dropped = unannounced.shift()!;
      deps.logger.error({ tenantId: dropped.event.tenantId, kind: dropped.event.kind }, 'tenant change broadcast dropped; caches expire by TTL');
    }
    unannounced.push(a);
    if (!retrying) {
      retrying = setTimeout(retryUnannounced, 1_000);
      retrying.unref();
    }
  }

  /** asConflict, but a taken tenant id is TENANT_BEING_DELETED while a deleted tenant of that id is purged. */
  async function creationConflict(tenantId: string, err: unknown): Promise<never> {
    const e = err as { code?: string; constraint?: string };
    if (e?.code === '23505' && e.constraint === 'tenants_pkey' && (await db.withTenant(tenantId, (q) => repo.tenantStatus(q, tenantId))) === 'deleting') {
      throw appError('TENANT_BEING_DELETED');
    }
    return asConflict(err);
  }

  async function issueKey(q: Parameters<typeof repo.insertApiKey>[0], tenantId: string, input: Partial<CreateApiKeyInput> & { name: string }) {
    const apiKey = generateApiKey();
    const row = await repo.insertApiKey(q, {
      tenantId,
      keyHash: hashApiKey(apiKey),
      prefix: apiKeyPrefix(apiKey),
      name: input.name,
      rateLimit: input.rateLimit,
      scopes: input.scopes ?? DEFAULT_API_KEY_SCOPES,
      expiresAt: input.expiresAt,
      allowedOrigins: input.allowedOrigins,
    });
    return { row, response: { id: row.id, apiKey, prefix: row.prefix, name: row.name, ...keyTerms(row) } };
  }

  /**
   * Stores (given an object) or removes (given null) the tenant's notification webhook, its secret
   * encrypted under the keyring (AAD: the tenant and 'notification-webhook'), and shows it on `row`.
   */
  async function storeNotificationWebhook(q: Queryable, tenantId: string, row: repo.TenantRow, webhook: { url: string; secret: string } | null | undefined) {
    if (webhook === undefined) return;
    const stored = webhook ? { url: webhook.url, encryptedSecret: cipher.encrypt(tenantId, NOTIFICATION_WEBHOOK, { secret: webhook.secret }) } : null;
    row.notification_url = await repo.setNotificationWebhook(q, tenantId, stored);
  }

  /** After a plan's rate limit moved its tenants': the directory's entries of each, announced. */
  async function rateLimitsChanged(changes: RateLimitChange[]) {
    for (const c of changes) {
      const entry: TenantEntry = { tenantId: c.tenant_id, status: c.status, rateLimit: c.rate_limit, subdomain: c.subdomain, suspendedReason: c.suspended_reason };
      await announce({ tenantId: c.tenant_id, kind: 'tenant-updated' }, () => directory.tenantChanged(c.tenant_id, entry));
    }
  }

  return {
    /** Plans: list, create, change (plans.ts). */
    plans: createPlanUseCases({ db, rateLimitsChanged }),

    /** This period's usage of the tenant against its plan's limits (shared/src/quotas.ts); 404 TENANT_NOT_FOUND. */
    async getUsage(tenantId: string) {
      const report = await db.withTenant(tenantId, async (q) => ((await repo.findTenant(q, tenantId)) ? usageReport(q, tenantId) : undefined));
      if (!report) throw tenantNotFound();
      return report;
    },

    /**
     * The tenant's notification webhook with its secret decrypted, for genesys-connector's
     * deliveries of notifications (internal route); undefined: the tenant has none.
     */
    async readNotificationWebhook(tenantId: string): Promise<{ url: string; secret: string } | undefined> {
      const row = await db.withTenant(tenantId, (q) => repo.findNotificationWebhook(q, tenantId));
      return row && { url: row.url, secret: cipher.decrypt<{ secret: string }>(tenantId, NOTIFICATION_WEBHOOK, row.encryptedSecret).secret };
    },

    /**
     * Creates the tenant and its first API key in one transaction; the key is returned once.
     * 409 TENANT_EXISTS, or TENANT_BEING_DELETED while a deleted tenant of this id is purged.
     */
    async createTenant(input: CreateTenantInput) {
      checkNotificationUrl(input.notificationWebhook);
      const { tenant, key } = await db
        .withTenant(input.tenantId, async (q) => {
          await checkWindowSettings(q, input.tenantId, input);
          await checkPlan(q, input.plan);
          const tenantRow = await repo.insertTenant(q, { ...input, quotaOverrides: overridesOf(input.quotaOverrides, input.rateLimit) });
          const created = { tenant: tenantRow, key: await issueKey(q, input.tenantId, { name: 'default', scopes: input.apiKeyScopes }) };
          await storeNotificationWebhook(q, input.tenantId, created.tenant, input.notificationWebhook);
          await appendAudit(q, {
            tenantId: input.tenantId,
            action: 'tenant.created',
            target: `tenant:${input.tenantId}`,
            after: { ...repo.toTenant(created.tenant), ...webhookAudit(input.notificationWebhook), apiKeyId: created.key.row.id },
          });
          return created;
        })
        .catch((err: unknown) => creationConflict(input.tenantId, err));
      // Overwrites anything remembered about this id, subdomain or key while they did not exist.
      await announce({ tenantId: tenant.tenant_id, kind: 'tenant-updated' }, async () => {
        await directory.tenantChanged(tenant.tenant_id, tenantEntry(tenant));
        await directory.apiKeyChanged(keyRef(key.row), keyEntry(key.row));
      });
      return {
        tenant: repo.toTenant(tenant),
        apiKey: key.response.apiKey,
        apiKeyId: key.response.id,
        apiKeyScopes: key.row.scopes,
        message: 'Store this API key now: it is not shown again',
      };
    },

    async listTenants(limit: number, after?: string) {
      const rows = await repo.listTenants(db, limit, after);
      return rows.map(repo.toTenant);
    },

    async getTenant(tenantId: string) {
      const row = await db.withTenant(tenantId, (q) => repo.findTenant(q, tenantId));
      if (!row) throw tenantNotFound();
      return repo.toTenant(row);
    },

    async updateTenant(tenantId: string, patch: UpdateTenantInput) {
      checkNotificationUrl(patch.notificationWebhook);
      const result = await db
        .withTenant(tenantId, async (q) => {
          const before = await repo.findTenant(q, tenantId, { forUpdate: true });
          if (!before) return undefined;
          // A provisioned tenant (AUTO_PROVISION) goes live only able to deliver: its held messages go to Genesys as soon as it is active.
          if (before.status === 'pending' && patch.status === 'active' && !(await repo.listCredentials(q, tenantId, 'genesys')).length) {
            throw appError('TENANT_NOT_READY');
          }
          await checkWindowSettings(q, tenantId, patch, before);
          await checkPlan(q, patch.plan);
          const after = (await repo.updateTenant(q, tenantId, { ...patch, quotaOverrides: overridesOf(patch.quotaOverrides, patch.rateLimit, before.quota_overrides) }))!;
          await storeNotificationWebhook(q, tenantId, after, patch.notificationWebhook);
          await appendAudit(q, {
            tenantId,
            action: tenantChange(before, after),
            target: `tenant:${tenantId}`,
            before: repo.toTenant(before),
            after: { ...repo.toTenant(after), ...webhookAudit(patch.notificationWebhook) },
          });
          return { before, after };
        })
        .catch(asConflict);
      if (!result) throw tenantNotFound();
      await announce({ tenantId, kind: 'tenant-updated' }, () => directory.tenantChanged(tenantId, tenantEntry(result.after), result.before.subdomain));
      return repo.toTenant(result.after);
    },

    /**
     * Deletes the tenant as far as anyone can tell, at once: it is marked `deleting`, its keys,
     * credentials and subdomain go, and every node is told (its API calls, webhooks and media
     * links are refused as a deleted tenant's from the next request on; its deliveries stop).
     * Its other rows, however many, are removed by the background purge (purge.ts), whose
     * progress `getDeletion` reports. 404 for a tenant that does not exist or is being deleted.
     */
    async deleteTenant(tenantId: string) {
      const gone = await db.withTenant(tenantId, async (q) => {
        const marked = await repo.markDeleting(q, tenantId);
        if (marked) {
          await appendAudit(q, { tenantId, action: 'tenant.deleted', target: `tenant:${tenantId}`, before: { subdomain: marked.subdomain }, after: { status: 'deleting', removed: marked.deleted } });
        }
        return marked;
      });
      if (!gone) throw tenantNotFound();
      await announce({ tenantId, kind: 'tenant-deleted' }, async () => {
        await directory.tenantChanged(tenantId, undefined, gone.subdomain);
        await Promise.all(gone.keys.map((k) => directory.apiKeyChanged(keyRef(k), undefined)));
      });
      deps.purger?.wake();
    },

    /** The deletion of `tenantId` and its progress; 404 DELETION_NOT_FOUND when none was requested. */
    async getDeletion(tenantId: string) {
      const row = await db.withTenant(tenantId, (q) => repo.findDeletion(q, tenantId));
      if (!row) throw appError('DELETION_NOT_FOUND');
      return {
        tenantId: row.tenant_id,
        state: row.state,
        requestedAt: row.requested_at.toISOString(),
        finishedAt: row.finished_at?.toISOString() ?? null,
        deleted: Object.fromEntries(Object.entries(row.deleted).map(([table, n]) => [table, Number(n)])),
        batches: row.batches,
        lastError: row.last_error,
      };
    },

    /** Stores (or replaces) one type of credentials, encrypted; answers with the masked view. */
    async storeCredentials(tenantId: string, input: CredentialsInput) {
      const lookup =
        input.type === 'meta'
          ? { phoneNumberId: input.credentials.phoneNumberId, wabaId: input.credentials.wabaId, verifyTokenHash: hashVerifyToken(input.credentials.verifyToken) }
          : { region: input.credentials.region, integrationId: input.credentials.integrationId, clientId: input.credentials.clientId };
      const row = await db
        .withTenant(tenantId, async (q) => {
          if (!(await repo.findTenant(q, tenantId))) throw tenantNotFound();
          const encrypted = cipher.encrypt(tenantId, input.type, input.credentials);
          const [previous] = await repo.listCredentials(q, tenantId, input.type);
          const stored = await repo.upsertCredentials(q, { tenantId, type: input.type, encrypted, ...lookup });
          // Stored again: valid (the upsert says so), and the deliveries held while the old one
          // was refused go on, in order, from this commit (shared/src/credential-health.ts).
          const released = await credentialStored(q, tenantId, input.type);
          await appendAudit(q, {
            tenantId,
            action: 'credentials.stored',
            target: `credentials:${input.type}`,
            before: previous ? { type: previous.type, updatedAt: previous.updated_at, health: credentialHealth(previous) } : null,
            after: { ...maskedView(stored.type, input.credentials, stored), releasedDeliveries: released },
          });
          if (released) deps.logger.info({ tenantId, type: input.type, released }, 'credentials replaced: held deliveries released');
          return stored;
        })
        .catch(asConflict);
      await announce({ tenantId, kind: 'credentials-changed' });
      // After the commit, and never awaited: Meta's answer (or silence) does not touch this one.
      if (input.type === 'meta') deps.templates?.syncInBackground(tenantId);
      return maskedView(row.type, input.credentials, row);
    },

    async listCredentials(tenantId: string) {
      const rows = await db.withTenant(tenantId, async (q) => {
        if (!(await repo.findTenant(q, tenantId))) throw tenantNotFound();
        return repo.listCredentials(q, tenantId);
      });
      return rows.map((row) => maskedView(row.type, cipher.decrypt<Record<string, string>>(tenantId, row.type, row.encrypted), row));
    },

    /**
     * Checks the stored credentials of `type` live with the provider (credential-verify.ts) and
     * reports what it found, no secret in it. A check that finds them good records when
     * (`verifiedAt`), and, if they were marked invalid, makes them valid again and releases the
     * deliveries held for them (`cleared`): the provider accepts them, whatever refused them before.
     * One that finds them bad changes nothing: deliveries find out for themselves, and this
     * answer says why. Audited either way (`credentials.verified`). 404 TENANT_NOT_FOUND or
     * CREDENTIALS_NOT_FOUND.
     */
    async verifyCredentials(tenantId: string, type: CredentialType) {
      const [row] = await db.withTenant(tenantId, async (q) => {
        if (!(await repo.findTenant(q, tenantId))) throw tenantNotFound();
        return repo.listCredentials(q, tenantId, type);
      });
      if (!row) throw appError('CREDENTIALS_NOT_FOUND', `No ${type} credentials for this tenant`);
      if (!deps.verifier) throw appError('CREDENTIALS_UNAVAILABLE', 'Credentials cannot be verified by this deployment');
      const credentials = cipher.decrypt<Record<string, unknown>>(tenantId, type, row.encrypted);
      const finding = type === 'meta' ? await deps.verifier.meta(credentials as unknown as MetaCredentials) : await deps.verifier.genesys(credentials as unknown as GenesysCredentials);
      const checkedAt = new Date().toISOString();
      const outcome = await db.withTenant(tenantId, async (q) => {
        const change = finding.ok ? await credentialVerified(q, tenantId, type, row.updated_at) : { cleared: false, released: 0 };
        const [now] = await repo.listCredentials(q, tenantId, type);
        await appendAudit(q, {
          tenantId,
          action: 'credentials.verified',
          target: `credentials:${type}`,
          before: { health: credentialHealth(row) },
          after: { ok: finding.ok, ...(finding.ok ? {} : { problem: finding.problem, message: finding.message }), ...change },
        });
        return { change, health: now ? credentialHealth(now) : null };
      });
      if (outcome.change.cleared) {
        deps.logger.info({ tenantId, type, released: outcome.change.released }, 'credentials verified good again: held deliveries released');
        // What every process remembers of the refusal goes (auth-service's remembered login
        // failure, tokens, copies of the credentials): the same secrets, read afresh.
        await announce({ tenantId, kind: 'credentials-changed' });
      }
      return { type, checkedAt, ...finding, ...outcome.change, health: outcome.health };
    },

    /** Decrypted credentials, for internal services only. */
    async readCredentials(tenantId: string, type: CredentialType) {
      const [row] = await db.withTenant(tenantId, (q) => repo.listCredentials(q, tenantId, type));
      if (!row) throw appError('CREDENTIALS_NOT_FOUND', `No ${type} credentials for this tenant`);
      return { type, credentials: cipher.decrypt(tenantId, type, row.encrypted), updatedAt: row.updated_at.toISOString() };
    },

    /**
     * Re-encrypts the tenant's credentials under the newest key of the keyring, each row in its
     * own short transaction that locks only that row; rows already under the newest key are left
     * alone. The secrets do not change, so nothing is announced and cached copies stay right.
     * One outcome per row; a row no key of the ring opens is `unreadable` (with the reason) and
     * does not stop the others. Database errors are thrown.
     */
    async reencryptCredentials(tenantId: string): Promise<ReencryptOutcome[]> {
      const rows = await db.withTenant(tenantId, (q) => repo.listCredentials(q, tenantId));
      const outcomes: ReencryptOutcome[] = [];
      for (const { type, encrypted } of rows) {
        if (cipher.isCurrent(encrypted)) {
          outcomes.push({ type, outcome: 'current' });
          continue;
        }
        try {
          const outcome = await db.withTenant(tenantId, async (q) => {
            // Read again under the lock: an admin may have stored new credentials since the list.
            const [row] = await repo.listCredentials(q, tenantId, type, { forUpdate: true });
            if (!row) return 'gone' as const;
            if (cipher.isCurrent(row.encrypted)) return 'current' as const;
            await repo.replaceEncryptedCredentials(q, tenantId, type, cipher.encrypt(tenantId, type, cipher.decrypt(tenantId, type, row.encrypted)));
            return 'reencrypted' as const;
          });
          outcomes.push({ type, outcome });
        } catch (err) {
          if (!(err instanceof AppError && err.code === 'CREDENTIALS_UNREADABLE')) throw err;
          outcomes.push({ type, outcome: 'unreadable', reason: err.message });
        }
      }
      // The notification webhook's secret, under the same keyring.
      const webhook = await db.withTenant(tenantId, (q) => repo.findNotificationWebhook(q, tenantId));
      if (webhook && cipher.isCurrent(webhook.encryptedSecret)) outcomes.push({ type: NOTIFICATION_WEBHOOK, outcome: 'current' });
      else if (webhook) {
        try {
          const outcome = await db.withTenant(tenantId, async (q) => {
            const row = await repo.findNotificationWebhook(q, tenantId, { forUpdate: true });
            if (!row) return 'gone' as const;
            if (cipher.isCurrent(row.encryptedSecret)) return 'current' as const;
            const value = cipher.decrypt(tenantId, NOTIFICATION_WEBHOOK, row.encryptedSecret);
            await repo.replaceNotificationSecret(q, tenantId, cipher.encrypt(tenantId, NOTIFICATION_WEBHOOK, value));
            return 'reencrypted' as const;
          });
          outcomes.push({ type: NOTIFICATION_WEBHOOK, outcome });
        } catch (err) {
          if (!(err instanceof AppError && err.code === 'CREDENTIALS_UNREADABLE')) throw err;
          outcomes.push({ type: NOTIFICATION_WEBHOOK, outcome: 'unreadable', reason: err.message });
        }
      }
      return outcomes;
    },

    /**
     * Fills verify_token_hash for Meta credentials stored before it existed (it needs the blob
     * decrypted, which only tenant-service can do): a page of tenants at a time, each row in its
     * own short transaction, locked and checked again so that concurrent runs (several replicas
     * starting) do each row once. A row no key opens is counted `unreadable` and skipped.
     * `shouldStop` is asked between rows (the service is closing). Database errors are thrown.
     */
    async fillVerifyTokenHashes(options: { pageSize?: number; shouldStop?: () => boolean } = {}): Promise<{ filled: number; unreadable: string[] }> {
      const pageSize = options.pageSize ?? 100;
      const result = { filled: 0, unreadable: [] as string[] };
      for (let after: string | undefined; ; ) {
        const page = await repo.tenantsWithoutVerifyTokenHash(db, pageSize, after);
        for (const tenantId of page) {
          if (options.shouldStop?.()) return result;
          try {
            const filled = await db.withTenant(tenantId, async (q) => {
              const encrypted = await repo.lockMetaWithoutVerifyTokenHash(q, tenantId);
              if (!encrypted) return false;
              const { verifyToken } = cipher.decrypt<{ verifyToken: string }>(tenantId, 'meta', encrypted);
              await repo.setVerifyTokenHash(q, tenantId, hashVerifyToken(verifyToken));
              return true;
            });
            if (filled) result.filled++;
          } catch (err) {
            if (!(err instanceof AppError && err.code === 'CREDENTIALS_UNREADABLE')) throw err;
            result.unreadable.push(tenantId);
          }
        }
        if (page.length < pageSize) return result;
        after = page[page.length - 1];
      }
    },

    /**
     * Meta changes held because no tenant owned their number or WABA when they arrived (see
     * webhook-service's ingestMetaWebhook), oldest first; `signedBy` says whether the platform
     * app secret or a tenant app's secret vouched for them (only the platform's, or the
     * claimant's own app, lets them be replayed). `nextAfter`: pass as `after` for the next page.
     */
    async listUnclaimedChanges(query: { limit: number; after?: string; phoneNumberId?: string }) {
      const rows = await repo.listUnclaimedChanges(db, query);
      return {
        changes: rows.map((r) => ({
          id: r.id,
          phoneNumberId: r.phone_number_id,
          wabaId: r.waba_id,
          field: r.field,
          signedBy: r.signed_by === 'platform' ? 'platform' : 'tenant-app',
          receivedAt: r.received_at.toISOString(),
          change: (r.payload as { change?: unknown }).change ?? null,
        })),
        nextAfter: rows.length === query.limit ? rows[rows.length - 1].id : null,
      };
    },

    async createApiKey(tenantId: string, input: CreateApiKeyInput) {
      const key = await db.withTenant(tenantId, async (q) => {
        if (!(await repo.findTenant(q, tenantId))) throw tenantNotFound();
        const issued = await issueKey(q, tenantId, input);
        await appendAudit(q, { tenantId, action: 'api_key.created', target: `api_key:${issued.row.id}`, after: keyAudit(issued.row) });
        return issued;
      });
      await announce({ tenantId, kind: 'tenant-updated' }, () => directory.apiKeyChanged(keyRef(key.row), keyEntry(key.row)));
      return { ...key.response, rateLimit: key.row.rate_limit };
    },

    async listApiKeys(tenantId: string) {
      const rows = await db.withTenant(tenantId, async (q) => {
        if (!(await repo.findTenant(q, tenantId))) throw tenantNotFound();
        return repo.listApiKeys(q, tenantId);
      });
      return rows.map((k) => ({
        id: k.id,
        prefix: k.prefix,
        name: k.name,
        isActive: k.is_active,
        rateLimit: k.rate_limit,
        ...keyTerms(k),
        createdAt: k.created_at.toISOString(),
        lastUsedAt: k.last_used_at?.toISOString() ?? null,
        lastUsedIp: k.last_used_ip,
      }));
    },

    async revokeApiKey(tenantId: string, id: string) {
      const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
      const key = UUID.test(id)
        ? await db.withTenant(tenantId, async (q) => {
            const revoked = await repo.revokeApiKey(q, tenantId, id);
            if (revoked) await appendAudit(q, { tenantId, action: 'api_key.revoked', target: `api_key:${id}`, after: keyAudit(revoked) });
            return revoked;
          })
        : undefined;
      if (!key) throw appError('API_KEY_NOT_FOUND');
      await announce({ tenantId, kind: 'api-key-revoked' }, () => directory.apiKeyChanged(keyRef(key), keyEntry(key)));
    },
  };
}

export type TenantUseCases = ReturnType<typeof createTenantUseCases>;

export interface ReencryptOutcome {
  /** A credentials row's type, or `notification-webhook`: the secret of the tenant's notification webhook. */
  type: CredentialType | typeof NOTIFICATION_WEBHOOK;
  /** `current`: already under the newest key; `gone`: deleted meanwhile; `unreadable`: no key of the ring opens it. */
  outcome: 'reencrypted' | 'current' | 'gone' | 'unreadable';
  reason?: string;
}

/** Which fields of each credential type are secrets (masked) and which are lookups (shown). */
const SECRET_FIELDS: Record<CredentialType, string[]> = {
  meta: ['appSecret', 'verifyToken', 'accessToken'],
  genesys: ['clientSecret', 'webhookSecret'],
};

function maskedView(type: CredentialType, credentials: Record<string, unknown>, row: repo.CredentialRow) {
  const shown: Record<string, unknown> = {};
  for (const [field, value] of Object.entries(credentials)) {
    shown[field] = SECRET_FIELDS[type].includes(field) && typeof value === 'string' ? maskSecret(value) : value;
  }
  // health: valid or invalid (a provider refused them: why and since when), and the last good verify.
  return { type, credentials: shown, createdAt: row.created_at.toISOString(), updatedAt: row.updated_at.toISOString(), health: credentialHealth(row) };
}
