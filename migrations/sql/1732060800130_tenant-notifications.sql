-- Up Migration
-- Tenant notifications (issue #13): what the platform tells a tenant's admin (a quota at 80% or
-- 100%, a credential that stopped working, ...), raised at most once per (tenant, kind, key),
-- readable on GET /state/notifications, and POSTed, signed, to the tenant's notification webhook
-- when it set one (outbox kind to_tenant_notification, lane 'note:').

CREATE TABLE tenant_notifications (
  tenant_id  text NOT NULL REFERENCES tenants (tenant_id) ON DELETE CASCADE,
  id         bigserial NOT NULL,
  -- What it is about, e.g. 'quota.warning', 'quota.exceeded', 'credentials.invalid'.
  kind       text NOT NULL CHECK (kind ~ '^[a-z][a-z0-9_.-]{0,99}$'),
  -- What makes it one of its kind, e.g. 'messagesPerMonth:2026-11:80': raised once per key.
  key        text NOT NULL CHECK (char_length(key) BETWEEN 1 AND 200),
  severity   text NOT NULL CHECK (severity IN ('info', 'warning', 'critical')),
  message    text NOT NULL CHECK (char_length(message) BETWEEN 1 AND 2000),
  details    jsonb NOT NULL DEFAULT '{}'::jsonb,
  raised_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, id),
  UNIQUE (tenant_id, kind, key)
);
CREATE INDEX tenant_notifications_newest ON tenant_notifications (tenant_id, raised_at DESC, id DESC);
SELECT enable_tenant_isolation('tenant_notifications');
GRANT USAGE ON SEQUENCE tenant_notifications_id_seq TO bridge_app;

-- The tenant's notification webhook: where notifications are POSTed (https, or http to a
-- loopback host), and the HMAC secret that signs them, encrypted by tenant-service (its keyring,
-- AAD (tenant, 'notification-webhook')); both NULL: none set.
ALTER TABLE tenants
  ADD COLUMN notification_url text CHECK (char_length(notification_url) BETWEEN 1 AND 2000),
  ADD COLUMN notification_secret bytea,
  ADD CONSTRAINT tenants_notification_webhook_whole CHECK ((notification_url IS NULL) = (notification_secret IS NULL));

-- The new read scope notifications:read (shared/src/api-key-scopes.ts) is one of the default read
-- scopes: a key that holds every read scope there was keeps holding every read scope.
UPDATE tenant_api_keys SET scopes = scopes || ARRAY['notifications:read']
 WHERE scopes @> ARRAY['stats:read', 'conversations:read', 'messages:read', 'mappings:read', 'templates:read', 'usage:read', 'audit:read']
   AND NOT scopes @> ARRAY['notifications:read'];
ALTER TABLE tenant_api_keys ALTER COLUMN scopes
  SET DEFAULT ARRAY['stats:read', 'conversations:read', 'messages:read', 'mappings:read', 'templates:read', 'usage:read', 'audit:read', 'notifications:read'];

ALTER TABLE outbox DROP CONSTRAINT outbox_kind_check;
ALTER TABLE outbox ADD CONSTRAINT outbox_kind_check
  CHECK (kind IN ('to_genesys_message', 'to_whatsapp_message', 'to_genesys_receipt', 'to_genesys_agentless', 'to_whatsapp_signal',
                  'to_tenant_notification'));

-- Raises a notification in the caller's tenant scope (row-level security applies: the caller's
-- own tenant only), at most once per (tenant, kind, key): true when this call raised it. A
-- concurrent raiser of the same key waits for the first to commit, then raises nothing. Its
-- delivery job is queued in the same transaction whether or not the tenant has a webhook now: the
-- connector logs every notification, and POSTs it when the tenant has a webhook at delivery time.
CREATE FUNCTION raise_tenant_notification(p_tenant_id text, p_kind text, p_key text, p_severity text, p_message text, p_details jsonb)
  RETURNS boolean LANGUAGE sql VOLATILE SET search_path = pg_catalog, public, pg_temp
AS $$
  WITH raised AS (
    INSERT INTO tenant_notifications (tenant_id, kind, key, severity, message, details)
    VALUES (p_tenant_id, p_kind, p_key, p_severity, p_message, COALESCE(p_details, '{}'::jsonb))
    ON CONFLICT (tenant_id, kind, key) DO NOTHING
    RETURNING tenant_id, id, raised_at
  ), queued AS (
    INSERT INTO outbox (tenant_id, kind, lane, ordering, payload)
    SELECT r.tenant_id, 'to_tenant_notification', 'note:', r.raised_at, jsonb_build_object('notificationId', r.id::text)
      FROM raised r
  )
  SELECT EXISTS (SELECT 1 FROM raised)
$$;
GRANT EXECUTE ON FUNCTION raise_tenant_notification(text, text, text, text, text, jsonb) TO bridge_app;

-- Down Migration
ALTER TABLE tenant_api_keys ALTER COLUMN scopes
  SET DEFAULT ARRAY['stats:read', 'conversations:read', 'messages:read', 'mappings:read', 'templates:read', 'usage:read', 'audit:read'];
UPDATE tenant_api_keys SET scopes = array_remove(scopes, 'notifications:read') WHERE scopes @> ARRAY['notifications:read'] AND cardinality(scopes) > 1;
DROP FUNCTION raise_tenant_notification(text, text, text, text, text, jsonb);
ALTER TABLE outbox DROP CONSTRAINT outbox_kind_check;
DELETE FROM outbox WHERE kind = 'to_tenant_notification';
ALTER TABLE outbox ADD CONSTRAINT outbox_kind_check
  CHECK (kind IN ('to_genesys_message', 'to_whatsapp_message', 'to_genesys_receipt', 'to_genesys_agentless', 'to_whatsapp_signal'));
ALTER TABLE tenants DROP CONSTRAINT tenants_notification_webhook_whole, DROP COLUMN notification_secret, DROP COLUMN notification_url;
DROP TABLE tenant_notifications;
