-- Up Migration
-- Statuses, receipts and other non-message events, one row each, deduplicated per tenant on the
-- provider's key (Meta: wamid + status; Genesys: its event id).
CREATE TABLE message_events (
  tenant_id           text NOT NULL REFERENCES tenants (tenant_id) ON DELETE CASCADE,
  id                  bigint GENERATED ALWAYS AS IDENTITY,
  source              text NOT NULL CHECK (source IN ('meta', 'genesys')),
  kind                text NOT NULL,
  provider_key        text NOT NULL,
  wamid               text,
  genesys_message_id  text,
  payload             jsonb NOT NULL DEFAULT '{}'::jsonb,
  created_at          timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, id),
  UNIQUE (tenant_id, source, provider_key)
);

-- The delivery queue: one row per delivery still to make. Rows of one lane (a conversation in one
-- direction, or one message's receipts) are delivered one at a time, in `ordering` order (the
-- sender's timestamp), so a retried delivery is never overtaken by a later one of its lane.
-- Delivered rows are deleted; failed and dead ones stay, visible, with their reason.
CREATE TABLE outbox (
  tenant_id        text NOT NULL REFERENCES tenants (tenant_id) ON DELETE CASCADE,
  id               bigint GENERATED ALWAYS AS IDENTITY,
  kind             text NOT NULL CHECK (kind IN ('to_genesys_message', 'to_whatsapp_message', 'to_genesys_receipt')),
  lane             text NOT NULL,
  ordering         timestamptz NOT NULL DEFAULT now(),
  message_id       bigint,
  event_id         bigint,
  payload          jsonb NOT NULL DEFAULT '{}'::jsonb,
  state            text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'failed', 'dead')),
  attempts         integer NOT NULL DEFAULT 0,
  next_attempt_at  timestamptz NOT NULL DEFAULT now(),
  locked_until     timestamptz,
  last_error       text,
  created_at       timestamptz NOT NULL DEFAULT now(),
  updated_at       timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, id)
);
-- The workers' scan across tenants: the one index that does not lead with tenant_id, because the
-- queue is drained for all tenants at once.
CREATE INDEX outbox_due_idx ON outbox (next_attempt_at, id) WHERE state = 'pending';
CREATE INDEX outbox_lane_idx ON outbox (tenant_id, lane, ordering, id) WHERE state = 'pending';
CREATE INDEX outbox_failed_idx ON outbox (tenant_id, state, updated_at) WHERE state <> 'pending';

DO $$
DECLARE
  t text;
BEGIN
  FOREACH t IN ARRAY ARRAY['message_events', 'outbox'] LOOP
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
DROP TABLE outbox;
DROP TABLE message_events;
