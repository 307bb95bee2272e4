-- Up Migration
-- Credential health (issue #13): when Meta answers 190 (token expired or revoked) or Genesys
-- refuses a tenant's OAuth client, that credential is marked `invalid` (why and since when), and
-- the tenant's deliveries that need it are held: parked, not failing, until the credential is
-- replaced (or a live verify finds it good again), then released in their lanes' order.
--
-- tenant_credentials: `status` ('valid' until a provider refuses it), the provider's reason and
-- the time. Storing a credential (insert or replace) makes it 'valid' again. `verified_at`: the
-- last live check that found it good (POST /tenants/:id/credentials/:type/verify);
-- `restored_at`: the last such check that made an invalid one valid again.
ALTER TABLE tenant_credentials
  ADD COLUMN status text NOT NULL DEFAULT 'valid' CHECK (status IN ('valid', 'invalid')),
  ADD COLUMN invalid_reason text CHECK (char_length(invalid_reason) <= 1000),
  ADD COLUMN invalid_at timestamptz,
  ADD COLUMN verified_at timestamptz,
  ADD COLUMN restored_at timestamptz,
  ADD CONSTRAINT tenant_credentials_invalid_has_reason CHECK ((status = 'invalid') = (invalid_at IS NOT NULL));
-- The claim asks once per call whether any credential is invalid at all: this index answers it.
CREATE INDEX tenant_credentials_invalid_idx ON tenant_credentials (tenant_id, type) WHERE status = 'invalid';

-- Which credential each job kind calls with: Meta's for what goes to WhatsApp, Genesys's for what
-- goes to Genesys. Its TypeScript twin is JOB_CREDENTIAL (shared/src/outbox/kinds.ts), checked
-- against this one by a test. A kind not listed needs no credential and is never held.
CREATE FUNCTION outbox_kind_credential(kind text) RETURNS text
  LANGUAGE sql IMMUTABLE PARALLEL SAFE SET search_path = pg_catalog
AS $$ SELECT CASE kind
         WHEN 'to_whatsapp_message' THEN 'meta'
         WHEN 'to_whatsapp_signal' THEN 'meta'
         WHEN 'to_genesys_message' THEN 'genesys'
         WHEN 'to_genesys_receipt' THEN 'genesys'
         WHEN 'to_genesys_agentless' THEN 'genesys'
       END $$;
GRANT EXECUTE ON FUNCTION outbox_kind_credential(text) TO bridge_app, bridge_platform;

-- outbox: `held_at`, set while the job waits for its tenant's credential (never claimed then);
-- `held_ms`, how long it has waited so in all, which extends its retry budget (a job's age
-- budget counts from created_at + held_ms): a wait for an admin uses none of it.
ALTER TABLE outbox
  ADD COLUMN held_at timestamptz,
  ADD COLUMN held_ms bigint NOT NULL DEFAULT 0 CHECK (held_ms >= 0);
GRANT SELECT (held_at, held_ms) ON outbox TO bridge_platform;
GRANT SELECT (status) ON tenant_credentials TO bridge_platform;

-- The claim walks due jobs that are not held: held ones leave its index (however many pile up
-- while an admin is away, the claim never steps over them). The tenant's held jobs, found again
-- when the credential is replaced, by their own small index.
CREATE INDEX outbox_due_unheld_idx ON outbox (next_attempt_at, id) WHERE state = 'pending' AND held_at IS NULL;
DROP INDEX outbox_due_idx;
CREATE INDEX outbox_held_idx ON outbox (tenant_id, kind) WHERE held_at IS NOT NULL;

-- A job queued while its credential is invalid is held from the start: once per inserting
-- statement (not per row), by the inserting role under its tenant scope. While no credential of
-- the tenant is invalid (almost always), that is one probe of an empty partial index.
CREATE FUNCTION outbox_hold_if_credential_invalid() RETURNS trigger
  LANGUAGE plpgsql SET search_path = pg_catalog, public, pg_temp
AS $$
BEGIN
  IF EXISTS (SELECT 1 FROM tenant_credentials c WHERE c.status = 'invalid') THEN
    UPDATE outbox o SET held_at = now()
      FROM queued q JOIN tenant_credentials c
        ON c.tenant_id = q.tenant_id AND c.type = outbox_kind_credential(q.kind) AND c.status = 'invalid'
     WHERE o.tenant_id = q.tenant_id AND o.id = q.id AND o.held_at IS NULL AND o.state = 'pending';
  END IF;
  RETURN NULL;
END $$;
CREATE TRIGGER outbox_hold_if_credential_invalid AFTER INSERT ON outbox
  REFERENCING NEW TABLE AS queued FOR EACH STATEMENT EXECUTE FUNCTION outbox_hold_if_credential_invalid();

-- outbox_claim (as migration 0060 left it): skips held jobs (by the index above), and any job
-- whose tenant's credential for its kind is invalid but that is not held (queued by a transaction
-- that raced the one marking it): the invalid credentials are read once per call (a partial
-- index, empty but while a tenant's credential is refused), each candidate compared in memory.
-- Returns `held_ms` for the budget.
DROP FUNCTION outbox_claim(integer, integer, text[]);
CREATE FUNCTION outbox_claim(max_jobs integer, lease_ms integer, skip_tenants text[])
  RETURNS TABLE (tenant_id text, id text, kind text, lane text, message_id text, event_id text,
                 payload jsonb, attempts integer, paced integer, held_ms bigint, created_at timestamptz, uncertain boolean)
  LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp SET enable_sort = off
AS $$
#variable_conflict use_column
DECLARE
  -- '<tenant>/<type>' of every invalid credential: almost always none (one probe of a partial index).
  invalid text[] := ARRAY(SELECT c.tenant_id || '/' || c.type FROM tenant_credentials c WHERE c.status = 'invalid');
BEGIN
  RETURN QUERY
  WITH due AS (
         SELECT o.tenant_id, o.id, o.message_id, o.locked_until IS NOT NULL AS uncertain FROM outbox o
          WHERE o.state = 'pending' AND o.held_at IS NULL AND o.next_attempt_at <= now()
            AND (o.locked_until IS NULL OR o.locked_until < now())
            AND o.tenant_id <> ALL(outbox_claim.skip_tenants)
            AND (cardinality(invalid) = 0 OR (o.tenant_id || '/' || coalesce(outbox_kind_credential(o.kind), '-')) <> ALL(invalid))
            -- the head of its lane: nothing earlier pending, held or not (an index range probe) ...
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
       RETURNING o.tenant_id, o.id::text, o.kind, o.lane, o.message_id::text, o.event_id::text, o.payload, o.attempts, o.paced, o.held_ms, o.created_at, due.uncertain;
END $$;
SELECT adopt_platform_functions(ARRAY['outbox_claim(integer, integer, text[])']);

-- Down Migration
DROP FUNCTION outbox_claim(integer, integer, text[]);
CREATE FUNCTION outbox_claim(max_jobs integer, lease_ms integer, skip_tenants text[])
  RETURNS TABLE (tenant_id text, id text, kind text, lane text, message_id text, event_id text,
                 payload jsonb, attempts integer, paced integer, created_at timestamptz, uncertain boolean)
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
            AND NOT EXISTS (
              SELECT 1 FROM outbox p
               WHERE p.tenant_id = o.tenant_id AND p.lane = o.lane AND p.state = 'pending'
                 AND (p.ordering, p.id) < (o.ordering, o.id))
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
       RETURNING o.tenant_id, o.id::text, o.kind, o.lane, o.message_id::text, o.event_id::text, o.payload, o.attempts, o.paced, o.created_at, due.uncertain;
END $$;
SELECT adopt_platform_functions(ARRAY['outbox_claim(integer, integer, text[])']);
DROP TRIGGER outbox_hold_if_credential_invalid ON outbox;
DROP FUNCTION outbox_hold_if_credential_invalid();
CREATE INDEX outbox_due_idx ON outbox (next_attempt_at, id) WHERE state = 'pending';
DROP INDEX outbox_due_unheld_idx;
DROP INDEX outbox_held_idx;
REVOKE SELECT (status) ON tenant_credentials FROM bridge_platform;
ALTER TABLE outbox DROP COLUMN held_ms, DROP COLUMN held_at;
DROP FUNCTION outbox_kind_credential(text);
DROP INDEX tenant_credentials_invalid_idx;
ALTER TABLE tenant_credentials DROP CONSTRAINT tenant_credentials_invalid_has_reason,
  DROP COLUMN restored_at, DROP COLUMN verified_at, DROP COLUMN invalid_at, DROP COLUMN invalid_reason, DROP COLUMN status;
