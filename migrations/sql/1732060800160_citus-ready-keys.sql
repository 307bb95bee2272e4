-- Up Migration
-- A schema that can be distributed by tenant_id (issue #14; Citus: each tenant's rows on one
-- shard): in a tenant table, the primary key and every unique constraint include tenant_id, so
-- that no constraint needs two tenants' rows (two shards) to be checked.
-- migrations/test/citus-ready.test.ts checks it over the catalog, with the platform-wide tables
-- (the tenant directory, the number directory below, the audit chains, the held changes) named.

-- API keys: keyed by (tenant_id, id); the hash is unique within its tenant (a key is 24 random
-- bytes: two tenants' keys sharing a SHA-256 is not a case to design for), and indexed alone for
-- the gateway's lookup by hash (api_key_by_hash), as id is for record_api_key_use.
ALTER TABLE tenant_api_keys DROP CONSTRAINT tenant_api_keys_pkey;
ALTER TABLE tenant_api_keys ADD PRIMARY KEY (tenant_id, id);
ALTER TABLE tenant_api_keys DROP CONSTRAINT tenant_api_keys_key_hash_key;
ALTER TABLE tenant_api_keys ADD CONSTRAINT tenant_api_keys_key_hash_key UNIQUE (tenant_id, key_hash);
CREATE INDEX tenant_api_keys_by_hash_idx ON tenant_api_keys (key_hash);
CREATE INDEX tenant_api_keys_by_id_idx ON tenant_api_keys (id);

-- A business number belongs to one tenant, platform-wide: inbound webhooks are routed by it. That
-- rule leaves tenant_credentials (a tenant table) for a directory of its own, the numbers' owners,
-- platform-wide like `tenants` (under Citus, a reference table beside it), kept by a trigger on
-- tenant_credentials so that no writer can miss it. A second tenant storing a number already
-- owned fails on phone_number_owners_pkey (tenant-service answers 409 PHONE_NUMBER_TAKEN).
CREATE TABLE phone_number_owners (
  phone_number_id  text PRIMARY KEY,
  tenant_id        text NOT NULL REFERENCES tenants (tenant_id) ON DELETE CASCADE
);
CREATE INDEX phone_number_owners_tenant_idx ON phone_number_owners (tenant_id);
INSERT INTO phone_number_owners (phone_number_id, tenant_id)
  SELECT phone_number_id, tenant_id FROM tenant_credentials WHERE phone_number_id IS NOT NULL;
DROP INDEX tenant_credentials_phone_number_id_key;
CREATE INDEX tenant_credentials_phone_number_idx ON tenant_credentials (phone_number_id) WHERE phone_number_id IS NOT NULL;
-- The application role neither reads nor writes it: the trigger and the routing lookup do, as bridge_platform.
REVOKE ALL ON phone_number_owners FROM PUBLIC;
GRANT SELECT, INSERT, DELETE ON phone_number_owners TO bridge_platform;

CREATE FUNCTION phone_number_owners_sync() RETURNS trigger
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp
AS $f$
BEGIN
  IF TG_OP IN ('UPDATE', 'DELETE') AND OLD.phone_number_id IS NOT NULL
     AND (TG_OP = 'DELETE' OR NEW.phone_number_id IS DISTINCT FROM OLD.phone_number_id) THEN
    DELETE FROM phone_number_owners o WHERE o.phone_number_id = OLD.phone_number_id AND o.tenant_id = OLD.tenant_id;
  END IF;
  IF TG_OP IN ('INSERT', 'UPDATE') AND NEW.phone_number_id IS NOT NULL
     AND (TG_OP = 'INSERT' OR NEW.phone_number_id IS DISTINCT FROM OLD.phone_number_id) THEN
    INSERT INTO phone_number_owners (phone_number_id, tenant_id) VALUES (NEW.phone_number_id, NEW.tenant_id);
  END IF;
  RETURN NULL;
END $f$;
SELECT adopt_platform_functions(ARRAY['phone_number_owners_sync()']);
CREATE TRIGGER phone_number_owners_sync AFTER INSERT OR UPDATE OF phone_number_id OR DELETE ON tenant_credentials
  FOR EACH ROW EXECUTE FUNCTION phone_number_owners_sync();

-- Webhook routing finds a number's tenant in the directory: one row, wherever tenants' rows live.
DROP FUNCTION tenants_by_phone_number_ids(text[]);
CREATE FUNCTION tenants_by_phone_number_ids(phone_number_ids text[])
  RETURNS TABLE (phone_number_id text, tenant_id text)
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp
AS $$ SELECT o.phone_number_id, o.tenant_id FROM phone_number_owners o
       WHERE o.phone_number_id = ANY (tenants_by_phone_number_ids.phone_number_ids) $$;
SELECT adopt_platform_functions(ARRAY['tenants_by_phone_number_ids(text[])']);

-- Down Migration
DROP FUNCTION tenants_by_phone_number_ids(text[]);
CREATE FUNCTION tenants_by_phone_number_ids(phone_number_ids text[])
  RETURNS TABLE (phone_number_id text, tenant_id text)
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp
AS $$ SELECT c.phone_number_id, c.tenant_id FROM tenant_credentials c
       WHERE c.type = 'meta' AND c.phone_number_id = ANY (tenants_by_phone_number_ids.phone_number_ids) $$;
SELECT adopt_platform_functions(ARRAY['tenants_by_phone_number_ids(text[])']);
DROP TRIGGER phone_number_owners_sync ON tenant_credentials;
DROP FUNCTION phone_number_owners_sync();
DROP INDEX tenant_credentials_phone_number_idx;
CREATE UNIQUE INDEX tenant_credentials_phone_number_id_key ON tenant_credentials (phone_number_id) WHERE phone_number_id IS NOT NULL;
DROP TABLE phone_number_owners;
DROP INDEX tenant_api_keys_by_id_idx;
DROP INDEX tenant_api_keys_by_hash_idx;
ALTER TABLE tenant_api_keys DROP CONSTRAINT tenant_api_keys_key_hash_key;
ALTER TABLE tenant_api_keys ADD CONSTRAINT tenant_api_keys_key_hash_key UNIQUE (key_hash);
ALTER TABLE tenant_api_keys DROP CONSTRAINT tenant_api_keys_pkey;
ALTER TABLE tenant_api_keys ADD PRIMARY KEY (id);
