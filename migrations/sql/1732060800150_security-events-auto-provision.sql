-- Up Migration
-- Security events in the audit trail, and automatic provisioning (issue #13).
--
-- Security events (actions security.*) are written by services that serve requests before, or
-- across, tenants' units of work (the gateway's key checks, webhook-service's signatures, the
-- gateway's last-use flush): audit_append_security() appends a batch of them, each to its
-- tenant's chain (or the platform's), from no tenant's transaction, and only security.* actions
-- (a caller cannot write an admin's change into a tenant's trail this way). Both it and
-- audit_append go through audit_chain_append, which only the platform functions may call.
--
-- Keys remember the addresses they were used from (known_ips, the latest 20): the last-use flush
-- (record_api_key_use) appends security.key_new_ip to the key's tenant's chain when a key is seen
-- from an address not among them.
--
-- message_of_another_tenant() tells state-manager, never its caller, that a message id it was
-- asked for belongs to another tenant (security.foreign_object).
--
-- Automatic provisioning: a tenant may be `pending` (created by webhook-service for a business
-- number nobody owned, AUTO_PROVISION=true), and remembers that number
-- (provisioned_phone_number_id, unique). It owns the number (provisioned_number_tenants, asked
-- with the routing lookup; the held changes' claim) unless some tenant's Meta credentials name
-- it; while pending its Meta changes are held (unclaimed_webhook_changes) and replayed once active.

ALTER TABLE tenants DROP CONSTRAINT tenants_status_check;
ALTER TABLE tenants ADD CONSTRAINT tenants_status_check CHECK (status IN ('active', 'suspended', 'deleting', 'pending'));
ALTER TABLE tenants ADD COLUMN provisioned_phone_number_id text UNIQUE CHECK (provisioned_phone_number_id ~ '^[0-9]{1,30}$');

ALTER TABLE tenant_api_keys ADD COLUMN known_ips text[] NOT NULL DEFAULT '{}';
UPDATE tenant_api_keys SET known_ips = ARRAY[last_used_ip] WHERE last_used_ip IS NOT NULL;
GRANT SELECT (known_ips), UPDATE (known_ips) ON tenant_api_keys TO bridge_platform;

-- ---- the audit chain's one writer ----

-- Appends an event to its chain (tenant_id NULL: the platform's) without asking whose unit of
-- work this is: executable only by the platform functions (its owner's), never by bridge_app.
CREATE FUNCTION audit_chain_append(tenant_id text, actor text, action text, target text, before jsonb, after jsonb, request_id text, client_ip text)
  RETURNS bigint
  LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, public, pg_temp
AS $$
DECLARE
  e audit_events;
  head text;
BEGIN
  PERFORM pg_advisory_xact_lock(hashtextextended('audit_events:' || coalesce(audit_chain_append.tenant_id, ''), 0));
  IF audit_chain_append.tenant_id IS NULL THEN
    SELECT a.hash INTO head FROM audit_events a WHERE a.tenant_id IS NULL ORDER BY a.id DESC LIMIT 1;
  ELSE
    SELECT a.hash INTO head FROM audit_events a WHERE a.tenant_id = audit_chain_append.tenant_id ORDER BY a.id DESC LIMIT 1;
  END IF;
  IF head IS NULL THEN
    SELECT x.prev_hash INTO head FROM audit_anchors x WHERE x.chain = coalesce(audit_chain_append.tenant_id, '');
  END IF;
  e.id := nextval('audit_events_id_seq');
  e.tenant_id := audit_chain_append.tenant_id;
  e.actor := audit_chain_append.actor;
  e.action := audit_chain_append.action;
  e.target := audit_chain_append.target;
  e.before := audit_chain_append.before;
  e.after := audit_chain_append.after;
  e.request_id := audit_chain_append.request_id;
  e.client_ip := audit_chain_append.client_ip;
  e.at := clock_timestamp();
  e.prev_hash := coalesce(head, repeat('0', 64));
  e.hash := audit_event_hash(e.prev_hash, e);
  INSERT INTO audit_events VALUES (e.*);
  RETURN e.id;
END $$;
ALTER FUNCTION audit_chain_append(text, text, text, text, jsonb, jsonb, text, text) OWNER TO bridge_platform;
REVOKE ALL ON FUNCTION audit_chain_append(text, text, text, text, jsonb, jsonb, text, text) FROM PUBLIC;

-- As before (migration 1732060800110): a tenant's event only in its unit of work.
CREATE OR REPLACE FUNCTION audit_append(tenant_id text, actor text, action text, target text, before jsonb, after jsonb, request_id text, client_ip text)
  RETURNS bigint
  LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp
AS $$
BEGIN
  IF audit_append.tenant_id IS NOT NULL AND audit_append.tenant_id IS DISTINCT FROM NULLIF(current_setting('app.tenant_id', true), '') THEN
    RAISE EXCEPTION 'an audit event of tenant % is written only in its unit of work', audit_append.tenant_id USING ERRCODE = '42501';
  END IF;
  RETURN audit_chain_append(audit_append.tenant_id, audit_append.actor, audit_append.action, audit_append.target,
                            audit_append.before, audit_append.after, audit_append.request_id, audit_append.client_ip);
END $$;

-- Gateway, webhook-service, state-manager: appends security events, each to its tenant's chain
-- (tenantId null: the platform's), from any transaction. `events`: a JSON array of {tenantId,
-- actor, action, target, after, requestId, clientIp}; every action must start with 'security.'
-- (else nothing is written). Chains are locked in one order (platform first, then by tenant id),
-- so two batches never wait for each other in a cycle. Returns how many were appended.
CREATE FUNCTION audit_append_security(events jsonb) RETURNS integer
  LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp
AS $$
DECLARE
  x record;
  n integer := 0;
BEGIN
  IF EXISTS (SELECT 1 FROM jsonb_array_elements(audit_append_security.events) v WHERE coalesce(v->>'action', '') NOT LIKE 'security.%') THEN
    RAISE EXCEPTION 'audit_append_security writes security.* events only' USING ERRCODE = '42501';
  END IF;
  FOR x IN SELECT v->>'tenantId' AS tenant_id, v->>'actor' AS actor, v->>'action' AS action, v->>'target' AS target, v->'after' AS after,
                  v->>'requestId' AS request_id, v->>'clientIp' AS client_ip
             FROM jsonb_array_elements(audit_append_security.events) WITH ORDINALITY AS t(v, i)
            ORDER BY coalesce(v->>'tenantId', ''), i LOOP
    PERFORM audit_chain_append(x.tenant_id, coalesce(x.actor, 'unauthenticated'), x.action, x.target, NULL,
                               CASE WHEN x.after IS NULL OR x.after = 'null'::jsonb THEN NULL ELSE x.after END, x.request_id, x.client_ip);
    n := n + 1;
  END LOOP;
  RETURN n;
END $$;

-- ---- keys seen from a new address ----

-- Gateway (the last-use flush, gateway/src/last-used.ts): as before (migration 1732060800100),
-- and a key used from an address not among its known_ips gets it added (the latest 20 kept) and a
-- security.key_new_ip event in its tenant's chain (its first use too: firstUse true). The keys'
-- rows are locked in id order, so concurrent flushes of two gateways record an address once.
-- Returns how many such events it wrote.
DROP FUNCTION record_api_key_use(uuid[], timestamptz[], text[]);
CREATE FUNCTION record_api_key_use(key_ids uuid[], used_at timestamptz[], used_ip text[] DEFAULT NULL) RETURNS integer
  LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp
AS $$
DECLARE
  k record;
  news integer := 0;
BEGIN
  -- Every key's row first, in id order, before any chain's lock: a transaction that holds a key's
  -- row and then appends to its tenant's chain (a revocation) never waits for us in a cycle.
  PERFORM 1 FROM tenant_api_keys a WHERE a.id = ANY (record_api_key_use.key_ids) ORDER BY a.id FOR UPDATE;
  FOR k IN SELECT a.id, a.tenant_id, a.last_used_at, a.last_used_ip, a.known_ips, v.used_at, v.used_ip
             FROM tenant_api_keys a
             JOIN unnest(record_api_key_use.key_ids, record_api_key_use.used_at,
                         COALESCE(record_api_key_use.used_ip, array_fill(NULL::text, ARRAY[cardinality(record_api_key_use.key_ids)])))
                  AS v(id, used_at, used_ip) ON v.id = a.id
            ORDER BY a.id LOOP
    UPDATE tenant_api_keys a
       SET last_used_ip = CASE WHEN k.last_used_at IS NULL OR LEAST(k.used_at, now()) >= k.last_used_at
                               THEN COALESCE(k.used_ip, k.last_used_ip) ELSE k.last_used_ip END,
           last_used_at = GREATEST(k.last_used_at, LEAST(k.used_at, now())),
           known_ips = CASE WHEN k.used_ip IS NULL OR k.used_ip = ANY (k.known_ips) THEN k.known_ips
                            ELSE (ARRAY[k.used_ip] || k.known_ips)[1:20] END
     WHERE a.id = k.id;
    IF k.used_ip IS NOT NULL AND NOT (k.used_ip = ANY (k.known_ips)) THEN
      PERFORM audit_chain_append(k.tenant_id, 'key:' || k.id, 'security.key_new_ip', 'api_key:' || k.id, NULL,
                                 jsonb_build_object('ip', k.used_ip, 'previousIp', k.last_used_ip, 'firstUse', cardinality(k.known_ips) = 0,
                                                    'seenAt', to_char(LEAST(k.used_at, now()) AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')),
                                 NULL, k.used_ip);
      news := news + 1;
    END IF;
  END LOOP;
  RETURN news;
END $$;

-- ---- requests for another tenant's objects ----

-- State-manager, on a 404 for a message id: the tenant that owns message `message_id` when it is
-- not `tenant`, else NULL. For the audit trail only: the caller is answered 404 either way.
CREATE FUNCTION message_of_another_tenant(tenant text, message_id bigint) RETURNS text
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp
AS $$ SELECT m.tenant_id FROM message_tracking m
       WHERE m.id = message_of_another_tenant.message_id AND m.tenant_id <> message_of_another_tenant.tenant LIMIT 1 $$;
CREATE INDEX message_tracking_id_idx ON message_tracking (id);

-- ---- automatic provisioning ----

-- Webhook-service: the tenant provisioned for each of these business numbers (pending ones too:
-- their changes are held, not refused; not one being deleted); a number none was provisioned for
-- is absent. Routing asks it with tenants_by_phone_number_ids, in one statement, and the tenant
-- whose Meta credentials name a number comes first (webhook-service/src/store.ts).
CREATE FUNCTION provisioned_number_tenants(phone_number_ids text[])
  RETURNS TABLE (phone_number_id text, tenant_id text)
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp
AS $$ SELECT t.provisioned_phone_number_id, t.tenant_id FROM tenants t
       WHERE t.provisioned_phone_number_id = ANY (provisioned_number_tenants.phone_number_ids) AND t.status <> 'deleting' $$;

-- A tenant claims (sees, locks, deletes for its replay) the held changes for a number its Meta
-- credentials name, its WABA, or the number it was provisioned for.
DROP POLICY claimant ON unclaimed_webhook_changes;
CREATE POLICY claimant ON unclaimed_webhook_changes
  USING (EXISTS (SELECT 1 FROM tenant_credentials c
                  WHERE c.type = 'meta' AND c.tenant_id = NULLIF(current_setting('app.tenant_id', true), '')
                    AND (c.phone_number_id = unclaimed_webhook_changes.phone_number_id
                         OR c.waba_id = unclaimed_webhook_changes.waba_id))
         OR EXISTS (SELECT 1 FROM tenants t
                     WHERE t.tenant_id = NULLIF(current_setting('app.tenant_id', true), '')
                       AND t.provisioned_phone_number_id = unclaimed_webhook_changes.phone_number_id));

-- The replay's candidates: as before (migration 1732060800040), and active tenants provisioned
-- for a number some held change names.
CREATE OR REPLACE FUNCTION unclaimed_change_claimants() RETURNS SETOF text
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp
AS $$ SELECT tenant_id FROM (
        SELECT c.tenant_id FROM unclaimed_webhook_changes u
          JOIN tenant_credentials c ON c.type = 'meta' AND (c.phone_number_id = u.phone_number_id OR c.waba_id = u.waba_id)
        UNION
        SELECT t.tenant_id FROM unclaimed_webhook_changes u
          JOIN tenants t ON t.provisioned_phone_number_id = u.phone_number_id AND t.status = 'active') x
       ORDER BY tenant_id $$;

SELECT adopt_platform_functions(ARRAY[
  'audit_append(text, text, text, text, jsonb, jsonb, text, text)', 'audit_append_security(jsonb)',
  'record_api_key_use(uuid[], timestamptz[], text[])', 'message_of_another_tenant(text, bigint)',
  'provisioned_number_tenants(text[])', 'unclaimed_change_claimants()'
]);

-- Down Migration
DROP FUNCTION audit_append_security(jsonb), message_of_another_tenant(text, bigint);
DROP INDEX message_tracking_id_idx;
DROP FUNCTION record_api_key_use(uuid[], timestamptz[], text[]);
CREATE FUNCTION record_api_key_use(key_ids uuid[], used_at timestamptz[], used_ip text[] DEFAULT NULL) RETURNS void
  LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp
AS $$ UPDATE tenant_api_keys k
         SET last_used_ip = CASE WHEN k.last_used_at IS NULL OR LEAST(v.used_at, now()) >= k.last_used_at
                                 THEN COALESCE(v.used_ip, k.last_used_ip) ELSE k.last_used_ip END,
             last_used_at = GREATEST(k.last_used_at, LEAST(v.used_at, now()))
        FROM unnest(record_api_key_use.key_ids, record_api_key_use.used_at,
                    COALESCE(record_api_key_use.used_ip, array_fill(NULL::text, ARRAY[cardinality(record_api_key_use.key_ids)])))
             AS v(id, used_at, used_ip)
       WHERE k.id = v.id $$;
DROP FUNCTION provisioned_number_tenants(text[]);
CREATE OR REPLACE FUNCTION unclaimed_change_claimants() RETURNS SETOF text
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp
AS $$ SELECT DISTINCT c.tenant_id FROM unclaimed_webhook_changes u
        JOIN tenant_credentials c ON c.type = 'meta' AND (c.phone_number_id = u.phone_number_id OR c.waba_id = u.waba_id)
       ORDER BY c.tenant_id $$;
DROP POLICY claimant ON unclaimed_webhook_changes;
CREATE POLICY claimant ON unclaimed_webhook_changes
  USING (EXISTS (SELECT 1 FROM tenant_credentials c
                  WHERE c.type = 'meta' AND c.tenant_id = NULLIF(current_setting('app.tenant_id', true), '')
                    AND (c.phone_number_id = unclaimed_webhook_changes.phone_number_id
                         OR c.waba_id = unclaimed_webhook_changes.waba_id)));
CREATE OR REPLACE FUNCTION audit_append(tenant_id text, actor text, action text, target text, before jsonb, after jsonb, request_id text, client_ip text)
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
DROP FUNCTION audit_chain_append(text, text, text, text, jsonb, jsonb, text, text);
SELECT adopt_platform_functions(ARRAY[
  'audit_append(text, text, text, text, jsonb, jsonb, text, text)', 'record_api_key_use(uuid[], timestamptz[], text[])',
  'unclaimed_change_claimants()'
]);
REVOKE SELECT (known_ips), UPDATE (known_ips) ON tenant_api_keys FROM bridge_platform;
ALTER TABLE tenant_api_keys DROP COLUMN known_ips;
DELETE FROM tenants WHERE status = 'pending';
ALTER TABLE tenants DROP COLUMN provisioned_phone_number_id;
ALTER TABLE tenants DROP CONSTRAINT tenants_status_check;
ALTER TABLE tenants ADD CONSTRAINT tenants_status_check CHECK (status IN ('active', 'suspended', 'deleting'));
