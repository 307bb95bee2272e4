-- Up Migration
-- Read marks and the typing indicator (issue #12, part 2): each tenant's read-mark setting, what
-- each conversation has had queued already (so that a storm of Genesys typing events, or several
-- replies, make one call to Meta), and the outbox kind that carries these best-effort signals.

-- When the customer's messages get blue ticks: 'on-agent-activity' (the agent types or replies),
-- 'on-delivery' (Genesys accepted the message) or 'never' (and then no typing indicator either:
-- WhatsApp shows one only with a read mark).
ALTER TABLE tenants
  ADD COLUMN mark_read text NOT NULL DEFAULT 'on-agent-activity' CHECK (mark_read IN ('on-agent-activity', 'on-delivery', 'never'));

-- typing_until: no other typing indicator is queued for the conversation before this time.
-- read_through: message_tracking.id of the newest customer message a read mark (or a typing
-- indicator, which marks it read too) was queued for; one read mark marks every earlier message.
ALTER TABLE conversation_mappings
  ADD COLUMN typing_until timestamptz,
  ADD COLUMN read_through bigint;

ALTER TABLE outbox DROP CONSTRAINT outbox_kind_check;
ALTER TABLE outbox ADD CONSTRAINT outbox_kind_check
  CHECK (kind IN ('to_genesys_message', 'to_whatsapp_message', 'to_genesys_receipt', 'to_genesys_agentless', 'to_whatsapp_signal'));

-- The admin list (GET /tenants) shows markRead as GET /tenants/:id does (as migration 0051 did for
-- the window settings): tenants_page's result type changes, so it is dropped and created again.
DROP FUNCTION tenants_page(text, integer);
CREATE FUNCTION tenants_page(after text, page_size integer)
  RETURNS TABLE (tenant_id text, name text, subdomain text, status text, plan text, rate_limit integer,
                 metadata jsonb, window_policy text, reopen_template jsonb, mark_read text, created_at timestamptz, updated_at timestamptz)
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp
AS $$ SELECT t.tenant_id, t.name, t.subdomain, t.status, t.plan, t.rate_limit, t.metadata, t.window_policy, t.reopen_template, t.mark_read,
             t.created_at, t.updated_at
        FROM tenants t WHERE (tenants_page.after IS NULL OR t.tenant_id > tenants_page.after) AND t.status <> 'deleting'
       ORDER BY t.tenant_id LIMIT tenants_page.page_size $$;
SELECT adopt_platform_functions(ARRAY['tenants_page(text, integer)']);

-- Down Migration
DROP FUNCTION tenants_page(text, integer);
CREATE FUNCTION tenants_page(after text, page_size integer)
  RETURNS TABLE (tenant_id text, name text, subdomain text, status text, plan text, rate_limit integer,
                 metadata jsonb, window_policy text, reopen_template jsonb, created_at timestamptz, updated_at timestamptz)
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp
AS $$ SELECT t.tenant_id, t.name, t.subdomain, t.status, t.plan, t.rate_limit, t.metadata, t.window_policy, t.reopen_template, t.created_at, t.updated_at
        FROM tenants t WHERE (tenants_page.after IS NULL OR t.tenant_id > tenants_page.after) AND t.status <> 'deleting'
       ORDER BY t.tenant_id LIMIT tenants_page.page_size $$;
SELECT adopt_platform_functions(ARRAY['tenants_page(text, integer)']);
ALTER TABLE outbox DROP CONSTRAINT outbox_kind_check;
DELETE FROM outbox WHERE kind = 'to_whatsapp_signal';
ALTER TABLE outbox ADD CONSTRAINT outbox_kind_check
  CHECK (kind IN ('to_genesys_message', 'to_whatsapp_message', 'to_genesys_receipt', 'to_genesys_agentless'));
ALTER TABLE conversation_mappings DROP COLUMN read_through, DROP COLUMN typing_until;
ALTER TABLE tenants DROP COLUMN mark_read;
