-- Up Migration
-- Plans and quotas (issue #13). Plans are data: each names its limits (NULL: unlimited) and what
-- is blocked once one is used up (hard_limit). A tenant's `plan` names one; its quota_overrides
-- replace any of the plan's limits for that tenant. Usage is counted per day and per month in the
-- statement that stores a message or creates a conversation (statement-level triggers over the
-- rows actually inserted: a redelivered webhook, ON CONFLICT DO NOTHING, counts nothing), and a
-- limit reaching 80% and 100% in its period raises a tenant notification once.

CREATE TABLE plans (
  name                     text PRIMARY KEY CHECK (name ~ '^[a-z0-9_-]{1,32}$'),
  description              text CHECK (char_length(description) <= 500),
  -- Messages (inbound, agent replies, proactive) per UTC day and per UTC calendar month; new
  -- conversations (customer mappings created) per month; NULL: unlimited.
  messages_per_day         bigint CHECK (messages_per_day > 0),
  messages_per_month       bigint CHECK (messages_per_month > 0),
  conversations_per_month  bigint CHECK (conversations_per_month > 0),
  -- The gateway's per-tenant rate limit (tenants.rate_limit follows it, unless overridden).
  api_requests_per_minute  integer NOT NULL CHECK (api_requests_per_minute BETWEEN 1 AND 1000000),
  -- Once a limit is used up: 'none' (warn only), 'block-api' (proactive messages and tenant API
  -- calls get 429 QUOTA_EXCEEDED), 'block-all' (and agent replies get a Failed receipt). A
  -- customer's message is never refused.
  hard_limit               text NOT NULL DEFAULT 'block-api' CHECK (hard_limit IN ('none', 'block-api', 'block-all')),
  created_at               timestamptz NOT NULL DEFAULT now(),
  updated_at               timestamptz NOT NULL DEFAULT now()
);
-- Platform data, not a tenant's: every service reads it, the admin API (tenant-service) writes it.
GRANT SELECT, INSERT, UPDATE ON plans TO bridge_app;

INSERT INTO plans (name, description, messages_per_day, messages_per_month, conversations_per_month, api_requests_per_minute, hard_limit) VALUES
  -- What every tenant had before plans existed: no message limits, 600 API requests a minute.
  ('standard', 'No message limits (the default before plans existed)', NULL, NULL, NULL, 600, 'none'),
  ('starter', 'Starter: 1,000 messages a month', 200, 1000, 250, 60, 'block-api'),
  ('professional', 'Professional: 10,000 messages a month', 2000, 10000, 2500, 600, 'block-api'),
  ('enterprise', 'Enterprise: unlimited', NULL, NULL, NULL, 6000, 'none');

-- Per-tenant overrides of the plan's limits: any of messagesPerDay, messagesPerMonth,
-- conversationsPerMonth (a number, or null: unlimited), apiRequestsPerMinute, hardLimit.
ALTER TABLE tenants ADD COLUMN quota_overrides jsonb NOT NULL DEFAULT '{}'::jsonb CHECK (jsonb_typeof(quota_overrides) = 'object');
-- A tenant whose rate limit was set apart from its plan's keeps it, as an override.
UPDATE tenants SET quota_overrides = jsonb_build_object('apiRequestsPerMinute', rate_limit) WHERE rate_limit <> 600;
-- Plans existing before this migration are kept as plans with no limits (as 'standard').
INSERT INTO plans (name, description, api_requests_per_minute, hard_limit)
SELECT DISTINCT t.plan, 'No message limits (a plan name in use before plans existed)', 600, 'none'
  FROM tenants t WHERE NOT EXISTS (SELECT 1 FROM plans p WHERE p.name = t.plan) AND t.plan ~ '^[a-z0-9_-]{1,32}$';
UPDATE tenants SET plan = 'standard' WHERE plan !~ '^[a-z0-9_-]{1,32}$';
ALTER TABLE tenants ADD CONSTRAINT tenants_plan_fkey FOREIGN KEY (plan) REFERENCES plans (name) ON UPDATE CASCADE;

-- tenants.rate_limit (what the gateway's tenant directory reads) follows the tenant's plan, or
-- its apiRequestsPerMinute override, whenever either changes.
CREATE FUNCTION tenant_rate_limit_from_plan() RETURNS trigger LANGUAGE plpgsql SET search_path = pg_catalog, public, pg_temp AS $$
BEGIN
  NEW.rate_limit := COALESCE((NEW.quota_overrides->>'apiRequestsPerMinute')::integer,
                             (SELECT p.api_requests_per_minute FROM plans p WHERE p.name = NEW.plan), NEW.rate_limit);
  RETURN NEW;
END $$;
CREATE TRIGGER tenants_rate_limit_from_plan BEFORE INSERT OR UPDATE OF plan, quota_overrides ON tenants
  FOR EACH ROW EXECUTE FUNCTION tenant_rate_limit_from_plan();

-- A plan's new rate limit, applied to its tenants without an override of their own, across
-- tenants (a platform function: bridge_platform may update only these two columns). Returns what
-- the tenant directory caches of each tenant changed, for tenant-service to announce.
GRANT SELECT ON plans TO bridge_platform;
GRANT UPDATE (rate_limit, updated_at) ON tenants TO bridge_platform;
CREATE POLICY platform_functions_rate_limit ON tenants FOR UPDATE TO bridge_platform USING (true) WITH CHECK (true);
CREATE FUNCTION plan_apply_rate_limit(p_plan text)
  RETURNS TABLE (tenant_id text, status text, rate_limit integer, subdomain text, suspended_reason text)
  LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp
AS $$ UPDATE tenants t SET rate_limit = p.api_requests_per_minute, updated_at = now()
        FROM plans p
       WHERE p.name = p_plan AND t.plan = p_plan AND NOT t.quota_overrides ? 'apiRequestsPerMinute'
         AND t.status <> 'deleting' AND t.rate_limit <> p.api_requests_per_minute
   RETURNING t.tenant_id, t.status, t.rate_limit, t.subdomain, t.suspended_reason $$;
SELECT adopt_platform_functions(ARRAY['plan_apply_rate_limit(text)']);

-- The counters: per UTC day (tenant_usage_daily, already read by GET /state/stats) and per UTC
-- month, each in eight shards (a transaction adds to the shard of its transaction id, so
-- concurrent writers of a busy tenant rarely wait on one another; readers sum the shards).
-- outbound counts every outbound message, proactive ones included; proactive counts those alone.
ALTER TABLE tenant_usage_daily
  ADD COLUMN proactive bigint NOT NULL DEFAULT 0,
  ADD COLUMN conversations bigint NOT NULL DEFAULT 0;
CREATE TABLE tenant_usage_monthly (
  tenant_id      text NOT NULL REFERENCES tenants (tenant_id) ON DELETE CASCADE,
  -- The month's first day (UTC).
  month          date NOT NULL CHECK (extract(day FROM month) = 1),
  shard          smallint NOT NULL CHECK (shard BETWEEN 0 AND 7),
  inbound        bigint NOT NULL DEFAULT 0,
  outbound       bigint NOT NULL DEFAULT 0,
  proactive      bigint NOT NULL DEFAULT 0,
  conversations  bigint NOT NULL DEFAULT 0,
  PRIMARY KEY (tenant_id, month, shard)
);
SELECT enable_tenant_isolation('tenant_usage_monthly');
INSERT INTO tenant_usage_monthly (tenant_id, month, shard, inbound, outbound)
SELECT tenant_id, date_trunc('month', day)::date, 0, sum(inbound), sum(outbound) FROM tenant_usage_daily GROUP BY 1, 2;

-- The tenant's effective limits: its overrides, else its plan's.
CREATE FUNCTION tenant_quota_limits(p_tenant_id text)
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

-- Each limited quota of the tenant in the current periods (UTC): its name, period, use, limit and
-- when the period ends. Unlimited quotas are left out; a tenant with none costs one lookup.
CREATE FUNCTION tenant_quota_use(p_tenant_id text)
  RETURNS TABLE (quota text, period text, period_key text, used bigint, lim bigint, resets_at timestamptz, hard_limit text)
  LANGUAGE plpgsql STABLE SET search_path = pg_catalog, public, pg_temp
AS $$
DECLARE
  l record;
  today date := (now() AT TIME ZONE 'UTC')::date;
  this_month date := date_trunc('month', now() AT TIME ZONE 'UTC')::date;
  m record;
BEGIN
  SELECT * INTO l FROM tenant_quota_limits(p_tenant_id);
  IF NOT FOUND OR (l.messages_per_day IS NULL AND l.messages_per_month IS NULL AND l.conversations_per_month IS NULL) THEN
    RETURN;
  END IF;
  IF l.messages_per_day IS NOT NULL THEN
    quota := 'messagesPerDay'; period := 'day'; period_key := to_char(today, 'YYYY-MM-DD'); lim := l.messages_per_day; hard_limit := l.hard_limit;
    resets_at := (today + 1)::timestamp AT TIME ZONE 'UTC';
    SELECT COALESCE(sum(d.inbound + d.outbound), 0) INTO used FROM tenant_usage_daily d WHERE d.tenant_id = p_tenant_id AND d.day = today;
    RETURN NEXT;
  END IF;
  IF l.messages_per_month IS NOT NULL OR l.conversations_per_month IS NOT NULL THEN
    SELECT COALESCE(sum(u.inbound + u.outbound), 0) AS messages, COALESCE(sum(u.conversations), 0) AS conversations INTO m
      FROM tenant_usage_monthly u WHERE u.tenant_id = p_tenant_id AND u.month = this_month;
    period := 'month'; period_key := to_char(this_month, 'YYYY-MM'); hard_limit := l.hard_limit;
    resets_at := (this_month + interval '1 month')::timestamp AT TIME ZONE 'UTC';
    IF l.messages_per_month IS NOT NULL THEN
      quota := 'messagesPerMonth'; lim := l.messages_per_month; used := m.messages;
      RETURN NEXT;
    END IF;
    IF l.conversations_per_month IS NOT NULL THEN
      quota := 'conversationsPerMonth'; lim := l.conversations_per_month; used := m.conversations;
      RETURN NEXT;
    END IF;
  END IF;
END $$;

-- Raises the 80% and 100% notifications of each of the tenant's quotas its use has reached in
-- the current period, each once (the unique (tenant, kind, key) of tenant_notifications; the
-- existence check first keeps a tenant past 80% from trying an insert per message).
CREATE FUNCTION check_quota_thresholds(p_tenant_id text) RETURNS void
  LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, public, pg_temp
AS $$
DECLARE
  q record;
  pct integer;
  n_kind text;
  n_key text;
  what text;
BEGIN
  FOR q IN SELECT * FROM tenant_quota_use(p_tenant_id) LOOP
    FOREACH pct IN ARRAY ARRAY[80, 100] LOOP
      CONTINUE WHEN q.used * 100 < q.lim * pct;
      n_kind := CASE pct WHEN 100 THEN 'quota.exceeded' ELSE 'quota.warning' END;
      n_key := q.quota || ':' || q.period_key || ':' || pct;
      CONTINUE WHEN EXISTS (SELECT 1 FROM tenant_notifications n WHERE n.tenant_id = p_tenant_id AND n.kind = n_kind AND n.key = n_key);
      what := CASE q.quota WHEN 'messagesPerDay' THEN 'messages today' WHEN 'messagesPerMonth' THEN 'messages this month' ELSE 'new conversations this month' END;
      PERFORM raise_tenant_notification(
        p_tenant_id, n_kind, n_key, CASE pct WHEN 100 THEN 'critical' ELSE 'warning' END,
        format('%s%% of the plan''s %s used (%s of %s).%s', pct, what, q.used, q.lim,
               CASE WHEN pct < 100 THEN '' WHEN q.hard_limit = 'none' THEN ' Further use is counted as overage.'
                    WHEN q.hard_limit = 'block-all' THEN ' Proactive messages, API calls and agent replies are refused until ' || to_char(q.resets_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI') || ' UTC; customers'' messages are still delivered (overage).'
                    ELSE ' Proactive messages and API calls are refused until ' || to_char(q.resets_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI') || ' UTC; customers'' messages and agent replies are still delivered (overage).' END),
        jsonb_build_object('quota', q.quota, 'period', q.period, 'periodKey', q.period_key, 'threshold', pct, 'used', q.used, 'limit', q.lim,
                           'resetsAt', to_char(q.resets_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'), 'hardLimit', q.hard_limit));
    END LOOP;
  END LOOP;
END $$;

-- Adds to the day's and the month's counters of `p_tenant_id` (one statement, the shard of this
-- transaction), then checks its thresholds.
CREATE FUNCTION count_usage(p_tenant_id text, p_inbound bigint, p_outbound bigint, p_proactive bigint, p_conversations bigint) RETURNS void
  LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, public, pg_temp
AS $$
DECLARE
  today date := (now() AT TIME ZONE 'UTC')::date;
  -- One shard per transaction: its statements lock the same two rows, always day then month.
  s smallint := (txid_current() % 8)::smallint;
BEGIN
  WITH day AS (
    INSERT INTO tenant_usage_daily AS u (tenant_id, day, shard, inbound, outbound, proactive, conversations)
    VALUES (p_tenant_id, today, s, p_inbound, p_outbound, p_proactive, p_conversations)
    ON CONFLICT (tenant_id, day, shard) DO UPDATE
      SET inbound = u.inbound + EXCLUDED.inbound, outbound = u.outbound + EXCLUDED.outbound,
          proactive = u.proactive + EXCLUDED.proactive, conversations = u.conversations + EXCLUDED.conversations
    RETURNING 1
  )
  INSERT INTO tenant_usage_monthly AS u (tenant_id, month, shard, inbound, outbound, proactive, conversations)
  SELECT p_tenant_id, date_trunc('month', today)::date, s, p_inbound, p_outbound, p_proactive, p_conversations FROM day
  ON CONFLICT (tenant_id, month, shard) DO UPDATE
    SET inbound = u.inbound + EXCLUDED.inbound, outbound = u.outbound + EXCLUDED.outbound,
        proactive = u.proactive + EXCLUDED.proactive, conversations = u.conversations + EXCLUDED.conversations;
  PERFORM check_quota_thresholds(p_tenant_id);
END $$;

-- The message counter (migration 1732060800003's trigger, same name) now counts through count_usage.
CREATE OR REPLACE FUNCTION count_tracked_messages() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  r record;
BEGIN
  FOR r IN SELECT tenant_id, count(*) FILTER (WHERE direction = 'inbound') AS inbound, count(*) FILTER (WHERE direction = 'outbound') AS outbound,
                  count(*) FILTER (WHERE origin = 'api') AS proactive
             FROM new_rows GROUP BY tenant_id LOOP
    PERFORM count_usage(r.tenant_id, r.inbound, r.outbound, r.proactive, 0);
  END LOOP;
  RETURN NULL;
END $$;

-- New conversations: customer mappings created (an upsert's updated rows are not in new_rows).
CREATE FUNCTION count_new_conversations() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  r record;
BEGIN
  FOR r IN SELECT tenant_id, count(*) AS n FROM new_rows GROUP BY tenant_id LOOP
    PERFORM count_usage(r.tenant_id, 0, 0, 0, r.n);
  END LOOP;
  RETURN NULL;
END $$;
CREATE TRIGGER conversation_mappings_usage
  AFTER INSERT ON conversation_mappings
  REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION count_new_conversations();

GRANT EXECUTE ON FUNCTION tenant_quota_limits(text), tenant_quota_use(text), check_quota_thresholds(text),
  count_usage(text, bigint, bigint, bigint, bigint) TO bridge_app;

-- Down Migration
DROP FUNCTION plan_apply_rate_limit(text);
DROP POLICY platform_functions_rate_limit ON tenants;
REVOKE UPDATE (rate_limit, updated_at) ON tenants FROM bridge_platform;
DROP TRIGGER tenants_rate_limit_from_plan ON tenants;
DROP FUNCTION tenant_rate_limit_from_plan();
DROP TRIGGER conversation_mappings_usage ON conversation_mappings;
DROP FUNCTION count_new_conversations();
CREATE OR REPLACE FUNCTION count_tracked_messages() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO tenant_usage_daily AS u (tenant_id, day, shard, inbound, outbound)
  SELECT tenant_id, (now() AT TIME ZONE 'UTC')::date, floor(random() * 8)::smallint,
         count(*) FILTER (WHERE direction = 'inbound'), count(*) FILTER (WHERE direction = 'outbound')
    FROM new_rows
   GROUP BY tenant_id
  ON CONFLICT (tenant_id, day, shard) DO UPDATE
    SET inbound = u.inbound + EXCLUDED.inbound, outbound = u.outbound + EXCLUDED.outbound;
  RETURN NULL;
END $$;
DROP FUNCTION count_usage(text, bigint, bigint, bigint, bigint), check_quota_thresholds(text), tenant_quota_use(text), tenant_quota_limits(text);
DROP TABLE tenant_usage_monthly;
ALTER TABLE tenant_usage_daily DROP COLUMN conversations, DROP COLUMN proactive;
ALTER TABLE tenants DROP CONSTRAINT tenants_plan_fkey, DROP COLUMN quota_overrides;
DROP TABLE plans;
