-- Up Migration
-- Pacing (issue #12, part 4): an attempt a provider refused only because the recipient is being
-- written to too fast (Meta's pair rate limit, 131056) is not a failure. Its job waits the pacing
-- interval and is tried again, and `paced` counts such attempts, so that backoff after a real
-- failure counts failed attempts only (attempts - paced). `attempts` still counts every claim: it
-- stays the fencing token of every outcome write.
ALTER TABLE outbox ADD COLUMN paced integer NOT NULL DEFAULT 0 CHECK (paced >= 0);
GRANT SELECT (paced) ON outbox TO bridge_platform;

-- outbox_claim (migration 1732060800020) returns `paced` too; otherwise unchanged.
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
       RETURNING o.tenant_id, o.id::text, o.kind, o.lane, o.message_id::text, o.event_id::text, o.payload, o.attempts, o.paced, o.created_at, due.uncertain;
END $$;
SELECT adopt_platform_functions(ARRAY['outbox_claim(integer, integer, text[])']);

-- Down Migration
DROP FUNCTION outbox_claim(integer, integer, text[]);
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
       RETURNING o.tenant_id, o.id::text, o.kind, o.lane, o.message_id::text, o.event_id::text, o.payload, o.attempts, o.created_at, due.uncertain;
END $$;
SELECT adopt_platform_functions(ARRAY['outbox_claim(integer, integer, text[])']);
ALTER TABLE outbox DROP COLUMN paced;
