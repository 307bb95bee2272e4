-- Up Migration
-- Row-level security without a platform switch (issue #9, kind 5, migration 1732060800020) for
-- what came with or after it: account_events and the held Meta changes of migration
-- 1732060800030, the tenant deletions of 1732060800009 (issue #10, kind 4), and any later policy
-- written with the old platform clause (see 0020).

-- Held changes (unclaimed_webhook_changes): a tenant's transaction sees, locks and deletes only
-- those for its own number or WABA (the replay); it cannot write one. Holding them, listing them
-- to admins and finding who claims them cross tenants: the platform functions below.
DROP POLICY claimant_or_platform ON unclaimed_webhook_changes;
CREATE POLICY claimant ON unclaimed_webhook_changes
  USING (EXISTS (SELECT 1 FROM tenant_credentials c
                  WHERE c.type = 'meta' AND c.tenant_id = NULLIF(current_setting('app.tenant_id', true), '')
                    AND (c.phone_number_id = unclaimed_webhook_changes.phone_number_id
                         OR c.waba_id = unclaimed_webhook_changes.waba_id)));
REVOKE INSERT ON unclaimed_webhook_changes FROM bridge_app;
REVOKE USAGE ON SEQUENCE unclaimed_webhook_changes_id_seq FROM bridge_app;

-- 0020's policy fix again: every remaining policy with the platform clause becomes the tenant's
-- rows only, under its name, command and roles (a table without tenant_id fails here, loudly).
SELECT make_policies_tenant_only();

-- What the functions below read and write, and nothing else. The claimant policy's sub-select
-- reads tenant_credentials.waba_id as whoever queries the table, bridge_platform included.
GRANT SELECT (waba_id) ON tenant_credentials TO bridge_platform;
GRANT SELECT (id, phone_number_id, waba_id, field, signed_by, payload, received_at),
      INSERT (phone_number_id, waba_id, field, signed_by, payload) ON unclaimed_webhook_changes TO bridge_platform;
GRANT USAGE ON SEQUENCE unclaimed_webhook_changes_id_seq TO bridge_platform;
CREATE POLICY platform_functions_read ON unclaimed_webhook_changes FOR SELECT TO bridge_platform USING (true);
CREATE POLICY platform_functions_hold ON unclaimed_webhook_changes FOR INSERT TO bridge_platform WITH CHECK (true);

-- Webhook-service: the tenants whose Meta credentials name each WABA (several may), by tenant id;
-- a WABA nobody names is absent.
CREATE FUNCTION tenants_for_wabas(waba_ids text[])
  RETURNS TABLE (waba_id text, tenant_id text)
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp
AS $$ SELECT c.waba_id, c.tenant_id FROM tenant_credentials c
       WHERE c.type = 'meta' AND c.waba_id = ANY (tenants_for_wabas.waba_ids) ORDER BY c.tenant_id $$;

-- Webhook-service: the tenants that now own the number or WABA of some held change (the replay's
-- candidates; each then replays in its own transaction, which sees only its changes).
CREATE FUNCTION unclaimed_change_claimants() RETURNS SETOF text
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp
AS $$ SELECT DISTINCT c.tenant_id FROM unclaimed_webhook_changes u
        JOIN tenant_credentials c ON c.type = 'meta' AND (c.phone_number_id = u.phone_number_id OR c.waba_id = u.waba_id)
       ORDER BY c.tenant_id $$;

-- Webhook-service: holds authentic changes nobody owns, in the order given. `changes`: a JSON
-- array of {n, pnid, waba_id, field, payload} (n: the order); `signed_by`: 'platform' or the SHA-256 (hex) of the
-- tenant app secret that verified them (the table's CHECK refuses anything else). A change held
-- already (same payload) is held once. Returns how many were new.
CREATE FUNCTION hold_unclaimed_changes(signed_by text, changes jsonb) RETURNS integer
  LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp
AS $$
  WITH held AS (
    INSERT INTO unclaimed_webhook_changes (phone_number_id, waba_id, field, signed_by, payload)
    SELECT x.pnid, x.waba_id, x.field, hold_unclaimed_changes.signed_by, x.payload
      FROM jsonb_to_recordset(hold_unclaimed_changes.changes) AS x(n int, pnid text, waba_id text, field text, payload jsonb)
     ORDER BY x.n
    ON CONFLICT DO NOTHING
    RETURNING 1
  )
  SELECT count(*)::int FROM held
$$;

-- Tenant-service, GET /unclaimed-changes: the held changes after id `after` (NULL: from the
-- first), of one number if `phone_number` is not NULL, at most `page_size`, oldest first.
CREATE FUNCTION unclaimed_changes_page(after bigint, page_size integer, phone_number text)
  RETURNS TABLE (id bigint, phone_number_id text, waba_id text, field text, signed_by text, payload jsonb, received_at timestamptz)
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp
AS $$ SELECT u.id, u.phone_number_id, u.waba_id, u.field, u.signed_by, u.payload, u.received_at FROM unclaimed_webhook_changes u
       WHERE (unclaimed_changes_page.after IS NULL OR u.id > unclaimed_changes_page.after)
         AND (unclaimed_changes_page.phone_number IS NULL OR u.phone_number_id = unclaimed_changes_page.phone_number)
       ORDER BY u.id LIMIT unclaimed_changes_page.page_size $$;

-- ---- tenant deletion (migration 1732060800009): the purge's queue of deletions ----

GRANT SELECT (tenant_id, state, requested_at, locked_until), UPDATE (locked_by, locked_until, updated_at) ON tenant_deletions TO bridge_platform;
CREATE POLICY platform_functions_read ON tenant_deletions FOR SELECT TO bridge_platform USING (true);
CREATE POLICY platform_functions_write ON tenant_deletions FOR UPDATE TO bridge_platform USING (true) WITH CHECK (true);

-- Tenant-service's purge: leases the oldest deletion nobody is working on (never claimed,
-- released, or its lease run out: its replica died) to `worker` for `lease_ms`; its tenant id, or
-- NULL when none is waiting. The purge itself then works in the tenant's own transactions.
CREATE FUNCTION tenant_deletion_claim(worker text, lease_ms integer) RETURNS text
  LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp
AS $$ UPDATE tenant_deletions d
         SET locked_by = tenant_deletion_claim.worker, locked_until = now() + tenant_deletion_claim.lease_ms * interval '1 millisecond', updated_at = now()
       WHERE d.tenant_id = (
         SELECT w.tenant_id FROM tenant_deletions w
          WHERE w.state = 'purging' AND (w.locked_until IS NULL OR w.locked_until < now())
          ORDER BY w.requested_at LIMIT 1 FOR UPDATE SKIP LOCKED)
      RETURNING d.tenant_id $$;

SELECT adopt_platform_functions(ARRAY[
    'tenants_for_wabas(text[])', 'unclaimed_change_claimants()', 'hold_unclaimed_changes(text, jsonb)',
    'unclaimed_changes_page(bigint, integer, text)', 'tenant_deletion_claim(text, integer)'
]);

-- Down Migration
DROP FUNCTION tenants_for_wabas(text[]), unclaimed_change_claimants(), hold_unclaimed_changes(text, jsonb),
  unclaimed_changes_page(bigint, integer, text), tenant_deletion_claim(text, integer);
DROP POLICY platform_functions_read ON tenant_deletions;
DROP POLICY platform_functions_write ON tenant_deletions;
REVOKE ALL ON tenant_deletions FROM bridge_platform;
DROP POLICY platform_functions_read ON unclaimed_webhook_changes;
DROP POLICY platform_functions_hold ON unclaimed_webhook_changes;
REVOKE ALL ON unclaimed_webhook_changes FROM bridge_platform;
REVOKE ALL ON SEQUENCE unclaimed_webhook_changes_id_seq FROM bridge_platform;
REVOKE SELECT (waba_id) ON tenant_credentials FROM bridge_platform;
-- The tenant policies stay strict (migration 0020's down brings the platform switch back).
DROP POLICY claimant ON unclaimed_webhook_changes;
CREATE POLICY claimant_or_platform ON unclaimed_webhook_changes
  USING (current_setting('app.scope', true) = 'platform'
         OR EXISTS (SELECT 1 FROM tenant_credentials c
                     WHERE c.type = 'meta' AND c.tenant_id = NULLIF(current_setting('app.tenant_id', true), '')
                       AND (c.phone_number_id = unclaimed_webhook_changes.phone_number_id
                            OR c.waba_id = unclaimed_webhook_changes.waba_id)))
  WITH CHECK (current_setting('app.scope', true) = 'platform');
GRANT INSERT ON unclaimed_webhook_changes TO bridge_app;
GRANT USAGE ON SEQUENCE unclaimed_webhook_changes_id_seq TO bridge_app;
