-- Up Migration
-- Row-level security that no session can switch off (issue #9, kind 5).
--
-- Until now every policy ended with `OR current_setting('app.scope', true) = 'platform'`, a
-- setting bridge_app could set itself: any session (an injection, a compromised service) could
-- read and write every tenant's rows. Here every policy becomes the tenant's rows only, and the
-- few lookups that must cross tenants go through the SECURITY DEFINER functions below, each
-- returning only the columns its caller needs. They are owned by bridge_platform, a NOLOGIN role
-- no one can become (bridge_app is not a member of it), which holds nothing but what they use:
-- column-level grants, and policies of its own (`TO bridge_platform`) that show it every row of
-- those tables. It is not BYPASSRLS (only a superuser may grant that, and it would open every
-- table), nor the owner of anything but the functions. Each function pins its search_path
-- (pg_catalog first, so bridge_app cannot shadow a built-in), and EXECUTE is granted to
-- bridge_app only.

-- The role is cluster-wide: created once, whichever database migrates first (concurrently too).
DO $$ BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'bridge_platform') THEN
    CREATE ROLE bridge_platform NOLOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS NOINHERIT;
  END IF;
EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
END $$;
GRANT USAGE ON SCHEMA public TO bridge_platform;

-- Every policy of this schema that mentions app.scope (those of 0001, 0003, 0004 and any that
-- enable_tenant_isolation() made) is recreated under its name, command and roles, seeing its
-- tenant's rows only. Every tenant table has tenant_id; a table without one fails here, loudly.
-- A function (the owner's, not SECURITY DEFINER, executable by no one else) so that a later
-- migration can run it again for policies written after this one.
CREATE FUNCTION make_policies_tenant_only() RETURNS void LANGUAGE plpgsql AS $f$
DECLARE
  p record;
  own_rows constant text := $c$tenant_id = NULLIF(current_setting('app.tenant_id', true), '')$c$;
  clauses text;
BEGIN
  FOR p IN
    SELECT schemaname, tablename, policyname, permissive, cmd,
           (SELECT string_agg(CASE WHEN r = 'public' THEN 'PUBLIC' ELSE quote_ident(r) END, ', ') FROM unnest(roles) AS r) AS roles
      FROM pg_policies
     WHERE schemaname = current_schema()
       AND (coalesce(qual, '') LIKE '%app.scope%' OR coalesce(with_check, '') LIKE '%app.scope%')
  LOOP
    clauses := CASE p.cmd
      WHEN 'SELECT' THEN format('USING (%s)', own_rows)
      WHEN 'DELETE' THEN format('USING (%s)', own_rows)
      WHEN 'INSERT' THEN format('WITH CHECK (%s)', own_rows)
      ELSE format('USING (%s) WITH CHECK (%s)', own_rows, own_rows)
    END;
    EXECUTE format('DROP POLICY %I ON %I.%I', p.policyname, p.schemaname, p.tablename);
    EXECUTE format('CREATE POLICY %I ON %I.%I AS %s FOR %s TO %s %s',
                   p.policyname, p.schemaname, p.tablename, p.permissive, p.cmd, p.roles, clauses);
  END LOOP;
END $f$;
REVOKE ALL ON FUNCTION make_policies_tenant_only() FROM PUBLIC;
SELECT make_policies_tenant_only();

-- The helper later migrations call to protect a new table (migration 0010, where merged) makes
-- the same strict policy from now on: its text loses the platform clause, whatever its signature.
DO $$
DECLARE
  f record;
  def text;
BEGIN
  FOR f IN SELECT p.oid FROM pg_proc p WHERE p.proname = 'enable_tenant_isolation' AND p.pronamespace = current_schema()::regnamespace LOOP
    def := regexp_replace(pg_get_functiondef(f.oid),
                          $r$\s*OR\s+current_setting\(\s*'app\.scope'(::text)?\s*,\s*true\s*\)\s*=\s*'platform'(::text)?$r$, '', 'gi');
    IF def LIKE '%app.scope%' THEN
      RAISE EXCEPTION 'enable_tenant_isolation still mentions app.scope after removing the platform clause: %', def;
    END IF;
    EXECUTE def;
  END LOOP;
END $$;

-- What the functions read and write, and nothing else: column grants (no credentials blob, no
-- message bodies), and policies that show bridge_platform those tables' rows.
GRANT SELECT ON tenants TO bridge_platform;
GRANT SELECT (id, tenant_id, key_hash, is_active, rate_limit, last_used_at), UPDATE (last_used_at) ON tenant_api_keys TO bridge_platform;
GRANT SELECT (tenant_id, type, phone_number_id, verify_token_hash) ON tenant_credentials TO bridge_platform;
GRANT SELECT (tenant_id, id, kind, lane, ordering, message_id, event_id, payload, state, attempts, next_attempt_at, locked_until, created_at),
      UPDATE (locked_until, attempts, updated_at) ON outbox TO bridge_platform;
GRANT SELECT (tenant_id, id, uncertain_attempts), UPDATE (uncertain_attempts) ON message_tracking TO bridge_platform;

CREATE POLICY platform_functions_read ON tenants FOR SELECT TO bridge_platform USING (true);
CREATE POLICY platform_functions_read ON tenant_credentials FOR SELECT TO bridge_platform USING (true);
DO $$
DECLARE
  t text;
BEGIN
  FOREACH t IN ARRAY ARRAY['tenant_api_keys', 'outbox', 'message_tracking'] LOOP
    EXECUTE format('CREATE POLICY platform_functions_read ON %I FOR SELECT TO bridge_platform USING (true)', t);
    EXECUTE format('CREATE POLICY platform_functions_write ON %I FOR UPDATE TO bridge_platform USING (true) WITH CHECK (true)', t);
  END LOOP;
END $$;

-- ---- the lookups that find a tenant by a name from outside ----

-- Gateway: the API key with this hash (SHA-256 hex of the key), whichever tenant's: one row or none.
CREATE FUNCTION api_key_by_hash(key_hash text)
  RETURNS TABLE (id uuid, tenant_id text, is_active boolean, rate_limit integer)
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp
AS $$ SELECT k.id, k.tenant_id, k.is_active, k.rate_limit FROM tenant_api_keys k WHERE k.key_hash = api_key_by_hash.key_hash $$;

-- Gateway: the tenant a subdomain names, or NULL.
CREATE FUNCTION tenant_by_subdomain(subdomain text) RETURNS text
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp
AS $$ SELECT t.tenant_id FROM tenants t WHERE t.subdomain = tenant_by_subdomain.subdomain $$;

-- Webhook-service: the owner of each of these business numbers; a number no tenant owns is absent.
CREATE FUNCTION tenants_by_phone_number_ids(phone_number_ids text[])
  RETURNS TABLE (phone_number_id text, tenant_id text)
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp
AS $$ SELECT c.phone_number_id, c.tenant_id FROM tenant_credentials c
       WHERE c.type = 'meta' AND c.phone_number_id = ANY (tenants_by_phone_number_ids.phone_number_ids) $$;

-- Webhook-service, the platform-wide handshake: a tenant whose Meta verify token hashes to this
-- (tenants sharing one platform-wide app may share its token: any of them proves it), or NULL.
CREATE FUNCTION tenant_by_verify_token_hash(verify_token_hash text) RETURNS text
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp
AS $$ SELECT c.tenant_id FROM tenant_credentials c
       WHERE c.type = 'meta' AND c.verify_token_hash = tenant_by_verify_token_hash.verify_token_hash LIMIT 1 $$;

-- Gateway: records when keys were last used (never later than now, never backwards).
CREATE FUNCTION record_api_key_use(key_ids uuid[], used_at timestamptz[]) RETURNS void
  LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp
AS $$ UPDATE tenant_api_keys k SET last_used_at = GREATEST(k.last_used_at, LEAST(v.used_at, now()))
        FROM unnest(record_api_key_use.key_ids, record_api_key_use.used_at) AS v(id, used_at) WHERE k.id = v.id $$;

-- ---- tenant-service: the admin list, and the pages its background jobs walk ----

-- The tenants after `after` (by id; NULL: from the first), at most `page_size`; not those being
-- deleted (migration 1732060800009): to everyone but the purge they are gone.
CREATE FUNCTION tenants_page(after text, page_size integer)
  RETURNS TABLE (tenant_id text, name text, subdomain text, status text, plan text, rate_limit integer,
                 metadata jsonb, created_at timestamptz, updated_at timestamptz)
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp
AS $$ SELECT t.tenant_id, t.name, t.subdomain, t.status, t.plan, t.rate_limit, t.metadata, t.created_at, t.updated_at
        FROM tenants t WHERE (tenants_page.after IS NULL OR t.tenant_id > tenants_page.after) AND t.status <> 'deleting'
       ORDER BY t.tenant_id LIMIT tenants_page.page_size $$;

-- The ids of tenants whose Meta credentials still lack verify_token_hash (migration 0008), paged.
CREATE FUNCTION tenants_without_verify_token_hash(after text, page_size integer) RETURNS SETOF text
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp
AS $$ SELECT c.tenant_id FROM tenant_credentials c
       WHERE c.type = 'meta' AND c.verify_token_hash IS NULL
         AND (tenants_without_verify_token_hash.after IS NULL OR c.tenant_id > tenants_without_verify_token_hash.after)
       ORDER BY c.tenant_id LIMIT tenants_without_verify_token_hash.page_size $$;

-- ---- the outbox, drained for every tenant at once ----

-- What shared/src/outbox/claim.ts documents: up to `max_jobs` due jobs, each the head of its lane
-- with nothing of the lane in flight, of every tenant but `skip_tenants`, leased for `lease_ms`;
-- attempts + 1 (the claim's fencing token) and whether the previous attempt's outcome is unknown.
-- plpgsql so that the plan is cached per connection, as the prepared statement's was. enable_sort
-- off: walk the due index in order and stop at the limit, whatever the statistics say (planned on
-- an empty queue's statistics, PostgreSQL would otherwise sort the whole backlog after an outage).
CREATE FUNCTION outbox_claim(max_jobs integer, lease_ms integer, skip_tenants text[])
  RETURNS TABLE (tenant_id text, id text, kind text, lane text, message_id text, event_id text,
                 payload jsonb, attempts integer, created_at timestamptz, uncertain boolean)
  LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp SET enable_sort = off
AS $$
#variable_conflict use_column
BEGIN
  RETURN QUERY
  WITH due AS (
         SELECT o.tenant_id, o.id, o.message_id, o.locked_until IS NOT NULL AS uncertain FROM outbox o
          WHERE o.state = 'pending' AND o.next_attempt_at <= now()
            AND (o.locked_until IS NULL OR o.locked_until < now())
            AND o.tenant_id <> ALL(outbox_claim.skip_tenants)
            -- the head of its lane: nothing earlier pending (an index range probe) ...
            AND NOT EXISTS (
              SELECT 1 FROM outbox p
               WHERE p.tenant_id = o.tenant_id AND p.lane = o.lane AND p.state = 'pending'
                 AND (p.ordering, p.id) < (o.ordering, o.id))
            -- ... and nothing of the lane in flight (the small in-flight index)
            AND NOT EXISTS (
              SELECT 1 FROM outbox p
               WHERE p.tenant_id = o.tenant_id AND p.lane = o.lane AND p.state = 'pending'
                 AND p.locked_until IS NOT NULL AND p.locked_until >= now() AND p.id <> o.id)
          ORDER BY o.next_attempt_at, o.id
          LIMIT outbox_claim.max_jobs
          FOR UPDATE OF o SKIP LOCKED
       ), marked AS (
         UPDATE message_tracking m SET uncertain_attempts = m.uncertain_attempts + 1
           FROM due WHERE due.uncertain AND m.tenant_id = due.tenant_id AND m.id = due.message_id
       )
       UPDATE outbox o SET locked_until = now() + outbox_claim.lease_ms * interval '1 millisecond', attempts = o.attempts + 1, updated_at = now()
         FROM due WHERE o.tenant_id = due.tenant_id AND o.id = due.id
       RETURNING o.tenant_id, o.id::text, o.kind, o.lane, o.message_id::text, o.event_id::text, o.payload, o.attempts, o.created_at, due.uncertain;
END $$;

-- Extends the leases of jobs (tenant_ids[i], ids[i]) still held by the claim that gave them
-- attempts[i] (their lease not cleared), by `lease_ms` from now; returns the 1-based positions of
-- the jobs another claim has taken since (more attempts, seen in the snapshot from before).
CREATE FUNCTION outbox_renew_leases(tenant_ids text[], ids bigint[], attempts integer[], lease_ms integer) RETURNS SETOF integer
  LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp
AS $$
  WITH held AS (
    SELECT n, tenant_id, id, attempts
      FROM unnest(outbox_renew_leases.tenant_ids, outbox_renew_leases.ids, outbox_renew_leases.attempts) WITH ORDINALITY AS j(tenant_id, id, attempts, n)
  ), renewed AS (
    UPDATE outbox o SET locked_until = now() + outbox_renew_leases.lease_ms * interval '1 millisecond'
      FROM held j
     WHERE o.tenant_id = j.tenant_id AND o.id = j.id AND o.attempts = j.attempts AND o.locked_until IS NOT NULL
  )
  SELECT j.n::int FROM held j JOIN outbox o ON o.tenant_id = j.tenant_id AND o.id = j.id WHERE o.attempts <> j.attempts
$$;

-- For operators: how many jobs are waiting, failed or dead, per tenant, kind and state.
CREATE FUNCTION outbox_queue_view() RETURNS TABLE (tenant_id text, kind text, state text, count integer)
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp
AS $$ SELECT o.tenant_id, o.kind, o.state, count(*)::int FROM outbox o GROUP BY 1, 2, 3 ORDER BY 1, 2, 3 $$;

-- Hands platform functions (by signature) to bridge_platform, callable by bridge_app alone.
-- Owner-only, like make_policies_tenant_only: later migrations adopt their functions with it.
CREATE FUNCTION adopt_platform_functions(signatures text[]) RETURNS void LANGUAGE plpgsql AS $f$
DECLARE
  f text;
BEGIN
  FOREACH f IN ARRAY signatures LOOP
    EXECUTE format('ALTER FUNCTION %s OWNER TO bridge_platform', f);
    EXECUTE format('REVOKE ALL ON FUNCTION %s FROM PUBLIC', f);
    EXECUTE format('GRANT EXECUTE ON FUNCTION %s TO bridge_app', f);
  END LOOP;
END
$f$;
REVOKE ALL ON FUNCTION adopt_platform_functions(text[]) FROM PUBLIC;
SELECT adopt_platform_functions(ARRAY[
    'api_key_by_hash(text)', 'tenant_by_subdomain(text)', 'tenants_by_phone_number_ids(text[])',
    'tenant_by_verify_token_hash(text)', 'record_api_key_use(uuid[], timestamptz[])',
    'tenants_page(text, integer)', 'tenants_without_verify_token_hash(text, integer)',
    'outbox_claim(integer, integer, text[])', 'outbox_renew_leases(text[], bigint[], integer[], integer)',
    'outbox_queue_view()'
]);

-- Down Migration
DROP FUNCTION api_key_by_hash(text), tenant_by_subdomain(text), tenants_by_phone_number_ids(text[]),
  tenant_by_verify_token_hash(text), record_api_key_use(uuid[], timestamptz[]), tenants_page(text, integer),
  tenants_without_verify_token_hash(text, integer), outbox_claim(integer, integer, text[]),
  outbox_renew_leases(text[], bigint[], integer[], integer), outbox_queue_view(), make_policies_tenant_only(), adopt_platform_functions(text[]);
DO $$
DECLARE
  p record;
  own_rows constant text := $c$tenant_id = NULLIF(current_setting('app.tenant_id', true), '')
                               OR current_setting('app.scope', true) = 'platform'$c$;
BEGIN
  FOR p IN SELECT tablename, policyname FROM pg_policies WHERE schemaname = current_schema() AND policyname LIKE 'platform_functions_%' LOOP
    EXECUTE format('DROP POLICY %I ON %I', p.policyname, p.tablename);
  END LOOP;
  -- The platform switch comes back on the tenant policies (enable_tenant_isolation stays strict).
  FOR p IN SELECT tablename FROM pg_policies WHERE schemaname = current_schema() AND policyname = 'tenant_isolation' LOOP
    EXECUTE format('ALTER POLICY tenant_isolation ON %I USING (%s) WITH CHECK (%s)', p.tablename, own_rows, own_rows);
  END LOOP;
END $$;
REVOKE ALL ON tenants, tenant_api_keys, tenant_credentials, outbox, message_tracking FROM bridge_platform;
REVOKE USAGE ON SCHEMA public FROM bridge_platform;
-- bridge_platform is cluster-wide (other databases may use it): it stays.
