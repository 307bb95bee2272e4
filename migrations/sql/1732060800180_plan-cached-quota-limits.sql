-- Up Migration
-- The message path's cost (issue #15). tenant_quota_limits runs for every stored message (through
-- count_usage → check_quota_thresholds → tenant_quota_use) and for every agent reply's delivery
-- (findAgentReply). As a LANGUAGE sql function with a SET clause PostgreSQL can neither inline it
-- nor keep its plan: it parsed and planned its join on every call (~0.5 ms of the server's CPU per
-- stored message, measured with pg_stat_statements.track_planning in the bench). The same body in
-- PL/pgSQL keeps its plan for the session. Same name, arguments, result and privileges.
CREATE OR REPLACE FUNCTION tenant_quota_limits(p_tenant_id text)
  RETURNS TABLE (plan text, hard_limit text, messages_per_day bigint, messages_per_month bigint, conversations_per_month bigint, api_requests_per_minute integer)
  LANGUAGE plpgsql STABLE SET search_path = pg_catalog, public, pg_temp
AS $$
BEGIN
  RETURN QUERY
  SELECT p.name,
         CASE WHEN t.quota_overrides ? 'hardLimit' THEN t.quota_overrides->>'hardLimit' ELSE p.hard_limit END,
         CASE WHEN t.quota_overrides ? 'messagesPerDay' THEN (t.quota_overrides->>'messagesPerDay')::bigint ELSE p.messages_per_day END,
         CASE WHEN t.quota_overrides ? 'messagesPerMonth' THEN (t.quota_overrides->>'messagesPerMonth')::bigint ELSE p.messages_per_month END,
         CASE WHEN t.quota_overrides ? 'conversationsPerMonth' THEN (t.quota_overrides->>'conversationsPerMonth')::bigint ELSE p.conversations_per_month END,
         CASE WHEN t.quota_overrides ? 'apiRequestsPerMinute' THEN (t.quota_overrides->>'apiRequestsPerMinute')::integer ELSE p.api_requests_per_minute END
    FROM tenants t JOIN plans p ON p.name = t.plan
   WHERE t.tenant_id = p_tenant_id;
END $$;

-- Down Migration
CREATE OR REPLACE FUNCTION tenant_quota_limits(p_tenant_id text)
  RETURNS TABLE (plan text, hard_limit text, messages_per_day bigint, messages_per_month bigint, conversations_per_month bigint, api_requests_per_minute integer)
  LANGUAGE sql STABLE SET search_path = pg_catalog, public, pg_temp
AS $$
  SELECT p.name,
         CASE WHEN o ? 'hardLimit' THEN o->>'hardLimit' ELSE p.hard_limit END,
         CASE WHEN o ? 'messagesPerDay' THEN (o->>'messagesPerDay')::bigint ELSE p.messages_per_day END,
         CASE WHEN o ? 'messagesPerMonth' THEN (o->>'messagesPerMonth')::bigint ELSE p.messages_per_month END,
         CASE WHEN o ? 'conversationsPerMonth' THEN (o->>'conversationsPerMonth')::bigint ELSE p.conversations_per_month END,
         CASE WHEN o ? 'apiRequestsPerMinute' THEN (o->>'apiRequestsPerMinute')::integer ELSE p.api_requests_per_minute END
    FROM tenants t JOIN plans p ON p.name = t.plan, LATERAL (SELECT t.quota_overrides AS o) x
   WHERE t.tenant_id = p_tenant_id
$$;
