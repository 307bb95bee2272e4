-- Up Migration
-- What the agent sees must match what happened on WhatsApp (issue #10, kind 6).
SELECT set_config('app.scope', 'platform', true);

-- The parts of a message that took several sends: an agent reply split over several WhatsApp
-- messages (text, then each attachment; each has its own wamid and its own statuses), or a
-- customer's text split over several Genesys messages (each has its own Genesys id). Statuses are
-- matched to their agent message by any part's wamid (the unique index below).
CREATE TABLE message_parts (
  tenant_id           text NOT NULL,
  message_id          bigint NOT NULL,
  part                integer NOT NULL CHECK (part >= 1),
  part_count          integer NOT NULL CHECK (part_count >= part),
  -- text, image, audio, video, document (what the agent reads in "Part 2 of 2 (audio)").
  kind                text NOT NULL,
  wamid               text,
  genesys_message_id  text,
  status              text NOT NULL CHECK (status IN ('sent', 'delivered', 'read', 'failed')),
  error_code          text,
  error_message       text,
  created_at          timestamptz NOT NULL DEFAULT now(),
  updated_at          timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, message_id, part),
  FOREIGN KEY (tenant_id, message_id) REFERENCES message_tracking (tenant_id, id) ON DELETE CASCADE
);
CREATE UNIQUE INDEX message_parts_wamid_key ON message_parts (tenant_id, wamid) WHERE wamid IS NOT NULL;

-- The receipts already posted to Genesys for an agent message: 'delivered' (a Delivered that is
-- not final), 'final' (the final receipt: nothing more is posted about the message).
ALTER TABLE message_tracking ADD COLUMN receipt_posted text CHECK (receipt_posted IN ('delivered', 'final'));

-- A customer who changed number: their mapping moves to the new number and keeps, in genesys_id,
-- the id Genesys knows them by (the Genesys conversation is keyed by it, so it continues); the
-- old number is aliased to the new one, so that agent replies addressed to it go to the new one.
ALTER TABLE conversation_mappings ADD COLUMN genesys_id text;
CREATE TABLE conversation_aliases (
  tenant_id   text NOT NULL REFERENCES tenants (tenant_id) ON DELETE CASCADE,
  wa_id       text NOT NULL,
  moved_to    text NOT NULL,
  changed_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, wa_id)
);
CREATE INDEX conversation_aliases_moved_to_idx ON conversation_aliases (tenant_id, moved_to);

-- Row-level security as on every tenant table, in one function that later migrations can call.
CREATE FUNCTION enable_tenant_isolation(t regclass) RETURNS void LANGUAGE plpgsql AS $f$
DECLARE
  own_rows constant text := $c$tenant_id = NULLIF(current_setting('app.tenant_id', true), '')
                               OR current_setting('app.scope', true) = 'platform'$c$;
BEGIN
  EXECUTE format('ALTER TABLE %s ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY', t);
  EXECUTE format('CREATE POLICY tenant_isolation ON %s USING (%s) WITH CHECK (%s)', t, own_rows, own_rows);
  EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON %s TO bridge_app', t);
END $f$;
SELECT enable_tenant_isolation('message_parts'), enable_tenant_isolation('conversation_aliases');

-- Agent messages sent before this migration: their wamids (payload.wamids, else the one wamid)
-- become parts, so that their late statuses still find them; what was posted is inferred from
-- the status each reached.
INSERT INTO message_parts (tenant_id, message_id, part, part_count, kind, wamid, status)
SELECT m.tenant_id, m.id, w.n, count(*) OVER (PARTITION BY m.tenant_id, m.id), 'message', w.wamid,
       CASE WHEN m.status IN ('delivered', 'read', 'failed') THEN m.status ELSE 'sent' END
  FROM message_tracking m
 CROSS JOIN LATERAL jsonb_array_elements_text(
         CASE WHEN jsonb_typeof(m.payload->'wamids') = 'array' THEN m.payload->'wamids' ELSE jsonb_build_array(m.wamid) END
       ) WITH ORDINALITY AS w(wamid, n)
 WHERE m.direction = 'outbound' AND m.wamid IS NOT NULL
ON CONFLICT DO NOTHING;
-- A failed reply whose Failed receipt is still queued (a send given up) has not had it yet.
UPDATE message_tracking m SET receipt_posted = CASE WHEN m.status = 'delivered' THEN 'delivered' ELSE 'final' END
 WHERE m.direction = 'outbound' AND m.status IN ('delivered', 'read', 'failed', 'dead')
   AND NOT EXISTS (SELECT 1 FROM outbox o WHERE o.tenant_id = m.tenant_id AND o.kind = 'to_genesys_receipt'
                      AND o.lane = 'rcpt:' || m.genesys_message_id AND o.state = 'pending');

-- Down Migration
DROP TABLE conversation_aliases;
ALTER TABLE conversation_mappings DROP COLUMN genesys_id;
ALTER TABLE message_tracking DROP COLUMN receipt_posted;
DROP TABLE message_parts;
DROP FUNCTION enable_tenant_isolation(regclass);
