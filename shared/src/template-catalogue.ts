import { jsonbParam, type Queryable } from './db';
import type { Template } from './templates';

/**
 * The tenant's template catalogue (`message_templates`, migration 1732060800050). Every function
 * runs in the caller's `db.withTenant` transaction.
 */

const COLUMNS = `name, language, template_id AS "templateId", category, status, components`;

/** Every template of the tenant, by name then language. */
export async function listTemplates(q: Queryable, tenantId: string): Promise<Template[]> {
  const { rows } = await q.query<Template>(`SELECT ${COLUMNS} FROM message_templates WHERE tenant_id = $1 ORDER BY name, language`, [tenantId]);
  return rows;
}

/**
 * Replaces the catalogue with a full listing of the WABA `wabaId` (a sync): listed templates are
 * inserted or updated, the tenant's templates the listing no longer has are deleted. Returns how
 * many templates the catalogue now holds.
 */
export async function replaceCatalogue(q: Queryable, tenantId: string, wabaId: string | null, templates: Template[]): Promise<number> {
  // Meta's strings may hold what jsonb refuses (U+0000, half a surrogate pair): stored as U+FFFD, never a failed sync.
  const rows = jsonbParam(templates.map((t) => ({ ...t, components: t.components })));
  await q.query(
    `WITH listed AS (
       SELECT * FROM jsonb_to_recordset($3::jsonb)
         AS x(name text, language text, "templateId" text, category text, status text, components jsonb)
     ), upserted AS (
       INSERT INTO message_templates (tenant_id, name, language, template_id, waba_id, category, status, components, synced_at, updated_at)
       SELECT DISTINCT ON (name, language) $1, name, language, "templateId", $2, category, status, COALESCE(components, '[]'), now(), now() FROM listed
       ON CONFLICT (tenant_id, name, language) DO UPDATE
         SET template_id = EXCLUDED.template_id, waba_id = EXCLUDED.waba_id, category = EXCLUDED.category, status = EXCLUDED.status,
             components = EXCLUDED.components, synced_at = now(),
             updated_at = CASE WHEN (message_templates.status, message_templates.components, message_templates.category)
                                    IS DISTINCT FROM (EXCLUDED.status, EXCLUDED.components, EXCLUDED.category)
                               THEN now() ELSE message_templates.updated_at END
       RETURNING name, language
     )
     DELETE FROM message_templates m
      WHERE m.tenant_id = $1 AND NOT EXISTS (SELECT 1 FROM listed l WHERE l.name = m.name AND l.language = m.language)`,
    [tenantId, wabaId, rows],
  );
  const { rows: count } = await q.query<{ n: number }>('SELECT count(*)::int AS n FROM message_templates WHERE tenant_id = $1', [tenantId]);
  return count[0].n;
}

/**
 * A template's new status (a `message_template_status_update` webhook: `event` is the status),
 * found by Meta's template id, else by name and language. Returns how many templates changed (0:
 * not in the catalogue — the next sync brings it).
 */
export async function setTemplateStatus(
  q: Queryable,
  tenantId: string,
  update: { templateId?: string | null; name?: string | null; language?: string | null; status: string },
): Promise<number> {
  const { rowCount } = await q.query(
    `UPDATE message_templates SET status = $5, updated_at = now()
      WHERE tenant_id = $1
        AND (($2::text IS NOT NULL AND template_id = $2) OR ($2::text IS NULL AND name = $3 AND language = $4))
        AND status IS DISTINCT FROM $5`,
    [tenantId, update.templateId ?? null, update.name ?? null, update.language ?? null, update.status],
  );
  return rowCount ?? 0;
}

/** A template as the catalogue holds it: the template, and when it last changed and was last listed by Meta. */
export interface CatalogueTemplate extends Template {
  /** When its status, components or category last changed (a sync or a status webhook). */
  updatedAt: Date;
  /** When a sync last found it in Meta's listing. */
  syncedAt: Date;
}

/** The tenant's templates with their times, by name then language; only those of `status` when given. */
export async function listCatalogue(q: Queryable, tenantId: string, options: { status?: string } = {}): Promise<CatalogueTemplate[]> {
  const { rows } = await q.query<CatalogueTemplate>(
    `SELECT ${COLUMNS}, updated_at AS "updatedAt", synced_at AS "syncedAt" FROM message_templates
      WHERE tenant_id = $1 AND ($2::text IS NULL OR status = $2) ORDER BY name, language`,
    [tenantId, options.status ?? null],
  );
  return rows;
}
