-- Up Migration
-- A database of the single-tenant bridge has conversation_mappings and message_tracking without
-- a tenant_id column. Park them under legacy_* names so the multi-tenant tables can be created;
-- a later migration moves their rows to the `default` tenant. On a new database this does nothing.
DO $$
DECLARE
  t text;
BEGIN
  FOREACH t IN ARRAY ARRAY['conversation_mappings', 'message_tracking'] LOOP
    IF to_regclass(quote_ident(t)) IS NOT NULL AND NOT EXISTS (
      SELECT 1 FROM information_schema.columns
       WHERE table_schema = current_schema() AND table_name = t AND column_name = 'tenant_id'
    ) THEN
      EXECUTE format('ALTER TABLE %I RENAME TO %I', t, 'legacy_' || t);
    END IF;
  END LOOP;
END $$;

-- Down Migration
DO $$
DECLARE
  t text;
BEGIN
  FOREACH t IN ARRAY ARRAY['conversation_mappings', 'message_tracking'] LOOP
    IF to_regclass(quote_ident('legacy_' || t)) IS NOT NULL AND to_regclass(quote_ident(t)) IS NULL THEN
      EXECUTE format('ALTER TABLE %I RENAME TO %I', 'legacy_' || t, t);
    END IF;
  END LOOP;
END $$;
