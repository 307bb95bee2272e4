-- Up Migration
-- Suspending takes a reason (issue #13): why and since when a tenant is suspended, shown by the
-- admin API and in every 423 TENANT_SUSPENDED answer. Both are NULL while the tenant is active
-- (reactivating clears them). The reason is bounded, as the directory caches it with the tenant.
ALTER TABLE tenants
  ADD COLUMN suspended_reason text CHECK (char_length(suspended_reason) BETWEEN 1 AND 500),
  ADD COLUMN suspended_at timestamptz;

-- Tenants suspended before reasons existed keep a reason and a time all the same.
UPDATE tenants SET suspended_reason = 'suspended before suspension reasons were recorded', suspended_at = updated_at
 WHERE status = 'suspended';

-- The admin list (GET /tenants) shows them as GET /tenants/:id does (as migration 0061 did for
-- markRead): tenants_page's result type changes, so it is dropped and created again.
DROP FUNCTION tenants_page(text, integer);
CREATE FUNCTION tenants_page(after text, page_size integer)
  RETURNS TABLE (tenant_id text, name text, subdomain text, status text, plan text, rate_limit integer,
                 metadata jsonb, window_policy text, reopen_template jsonb, mark_read text,
                 suspended_reason text, suspended_at timestamptz, created_at timestamptz, updated_at timestamptz)
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp
AS $$ SELECT t.tenant_id, t.name, t.subdomain, t.status, t.plan, t.rate_limit, t.metadata, t.window_policy, t.reopen_template, t.mark_read,
             t.suspended_reason, t.suspended_at, t.created_at, t.updated_at
        FROM tenants t WHERE (tenants_page.after IS NULL OR t.tenant_id > tenants_page.after) AND t.status <> 'deleting'
       ORDER BY t.tenant_id LIMIT tenants_page.page_size $$;
SELECT adopt_platform_functions(ARRAY['tenants_page(text, integer)']);

-- Down Migration
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
ALTER TABLE tenants DROP COLUMN suspended_at, DROP COLUMN suspended_reason;
