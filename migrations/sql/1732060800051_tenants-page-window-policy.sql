-- Up Migration
-- The admin list of tenants (GET /tenants) shows each tenant's window settings (issue #11,
-- migration 0050), as GET /tenants/:id does: tenants_page returns them too. Its result type
-- changes, so it is dropped and created again, then adopted as migration 0020's functions are.
DROP FUNCTION tenants_page(text, integer);
CREATE FUNCTION tenants_page(after text, page_size integer)
  RETURNS TABLE (tenant_id text, name text, subdomain text, status text, plan text, rate_limit integer,
                 metadata jsonb, window_policy text, reopen_template jsonb, created_at timestamptz, updated_at timestamptz)
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp
AS $$ SELECT t.tenant_id, t.name, t.subdomain, t.status, t.plan, t.rate_limit, t.metadata, t.window_policy, t.reopen_template, t.created_at, t.updated_at
        FROM tenants t WHERE (tenants_page.after IS NULL OR t.tenant_id > tenants_page.after) AND t.status <> 'deleting'
       ORDER BY t.tenant_id LIMIT tenants_page.page_size $$;
SELECT adopt_platform_functions(ARRAY['tenants_page(text, integer)']);

-- Down Migration
DROP FUNCTION tenants_page(text, integer);
CREATE FUNCTION tenants_page(after text, page_size integer)
  RETURNS TABLE (tenant_id text, name text, subdomain text, status text, plan text, rate_limit integer,
                 metadata jsonb, created_at timestamptz, updated_at timestamptz)
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp
AS $$ SELECT t.tenant_id, t.name, t.subdomain, t.status, t.plan, t.rate_limit, t.metadata, t.created_at, t.updated_at
        FROM tenants t WHERE (tenants_page.after IS NULL OR t.tenant_id > tenants_page.after) AND t.status <> 'deleting'
       ORDER BY t.tenant_id LIMIT tenants_page.page_size $$;
SELECT adopt_platform_functions(ARRAY['tenants_page(text, integer)']);
