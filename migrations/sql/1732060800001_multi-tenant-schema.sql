-- Up Migration
-- Every tenant-owned table: tenant_id NOT NULL, first in every key and index, row-level security
-- enabled and forced. The policy sees a row when the transaction's app.tenant_id is its tenant,
-- or when the transaction declared platform scope (admin API, key and phone-number lookups).
-- No setting, no rows.

CREATE TABLE tenants (
  tenant_id   text PRIMARY KEY CHECK (tenant_id ~ '^[a-z0-9][a-z0-9-]{1,48}[a-z0-9]$'),
  name        text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
  subdomain   text UNIQUE CHECK (subdomain ~ '^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$'),
  status      text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'suspended')),
  plan        text NOT NULL DEFAULT 'standard',
  rate_limit  integer NOT NULL DEFAULT 600 CHECK (rate_limit > 0),
  metadata    jsonb NOT NULL DEFAULT '{}'::jsonb,
  created_at  timestamptz NOT NULL DEFAULT now(),
  updated_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE tenant_credentials (
  tenant_id        text NOT NULL REFERENCES tenants (tenant_id) ON DELETE CASCADE,
  type             text NOT NULL CHECK (type IN ('meta', 'genesys')),
  -- AES-256-GCM blob; the AAD binds it to (tenant_id, type).
  encrypted        bytea NOT NULL,
  -- Non-secret lookup fields, in clear.
  phone_number_id  text,
  waba_id          text,
  region           text,
  integration_id   text,
  client_id        text,
  created_at       timestamptz NOT NULL DEFAULT now(),
  updated_at       timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, type),
  CHECK ((type = 'meta') = (phone_number_id IS NOT NULL))
);
-- A business number belongs to one tenant: inbound webhooks are routed by it.
CREATE UNIQUE INDEX tenant_credentials_phone_number_id_key ON tenant_credentials (phone_number_id) WHERE phone_number_id IS NOT NULL;

CREATE TABLE tenant_api_keys (
  id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant_id     text NOT NULL REFERENCES tenants (tenant_id) ON DELETE CASCADE,
  key_hash      text NOT NULL UNIQUE CHECK (key_hash ~ '^[0-9a-f]{64}$'),
  prefix        text NOT NULL,
  name          text NOT NULL,
  is_active     boolean NOT NULL DEFAULT true,
  created_at    timestamptz NOT NULL DEFAULT now(),
  last_used_at  timestamptz,
  revoked_at    timestamptz
);
CREATE INDEX tenant_api_keys_tenant_idx ON tenant_api_keys (tenant_id, created_at);

-- One row per WhatsApp user a tenant talks to, and the Genesys conversation it maps to.
CREATE TABLE conversation_mappings (
  tenant_id            text NOT NULL REFERENCES tenants (tenant_id) ON DELETE CASCADE,
  wa_id                text NOT NULL,
  contact_name         text,
  conversation_id      text,
  phone_number_id      text,
  last_message_at      timestamptz NOT NULL DEFAULT now(),
  last_inbound_at      timestamptz,
  created_at           timestamptz NOT NULL DEFAULT now(),
  updated_at           timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, wa_id)
);
-- Newest-first listing with a (last_message_at, wa_id) cursor.
CREATE INDEX conversation_mappings_recent_idx ON conversation_mappings (tenant_id, last_message_at DESC, wa_id DESC);
CREATE INDEX conversation_mappings_conversation_idx ON conversation_mappings (tenant_id, conversation_id) WHERE conversation_id IS NOT NULL;

-- One row per message in either direction. Inbound rows are keyed by the wamid, outbound rows by
-- the Genesys message id; each provider id is unique per tenant, which is how redelivered
-- webhooks are recognised (INSERT ... ON CONFLICT DO NOTHING).
CREATE TABLE message_tracking (
  tenant_id                text NOT NULL REFERENCES tenants (tenant_id) ON DELETE CASCADE,
  id                       bigint GENERATED ALWAYS AS IDENTITY,
  direction                text NOT NULL CHECK (direction IN ('inbound', 'outbound')),
  wa_id                    text,
  wamid                    text,
  genesys_message_id       text,
  genesys_conversation_id  text,
  message_type             text NOT NULL,
  payload                  jsonb NOT NULL DEFAULT '{}'::jsonb,
  status                   text NOT NULL DEFAULT 'pending'
                           CHECK (status IN ('pending', 'sent', 'delivered', 'read', 'failed', 'dead')),
  attempts                 integer NOT NULL DEFAULT 0,
  next_attempt_at          timestamptz,
  error_code               text,
  error_message            text,
  provider_timestamp       timestamptz,
  created_at               timestamptz NOT NULL DEFAULT now(),
  updated_at               timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, id),
  CHECK ((direction = 'inbound' AND wamid IS NOT NULL) OR (direction = 'outbound' AND genesys_message_id IS NOT NULL))
);
CREATE UNIQUE INDEX message_tracking_wamid_key ON message_tracking (tenant_id, wamid) WHERE wamid IS NOT NULL;
CREATE UNIQUE INDEX message_tracking_genesys_key ON message_tracking (tenant_id, genesys_message_id) WHERE genesys_message_id IS NOT NULL;
CREATE INDEX message_tracking_conversation_idx ON message_tracking (tenant_id, wa_id, id);
CREATE INDEX message_tracking_created_idx ON message_tracking (tenant_id, created_at);

DO $$
DECLARE
  t text;
BEGIN
  FOREACH t IN ARRAY ARRAY['tenants', 'tenant_credentials', 'tenant_api_keys', 'conversation_mappings', 'message_tracking'] LOOP
    EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
    EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
    EXECUTE format($p$CREATE POLICY tenant_isolation ON %I
      USING (tenant_id = NULLIF(current_setting('app.tenant_id', true), '')
             OR current_setting('app.scope', true) = 'platform')
      WITH CHECK (tenant_id = NULLIF(current_setting('app.tenant_id', true), '')
                  OR current_setting('app.scope', true) = 'platform')$p$, t);
    EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON %I TO bridge_app', t);
  END LOOP;
END $$;

-- Down Migration
DROP TABLE IF EXISTS message_tracking, conversation_mappings, tenant_api_keys, tenant_credentials, tenants CASCADE;
