-- Up Migration
-- Past the 24-hour window (issue #11): each tenant's template catalogue, its policy for agent
-- free text after the window, proactive messages sent through the tenant API (with their
-- idempotency keys), and the agentless copy of each that Genesys echoes back to our webhook.

-- The approved (and other) templates of the tenant's WABA, as Meta lists them
-- (GET /{waba_id}/message_templates), kept current by message_template_status_update webhooks.
CREATE TABLE message_templates (
  tenant_id    text NOT NULL REFERENCES tenants (tenant_id) ON DELETE CASCADE,
  name         text NOT NULL CHECK (name ~ '^[a-z0-9_]+$' AND length(name) <= 512),
  language     text NOT NULL CHECK (length(language) BETWEEN 2 AND 16),
  template_id  text CHECK (template_id ~ '^[0-9]{1,30}$'),
  waba_id      text,
  category     text NOT NULL,
  status       text NOT NULL,
  components   jsonb NOT NULL DEFAULT '[]',
  synced_at    timestamptz NOT NULL DEFAULT now(),
  updated_at   timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, name, language)
);
CREATE INDEX message_templates_template_id_idx ON message_templates (tenant_id, template_id) WHERE template_id IS NOT NULL;
SELECT enable_tenant_isolation('message_templates');

-- What an agent's free text after the window becomes: 'reject' (a Failed receipt that says so)
-- or 'template' (the text is the one parameter of the tenant's re-open template, {name, language}).
ALTER TABLE tenants
  ADD COLUMN window_policy text NOT NULL DEFAULT 'reject' CHECK (window_policy IN ('reject', 'template')),
  ADD COLUMN reopen_template jsonb,
  ADD CONSTRAINT tenants_reopen_template_check CHECK (window_policy = 'reject' OR reopen_template IS NOT NULL);

-- Proactive messages (POST /messages): outbound, but not from Genesys, so with no Genesys id until
-- their agentless copy comes back through our webhook (then they get that copy's id).
ALTER TABLE message_tracking ADD COLUMN origin text NOT NULL DEFAULT 'provider' CHECK (origin IN ('provider', 'api'));
ALTER TABLE message_tracking DROP CONSTRAINT message_tracking_check;
ALTER TABLE message_tracking ADD CONSTRAINT message_tracking_check
  CHECK ((direction = 'inbound' AND wamid IS NOT NULL)
         OR (direction = 'outbound' AND (genesys_message_id IS NOT NULL OR origin = 'api')));

-- Idempotency-Key of POST /messages: the same key and body give the same message for 24 h; the
-- same key with another body is refused. `request_hash`: SHA-256 (hex) of the canonical body.
CREATE TABLE api_idempotency_keys (
  tenant_id     text NOT NULL REFERENCES tenants (tenant_id) ON DELETE CASCADE,
  key           text NOT NULL CHECK (length(key) BETWEEN 1 AND 255),
  request_hash  text NOT NULL CHECK (request_hash ~ '^[0-9a-f]{64}$'),
  message_id    bigint NOT NULL,
  created_at    timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, key)
);
CREATE INDEX api_idempotency_keys_created_idx ON api_idempotency_keys (created_at);
SELECT enable_tenant_isolation('api_idempotency_keys');

-- The agentless copy in Genesys of a proactive message: posted once it reached WhatsApp, and
-- recognised when Genesys delivers it to our outbound webhook (by its id, or — when it arrives
-- before the post's answer is recorded — by recipient and text), so it is never sent twice.
-- `posts`: agentless calls made (a retried call may have reached Genesys); `echoes`: copies seen.
CREATE TABLE agentless_echoes (
  tenant_id            text NOT NULL REFERENCES tenants (tenant_id) ON DELETE CASCADE,
  message_id           bigint NOT NULL,
  wa_id                text NOT NULL,
  text_hash            text NOT NULL CHECK (text_hash ~ '^[0-9a-f]{64}$'),
  posts                integer NOT NULL DEFAULT 0,
  echoes               integer NOT NULL DEFAULT 0,
  genesys_message_ids  text[] NOT NULL DEFAULT '{}',
  posted_at            timestamptz,
  created_at           timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, message_id)
);
CREATE INDEX agentless_echoes_awaited_idx ON agentless_echoes (tenant_id, wa_id, text_hash);
SELECT enable_tenant_isolation('agentless_echoes');

ALTER TABLE outbox DROP CONSTRAINT outbox_kind_check;
ALTER TABLE outbox ADD CONSTRAINT outbox_kind_check
  CHECK (kind IN ('to_genesys_message', 'to_whatsapp_message', 'to_genesys_receipt', 'to_genesys_agentless'));

-- Down Migration
ALTER TABLE outbox DROP CONSTRAINT outbox_kind_check;
DELETE FROM outbox WHERE kind = 'to_genesys_agentless';
ALTER TABLE outbox ADD CONSTRAINT outbox_kind_check CHECK (kind IN ('to_genesys_message', 'to_whatsapp_message', 'to_genesys_receipt'));
DROP TABLE agentless_echoes;
DROP TABLE api_idempotency_keys;
ALTER TABLE message_tracking DROP CONSTRAINT message_tracking_check;
DELETE FROM message_tracking WHERE origin = 'api' AND genesys_message_id IS NULL;
ALTER TABLE message_tracking ADD CONSTRAINT message_tracking_check
  CHECK ((direction = 'inbound' AND wamid IS NOT NULL) OR (direction = 'outbound' AND genesys_message_id IS NOT NULL));
ALTER TABLE message_tracking DROP COLUMN origin;
ALTER TABLE tenants DROP CONSTRAINT tenants_reopen_template_check, DROP COLUMN reopen_template, DROP COLUMN window_policy;
DROP TABLE message_templates;
