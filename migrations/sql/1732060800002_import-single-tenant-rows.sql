-- Up Migration
-- Moves the rows of a single-tenant database (parked as legacy_* by the first migration) to the
-- `default` tenant. Columns are read through to_jsonb so that older variants of the legacy tables
-- (with or without optional columns) import alike. On a new database this does nothing.
SELECT set_config('app.scope', 'platform', true);

DO $$
BEGIN
  IF to_regclass('legacy_conversation_mappings') IS NULL AND to_regclass('legacy_message_tracking') IS NULL THEN
    RETURN;
  END IF;

  INSERT INTO tenants (tenant_id, name, metadata)
  VALUES ('default', 'Default tenant', '{"migratedFrom": "single-tenant"}'::jsonb)
  ON CONFLICT (tenant_id) DO NOTHING;

  IF to_regclass('legacy_conversation_mappings') IS NOT NULL THEN
    INSERT INTO conversation_mappings (tenant_id, wa_id, contact_name, conversation_id, phone_number_id,
                                       last_message_at, created_at, updated_at)
    SELECT 'default', r->>'wa_id', r->>'contact_name', r->>'conversation_id', r->>'phone_number_id',
           COALESCE((r->>'updated_at')::timestamptz, (r->>'created_at')::timestamptz, now()),
           COALESCE((r->>'created_at')::timestamptz, now()),
           COALESCE((r->>'updated_at')::timestamptz, now())
      FROM (SELECT to_jsonb(l) AS r FROM legacy_conversation_mappings l) rows
     WHERE r->>'wa_id' IS NOT NULL
    ON CONFLICT (tenant_id, wa_id) DO NOTHING;
    DROP TABLE legacy_conversation_mappings;
  END IF;

  IF to_regclass('legacy_message_tracking') IS NOT NULL THEN
    INSERT INTO message_tracking (tenant_id, direction, wa_id, wamid, genesys_message_id, genesys_conversation_id,
                                  message_type, status, created_at, updated_at)
    SELECT 'default', d.direction, r->>'wa_id',
           CASE WHEN d.direction = 'inbound' THEN COALESCE(r->>'wamid', r->>'message_id') ELSE r->>'wamid' END,
           CASE WHEN d.direction = 'outbound' THEN COALESCE(r->>'genesys_message_id', r->>'message_id') ELSE r->>'genesys_message_id' END,
           COALESCE(r->>'genesys_conversation_id', r->>'conversation_id'),
           COALESCE(r->>'message_type', 'text'),
           CASE WHEN r->>'status' IN ('sent', 'delivered', 'read', 'failed', 'dead') THEN r->>'status' ELSE 'delivered' END,
           COALESCE((r->>'created_at')::timestamptz, now()),
           COALESCE((r->>'updated_at')::timestamptz, (r->>'created_at')::timestamptz, now())
      FROM (SELECT to_jsonb(l) AS r FROM legacy_message_tracking l) rows
     CROSS JOIN LATERAL (SELECT CASE WHEN lower(r->>'direction') IN ('outbound', 'out') THEN 'outbound' ELSE 'inbound' END AS direction) d
     WHERE COALESCE(r->>'message_id', r->>'wamid', r->>'genesys_message_id') IS NOT NULL
    ON CONFLICT DO NOTHING;
    DROP TABLE legacy_message_tracking;
  END IF;
END $$;

-- Down Migration
-- The import is one-way: the legacy tables are gone once their rows live under `default`.
SELECT 1;
