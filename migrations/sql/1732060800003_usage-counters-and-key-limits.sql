-- Up Migration
-- Per-tenant daily message counts for /state/stats, kept by a statement-level trigger on
-- message_tracking so that no insert path can forget them and redelivered webhooks (ON CONFLICT
-- DO NOTHING) never count twice. Each statement adds to one of eight shards of the day's row, so
-- concurrent writers of a busy tenant do not queue on a single row lock; readers sum the shards.
CREATE TABLE tenant_usage_daily (
  tenant_id  text NOT NULL REFERENCES tenants (tenant_id) ON DELETE CASCADE,
  day        date NOT NULL,
  shard      smallint NOT NULL CHECK (shard BETWEEN 0 AND 7),
  inbound    bigint NOT NULL DEFAULT 0,
  outbound   bigint NOT NULL DEFAULT 0,
  PRIMARY KEY (tenant_id, day, shard)
);
ALTER TABLE tenant_usage_daily ENABLE ROW LEVEL SECURITY;
ALTER TABLE tenant_usage_daily FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON tenant_usage_daily
  USING (tenant_id = NULLIF(current_setting('app.tenant_id', true), '') OR current_setting('app.scope', true) = 'platform')
  WITH CHECK (tenant_id = NULLIF(current_setting('app.tenant_id', true), '') OR current_setting('app.scope', true) = 'platform');
GRANT SELECT, INSERT, UPDATE, DELETE ON tenant_usage_daily TO bridge_app;

CREATE FUNCTION count_tracked_messages() RETURNS trigger LANGUAGE plpgsql AS $$
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

CREATE TRIGGER message_tracking_usage
  AFTER INSERT ON message_tracking
  REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION count_tracked_messages();

-- Rows that existed before counting started are counted once, on the day they were created.
INSERT INTO tenant_usage_daily (tenant_id, day, shard, inbound, outbound)
SELECT tenant_id, (created_at AT TIME ZONE 'UTC')::date, 0,
       count(*) FILTER (WHERE direction = 'inbound'), count(*) FILTER (WHERE direction = 'outbound')
  FROM message_tracking
 GROUP BY 1, 2;

-- An API key may carry its own requests-per-minute limit (else the tenant's applies).
ALTER TABLE tenant_api_keys ADD COLUMN rate_limit integer CHECK (rate_limit > 0);

-- Down Migration
ALTER TABLE tenant_api_keys DROP COLUMN rate_limit;
DROP TRIGGER message_tracking_usage ON message_tracking;
DROP FUNCTION count_tracked_messages();
DROP TABLE tenant_usage_daily;
