-- Up Migration
-- The audit trail (issue #13): an append-only table of who changed what, one hash chain per tenant
-- (and one for the platform's events, tenant_id NULL).
--
-- Append-only for real: bridge_app may read its tenant's rows (row-level security) and write only
-- through audit_append(), a platform function that serialises each chain's writers and computes
-- the hash; it can neither UPDATE nor DELETE (no grant, and a trigger refuses both to anyone but
-- bridge_platform deleting, which only audit_purge() does: the retention purge, a whole prefix
-- of a chain at a time). Rows carry no foreign key to tenants: a deleted tenant's trail outlives
-- it (the tenant purge walks only tables with one).
--
-- Each row's hash = SHA-256 (hex) of prev_hash || the canonical text of the row (audit_event_hash);
-- prev_hash is the hash of the chain's previous row, or, for the first row, the chain's anchor:
-- 64 zeros, or once the purge has removed older rows, the hash of the last row it removed
-- (audit_anchors). audit_verify() walks a chain from its anchor and names the first row that
-- does not fit.

CREATE TABLE audit_events (
  id bigserial PRIMARY KEY,
  -- NULL: the platform's chain (an event no tenant owns).
  tenant_id text,
  -- 'admin' (the admin API key), 'key:<api key id>', 'system'.
  actor text NOT NULL,
  -- e.g. tenant.created, api_key.revoked, security.bad_signature.
  action text NOT NULL,
  -- What was acted on, e.g. 'tenant:acme', 'api_key:<id>', 'credentials:meta'.
  target text,
  -- The state before and after, secrets masked by the writer.
  before jsonb,
  after jsonb,
  request_id text,
  client_ip text,
  at timestamptz NOT NULL,
  prev_hash text NOT NULL CHECK (prev_hash ~ '^[0-9a-f]{64}$'),
  hash text NOT NULL CHECK (hash ~ '^[0-9a-f]{64}$')
);
CREATE INDEX audit_events_chain ON audit_events (tenant_id, id);
CREATE INDEX audit_events_platform_chain ON audit_events (id) WHERE tenant_id IS NULL;

-- Per chain ('' for the platform's, else the tenant id): the prev_hash its first remaining row
-- must carry, once the retention purge has removed the rows before it; and the last id removed.
CREATE TABLE audit_anchors (
  chain text PRIMARY KEY,
  prev_hash text NOT NULL CHECK (prev_hash ~ '^[0-9a-f]{64}$'),
  purged_through bigint NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now()
);

-- Tenant reads under row-level security; the write grants enable_tenant_isolation gives are taken back.
SELECT enable_tenant_isolation('audit_events');
REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON audit_events FROM bridge_app;
REVOKE ALL ON audit_anchors FROM bridge_app;

-- Refuses UPDATE, and DELETE by anyone but bridge_platform (audit_purge); TRUNCATE always.
-- The owner can still switch triggers off: that is what the hash chain is for.
CREATE FUNCTION audit_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $f$
BEGIN
  IF TG_OP = 'DELETE' AND current_user = 'bridge_platform' THEN RETURN OLD; END IF;
  RAISE EXCEPTION 'audit_events is append-only: % refused', TG_OP USING ERRCODE = '42501';
END $f$;
CREATE TRIGGER audit_events_append_only BEFORE UPDATE OR DELETE ON audit_events FOR EACH ROW EXECUTE FUNCTION audit_events_append_only();
CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events FOR EACH STATEMENT EXECUTE FUNCTION audit_events_append_only();

-- The hash of row `e` after `prev_hash`: SHA-256, hex, of prev_hash followed by the jsonb text of
-- {id, tenantId, actor, action, target, before, after, requestId, clientIp, at} (jsonb's text is
-- canonical: keys ordered, one spacing; `at` in UTC with microseconds).
CREATE FUNCTION audit_event_hash(prev_hash text, e audit_events) RETURNS text
  LANGUAGE sql STABLE SET search_path = pg_catalog, public, pg_temp
AS $$ SELECT encode(sha256(convert_to(audit_event_hash.prev_hash || jsonb_build_object(
         'id', e.id, 'tenantId', e.tenant_id, 'actor', e.actor, 'action', e.action, 'target', e.target,
         'before', e.before, 'after', e.after, 'requestId', e.request_id, 'clientIp', e.client_ip,
         'at', to_char(e.at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'))::text, 'UTF8')), 'hex') $$;

GRANT SELECT, INSERT, DELETE ON audit_events TO bridge_platform;
GRANT USAGE ON SEQUENCE audit_events_id_seq TO bridge_platform;
GRANT SELECT, INSERT, UPDATE ON audit_anchors TO bridge_platform;
GRANT EXECUTE ON FUNCTION audit_event_hash(text, audit_events) TO bridge_platform;
CREATE POLICY platform_functions_read ON audit_events FOR SELECT TO bridge_platform USING (true);
CREATE POLICY platform_functions_append ON audit_events FOR INSERT TO bridge_platform WITH CHECK (true);
CREATE POLICY platform_functions_purge ON audit_events FOR DELETE TO bridge_platform USING (true);

-- Every service: appends an event to its tenant's chain (tenant_id NULL: the platform's), in the
-- caller's transaction, and returns its id. A tenant's event may only be written in that tenant's
-- unit of work (app.tenant_id), so one tenant's session cannot write into another's trail. Writers
-- of one chain wait for each other until commit (a transaction-level advisory lock), so the chain
-- never forks; ids (taken after the lock) rise along each chain.
CREATE FUNCTION audit_append(tenant_id text, actor text, action text, target text, before jsonb, after jsonb, request_id text, client_ip text)
  RETURNS bigint
  LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp
AS $$
DECLARE
  e audit_events;
  head text;
BEGIN
  IF audit_append.tenant_id IS NOT NULL AND audit_append.tenant_id IS DISTINCT FROM NULLIF(current_setting('app.tenant_id', true), '') THEN
    RAISE EXCEPTION 'an audit event of tenant % is written only in its unit of work', audit_append.tenant_id USING ERRCODE = '42501';
  END IF;
  PERFORM pg_advisory_xact_lock(hashtextextended('audit_events:' || coalesce(audit_append.tenant_id, ''), 0));
  IF audit_append.tenant_id IS NULL THEN
    SELECT a.hash INTO head FROM audit_events a WHERE a.tenant_id IS NULL ORDER BY a.id DESC LIMIT 1;
  ELSE
    SELECT a.hash INTO head FROM audit_events a WHERE a.tenant_id = audit_append.tenant_id ORDER BY a.id DESC LIMIT 1;
  END IF;
  IF head IS NULL THEN
    SELECT x.prev_hash INTO head FROM audit_anchors x WHERE x.chain = coalesce(audit_append.tenant_id, '');
  END IF;
  e.id := nextval('audit_events_id_seq');
  e.tenant_id := audit_append.tenant_id;
  e.actor := audit_append.actor;
  e.action := audit_append.action;
  e.target := audit_append.target;
  e.before := audit_append.before;
  e.after := audit_append.after;
  e.request_id := audit_append.request_id;
  e.client_ip := audit_append.client_ip;
  e.at := clock_timestamp();
  e.prev_hash := coalesce(head, repeat('0', 64));
  e.hash := audit_event_hash(e.prev_hash, e);
  INSERT INTO audit_events VALUES (e.*);
  RETURN e.id;
END $$;

-- Tenant-service, GET /audit: events newest first, before id `before_id` (NULL: from the newest),
-- of one tenant if `tenant` is given, of one type if `type` is (an action, or its prefix before a
-- dot: 'tenant' is every tenant.*), at or after `since`; at most `page_size`.
CREATE FUNCTION audit_page(tenant text, type text, since timestamptz, before_id bigint, page_size integer)
  RETURNS TABLE (id bigint, tenant_id text, actor text, action text, target text, before jsonb, after jsonb,
                 request_id text, client_ip text, at timestamptz)
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp
AS $$ SELECT a.id, a.tenant_id, a.actor, a.action, a.target, a.before, a.after, a.request_id, a.client_ip, a.at FROM audit_events a
       WHERE (audit_page.tenant IS NULL OR a.tenant_id = audit_page.tenant)
         AND (audit_page.type IS NULL OR a.action = audit_page.type OR a.action LIKE replace(replace(audit_page.type, '%', ''), '_', '\_') || '.%')
         AND (audit_page.since IS NULL OR a.at >= audit_page.since)
         AND (audit_page.before_id IS NULL OR a.id < audit_page.before_id)
       ORDER BY a.id DESC LIMIT audit_page.page_size $$;

-- Tenant-service, GET /tenants/:id/audit/verify: walks the tenant's chain (NULL: the platform's)
-- from its anchor; ok with the number of events, or the first event that does not fit and why.
CREATE FUNCTION audit_verify(tenant text)
  RETURNS TABLE (ok boolean, events integer, broken_at bigint, reason text)
  LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp
AS $$
DECLARE
  e audit_events;
  expected text;
  n integer := 0;
BEGIN
  SELECT x.prev_hash INTO expected FROM audit_anchors x WHERE x.chain = coalesce(audit_verify.tenant, '');
  expected := coalesce(expected, repeat('0', 64));
  FOR e IN SELECT * FROM audit_events a WHERE a.tenant_id IS NOT DISTINCT FROM audit_verify.tenant ORDER BY a.id LOOP
    IF e.prev_hash <> expected THEN
      RETURN QUERY SELECT false, n, e.id, 'prev_hash is not the hash of the chain''s previous event (an event removed or reordered)'::text;
      RETURN;
    END IF;
    IF audit_event_hash(e.prev_hash, e) <> e.hash THEN
      RETURN QUERY SELECT false, n, e.id, 'hash does not match the event''s contents (the event was changed)'::text;
      RETURN;
    END IF;
    expected := e.hash;
    n := n + 1;
  END LOOP;
  RETURN QUERY SELECT true, n, NULL::bigint, NULL::text;
END $$;

-- Tenant-service's retention purge: removes, oldest first, at most `max_rows` events older than
-- `cutoff`, and only a whole prefix of each chain (it stops at a chain's first event at or after
-- the cutoff, so no event in the middle of a chain goes); records each chain's new anchor.
-- Returns how many it removed (fewer than max_rows: nothing older is left).
CREATE FUNCTION audit_purge(cutoff timestamptz, max_rows integer) RETURNS integer
  LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp
AS $$
DECLARE
  c record;
  boundary bigint;
  removed integer := 0;
  last_id bigint;
  last_hash text;
  k integer;
BEGIN
  FOR c IN SELECT DISTINCT a.tenant_id FROM audit_events a WHERE a.at < audit_purge.cutoff LOOP
    EXIT WHEN removed >= audit_purge.max_rows;
    PERFORM pg_advisory_xact_lock(hashtextextended('audit_events:' || coalesce(c.tenant_id, ''), 0));
    SELECT min(a.id) INTO boundary FROM audit_events a WHERE a.tenant_id IS NOT DISTINCT FROM c.tenant_id AND a.at >= audit_purge.cutoff;
    WITH gone AS (
      DELETE FROM audit_events a WHERE a.id IN (
        SELECT g.id FROM audit_events g
         WHERE g.tenant_id IS NOT DISTINCT FROM c.tenant_id AND (boundary IS NULL OR g.id < boundary)
         ORDER BY g.id LIMIT audit_purge.max_rows - removed)
      RETURNING a.id, a.hash)
    SELECT count(*)::int, max(g.id), (array_agg(g.hash ORDER BY g.id DESC))[1] INTO k, last_id, last_hash FROM gone g;
    IF k > 0 THEN
      INSERT INTO audit_anchors AS x (chain, prev_hash, purged_through) VALUES (coalesce(c.tenant_id, ''), last_hash, last_id)
      ON CONFLICT (chain) DO UPDATE SET prev_hash = EXCLUDED.prev_hash, purged_through = EXCLUDED.purged_through, updated_at = now();
      removed := removed + k;
    END IF;
  END LOOP;
  RETURN removed;
END $$;

SELECT adopt_platform_functions(ARRAY[
  'audit_append(text, text, text, text, jsonb, jsonb, text, text)', 'audit_page(text, text, timestamptz, bigint, integer)',
  'audit_verify(text)', 'audit_purge(timestamptz, integer)'
]);

-- Down Migration
DROP FUNCTION audit_append(text, text, text, text, jsonb, jsonb, text, text), audit_page(text, text, timestamptz, bigint, integer),
  audit_verify(text), audit_purge(timestamptz, integer), audit_event_hash(text, audit_events);
DROP TABLE audit_events, audit_anchors;
DROP FUNCTION audit_events_append_only();
