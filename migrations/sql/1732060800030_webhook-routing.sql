-- Up Migration
-- Meta webhooks that name no business number, or a number nobody owns yet (issue #10, kind 2).
--
-- Account-level changes (message_template_status_update, account_update,
-- phone_number_quality_update, ...) carry no metadata.phone_number_id: they name the WhatsApp
-- Business Account in entry[].id, and are routed by the WABA id stored with the Meta credentials.
-- Not unique: several tenants may each own a number of one WABA (each of them gets the change).
CREATE INDEX tenant_credentials_waba_id_idx ON tenant_credentials (waba_id) WHERE waba_id IS NOT NULL;

-- What account-level changes a tenant received, kept queryable (the template catalogue reads the
-- template status changes). `payload` is {entry: {id, time}, change}; a redelivery (same bytes,
-- same entry time) is stored once.
CREATE TABLE account_events (
  tenant_id     text NOT NULL REFERENCES tenants (tenant_id) ON DELETE CASCADE,
  id            bigserial,
  field         text NOT NULL CHECK (length(field) BETWEEN 1 AND 64),
  waba_id       text,
  payload       jsonb NOT NULL,
  payload_hash  text GENERATED ALWAYS AS (md5(payload::text)) STORED,
  received_at   timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, id),
  UNIQUE (tenant_id, payload_hash)
);
CREATE INDEX account_events_field_idx ON account_events (tenant_id, field, received_at);

ALTER TABLE account_events ENABLE ROW LEVEL SECURITY;
ALTER TABLE account_events FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON account_events
  USING (tenant_id = NULLIF(current_setting('app.tenant_id', true), '')
         OR current_setting('app.scope', true) = 'platform')
  WITH CHECK (tenant_id = NULLIF(current_setting('app.tenant_id', true), '')
              OR current_setting('app.scope', true) = 'platform');
GRANT SELECT, INSERT, UPDATE, DELETE ON account_events TO bridge_app;
GRANT USAGE ON SEQUENCE account_events_id_seq TO bridge_app;

-- Authentic changes no tenant owns yet (a number or WABA not onboarded): held at platform level,
-- listed to admins (GET /unclaimed-changes), and replayed in id order into the tenant that later
-- stores Meta credentials naming the number (or WABA). Not tenant-owned: no tenant_id.
-- `signed_by`: 'platform' (META_PLATFORM_APP_SECRET verified the payload) or the SHA-256 (hex)
-- of the tenant app secret that did; a change is replayed only into a tenant whose own app
-- secret is that one (the same Meta app), or any claimant when the platform signed it.
CREATE TABLE unclaimed_webhook_changes (
  id               bigserial PRIMARY KEY,
  phone_number_id  text,
  waba_id          text,
  field            text,
  signed_by        text NOT NULL CHECK (signed_by = 'platform' OR signed_by ~ '^[0-9a-f]{64}$'),
  payload          jsonb NOT NULL,
  payload_hash     text GENERATED ALWAYS AS (md5(payload::text)) STORED UNIQUE,
  received_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX unclaimed_webhook_changes_phone_idx ON unclaimed_webhook_changes (phone_number_id, id) WHERE phone_number_id IS NOT NULL;
CREATE INDEX unclaimed_webhook_changes_waba_idx ON unclaimed_webhook_changes (waba_id, id) WHERE waba_id IS NOT NULL;

-- Platform scope sees every held change (webhook-service holds them, admins list them); a
-- tenant's transaction sees only those for its own number or WABA, which it claims by replaying.
ALTER TABLE unclaimed_webhook_changes ENABLE ROW LEVEL SECURITY;
ALTER TABLE unclaimed_webhook_changes FORCE ROW LEVEL SECURITY;
CREATE POLICY claimant_or_platform ON unclaimed_webhook_changes
  USING (current_setting('app.scope', true) = 'platform'
         OR EXISTS (SELECT 1 FROM tenant_credentials c
                     WHERE c.type = 'meta' AND c.tenant_id = NULLIF(current_setting('app.tenant_id', true), '')
                       AND (c.phone_number_id = unclaimed_webhook_changes.phone_number_id
                            OR c.waba_id = unclaimed_webhook_changes.waba_id)))
  WITH CHECK (current_setting('app.scope', true) = 'platform');
-- UPDATE only for the row locks of a replay (FOR UPDATE); the rows themselves are never changed.
GRANT SELECT, INSERT, UPDATE, DELETE ON unclaimed_webhook_changes TO bridge_app;
GRANT USAGE ON SEQUENCE unclaimed_webhook_changes_id_seq TO bridge_app;

-- Down Migration
DROP TABLE unclaimed_webhook_changes;
DROP TABLE account_events;
DROP INDEX tenant_credentials_waba_id_idx;
