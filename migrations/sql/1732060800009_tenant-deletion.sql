-- Up Migration
-- Deleting a tenant no longer removes its rows in one transaction (with millions of rows, that
-- held the tenant's row, and the webhooks queued behind it, for minutes). DELETE /tenants/:id
-- marks the tenant `deleting` (from then on it is refused everywhere as if gone), and a
-- background purge in tenant-service removes its rows in small batches, the tenant row last.
ALTER TABLE tenants DROP CONSTRAINT tenants_status_check;
ALTER TABLE tenants ADD CONSTRAINT tenants_status_check CHECK (status IN ('active', 'suspended', 'deleting'));

-- One row per deletion: the durable marker any tenant-service replica resumes from (it leases the
-- row while it works), and the progress the admin API reports. No foreign key: the record
-- outlives the tenant row, as the account of what was removed and when.
CREATE TABLE tenant_deletions (
  tenant_id     text PRIMARY KEY,
  state         text NOT NULL DEFAULT 'purging' CHECK (state IN ('purging', 'done')),
  requested_at  timestamptz NOT NULL DEFAULT now(),
  finished_at   timestamptz,
  -- Rows removed so far, per table: {"message_tracking": 120000, ...}.
  deleted       jsonb NOT NULL DEFAULT '{}'::jsonb,
  batches       integer NOT NULL DEFAULT 0,
  -- The replica purging it, until when (it renews the lease with every batch).
  locked_by     text,
  locked_until  timestamptz,
  last_error    text,
  updated_at    timestamptz NOT NULL DEFAULT now(),
  CHECK ((state = 'done') = (finished_at IS NOT NULL))
);
CREATE INDEX tenant_deletions_purging_idx ON tenant_deletions (requested_at) WHERE state = 'purging';

ALTER TABLE tenant_deletions ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON tenant_deletions
  USING (tenant_id = NULLIF(current_setting('app.tenant_id', true), '') OR current_setting('app.scope', true) = 'platform')
  WITH CHECK (tenant_id = NULLIF(current_setting('app.tenant_id', true), '') OR current_setting('app.scope', true) = 'platform');
GRANT SELECT, INSERT, UPDATE, DELETE ON tenant_deletions TO bridge_app;

-- Down Migration
DROP TABLE tenant_deletions;
DELETE FROM tenants WHERE status = 'deleting';
ALTER TABLE tenants DROP CONSTRAINT tenants_status_check;
ALTER TABLE tenants ADD CONSTRAINT tenants_status_check CHECK (status IN ('active', 'suspended'));
