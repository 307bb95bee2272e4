import {
  AppError,
  appError,
  listCatalogue,
  replaceCatalogue,
  templateView,
  type CredentialCipher,
  type Database,
  type Logger,
  type MetaCredentials,
  type TemplateView,
} from '@bridge/shared';
import type { TemplateListing } from './meta-templates';
import * as repo from './repository';

/**
 * Each tenant's template catalogue (message_templates): synced from Meta's listing of the WABA its
 * Meta credentials name — on demand (`POST /tenants/:id/templates/sync`) and in the background
 * after Meta credentials are stored — and read by admins (`GET /tenants/:id/templates`).
 * webhook-service keeps it current between syncs with Meta's template status webhooks.
 */

/** What the sync reads Meta with (MetaTemplatesClient). */
export interface TemplateSource {
  listAll(wabaId: string, accessToken: string, signal?: AbortSignal): Promise<TemplateListing>;
  close(): void;
}

export interface TemplateCatalogueDeps {
  db: Database;
  cipher: CredentialCipher;
  logger: Logger;
  meta: TemplateSource;
}

/** The outcome of a sync: how many templates the catalogue holds now, and when (ISO 8601). */
export interface SyncResult {
  templates: number;
  syncedAt: string;
}

/** Codes a background sync ends with that say "nothing to sync" rather than "it failed". */
const NOTHING_TO_SYNC = new Set(['WABA_NOT_CONFIGURED', 'META_NOT_CONFIGURED', 'TENANT_NOT_FOUND']);

export function createTemplateCatalogue(deps: TemplateCatalogueDeps) {
  const { db, cipher, logger, meta } = deps;
  /** Aborts the requests to Meta still running when the service closes. */
  const stopping = new AbortController();
  /** Background syncs running, by tenant; `again`: credentials were stored again meanwhile. */
  const running = new Map<string, { again: boolean; done: Promise<void> }>();

  /**
   * Replaces the tenant's catalogue with Meta's complete listing of its WABA. The listing is read
   * outside any transaction; it is written in one, after checking that the credentials still name
   * that WABA. Errors: 404 TENANT_NOT_FOUND, 409 META_NOT_CONFIGURED (no Meta credentials),
   * 409 WABA_NOT_CONFIGURED (they name no wabaId), 502 TEMPLATE_SYNC_FAILED (Meta refused, could
   * not be reached, or the credentials moved to another WABA during the sync).
   */
  async function syncTemplates(tenantId: string): Promise<SyncResult> {
    const { wabaId, accessToken } = await db.withTenant(tenantId, async (q) => {
      if (!(await repo.findTenant(q, tenantId))) throw appError('TENANT_NOT_FOUND');
      const [row] = await repo.listCredentials(q, tenantId, 'meta');
      if (!row) throw appError('META_NOT_CONFIGURED');
      const credentials = cipher.decrypt<MetaCredentials>(tenantId, 'meta', row.encrypted);
      if (!credentials.wabaId) throw appError('WABA_NOT_CONFIGURED');
      return { wabaId: credentials.wabaId, accessToken: credentials.accessToken };
    });
    const listing = await meta.listAll(wabaId, accessToken, stopping.signal);
    const templates = await db.withTenant(tenantId, async (q) => {
      await repo.lockTemplateCatalogue(q, tenantId);
      if ((await repo.metaWabaId(q, tenantId)) !== wabaId) {
        throw appError('TEMPLATE_SYNC_FAILED', `The Meta credentials stopped naming WABA ${wabaId} during the sync; sync again`);
      }
      return replaceCatalogue(q, tenantId, wabaId, listing.templates);
    });
    if (listing.skipped) logger.warn({ tenantId, wabaId, skipped: listing.skipped }, 'templates without a usable name or language skipped');
    return { templates, syncedAt: new Date().toISOString() };
  }

  async function syncAndLog(tenantId: string): Promise<void> {
    try {
      const result = await syncTemplates(tenantId);
      logger.info({ tenantId, templates: result.templates }, 'template catalogue synced');
    } catch (err) {
      // An AppError's message names no secret (Meta's text has the token cut out); anything else: its message only.
      const code = err instanceof AppError ? err.code : undefined;
      const fields = { tenantId, code, reason: (err as Error).message };
      if (stopping.signal.aborted) logger.info(fields, 'template catalogue sync stopped: the service is closing');
      else if (code && NOTHING_TO_SYNC.has(code)) logger.info(fields, 'no template catalogue to sync');
      else logger.warn(fields, 'template catalogue not synced; POST /tenants/:tenantId/templates/sync retries');
    }
  }

  /** Resolves when no background sync is running. */
  async function idle(): Promise<void> {
    while (running.size) await Promise.all([...running.values()].map((r) => r.done));
  }

  return {
    syncTemplates,
    idle,

    /**
     * Syncs the tenant's catalogue in the background (after its Meta credentials were stored):
     * never throws, logs the outcome. While one runs for the tenant, another call makes it run once
     * more when done (the credentials it read may be the old ones).
     */
    syncInBackground(tenantId: string): void {
      if (stopping.signal.aborted) return;
      const current = running.get(tenantId);
      if (current) {
        current.again = true;
        return;
      }
      const entry = { again: false, done: Promise.resolve() };
      entry.done = (async () => {
        do {
          entry.again = false;
          await syncAndLog(tenantId);
        } while (entry.again && !stopping.signal.aborted);
        running.delete(tenantId);
      })();
      running.set(tenantId, entry);
    },

    /** The tenant's catalogue, `status` only if given. 404 TENANT_NOT_FOUND. */
    async listTemplates(tenantId: string, status?: string): Promise<{ templates: TemplateView[] }> {
      const rows = await db.withTenant(tenantId, async (q) => {
        if (!(await repo.findTenant(q, tenantId))) throw appError('TENANT_NOT_FOUND');
        return listCatalogue(q, tenantId, { status });
      });
      return { templates: rows.map(templateView) };
    },

    /** Aborts what Meta has not answered yet, waits for the background syncs to end, releases the client. */
    async close(): Promise<void> {
      stopping.abort();
      await idle();
      meta.close();
    },
  };
}

export type TemplateCatalogue = ReturnType<typeof createTemplateCatalogue>;
