-- Up Migration
-- API keys like the best platforms do them (issue #13): what a key may do (scopes, the names of
-- shared/src/api-key-scopes.ts), until when (expires_at), from which browser origins
-- (allowed_origins; NULL: from no browser), and from where it was last used (last_used_ip).
-- Keys that exist already could do everything: they keep every scope. A key created from now on
-- without scopes gets the read scopes (DEFAULT_API_KEY_SCOPES; tenant-service always names them).
ALTER TABLE tenant_api_keys
  ADD COLUMN scopes text[] NOT NULL
    DEFAULT ARRAY['stats:read', 'conversations:read', 'messages:read', 'mappings:read', 'mappings:write',
                  'messages:send', 'templates:read', 'usage:read', 'audit:read']
    CHECK (cardinality(scopes) > 0),
  ADD COLUMN expires_at timestamptz,
  ADD COLUMN allowed_origins text[] CHECK (allowed_origins IS NULL OR cardinality(allowed_origins) > 0),
  ADD COLUMN last_used_ip text;
ALTER TABLE tenant_api_keys ALTER COLUMN scopes
  SET DEFAULT ARRAY['stats:read', 'conversations:read', 'messages:read', 'mappings:read', 'templates:read', 'usage:read', 'audit:read'];

-- The gateway's platform functions (migration 1732060800020) read and write the new columns:
-- their owner gets those columns, nothing more.
GRANT SELECT (scopes, expires_at, allowed_origins, last_used_ip), UPDATE (last_used_ip) ON tenant_api_keys TO bridge_platform;

-- The key by hash, with what the gateway checks on every request. Its result type changes: dropped,
-- created again, adopted as migration 0020's are.
DROP FUNCTION api_key_by_hash(text);
CREATE FUNCTION api_key_by_hash(key_hash text)
  RETURNS TABLE (id uuid, tenant_id text, is_active boolean, rate_limit integer, scopes text[], expires_at timestamptz, allowed_origins text[])
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp
AS $$ SELECT k.id, k.tenant_id, k.is_active, k.rate_limit, k.scopes, k.expires_at, k.allowed_origins
        FROM tenant_api_keys k WHERE k.key_hash = api_key_by_hash.key_hash $$;

-- Last use with the client address it came from: the address goes with the latest time (a batch
-- older than what is stored changes neither). used_ip[i] NULL: the address is not known.
DROP FUNCTION record_api_key_use(uuid[], timestamptz[]);
CREATE FUNCTION record_api_key_use(key_ids uuid[], used_at timestamptz[], used_ip text[] DEFAULT NULL) RETURNS void
  LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp
AS $$ UPDATE tenant_api_keys k
         SET last_used_ip = CASE WHEN k.last_used_at IS NULL OR LEAST(v.used_at, now()) >= k.last_used_at
                                 THEN COALESCE(v.used_ip, k.last_used_ip) ELSE k.last_used_ip END,
             last_used_at = GREATEST(k.last_used_at, LEAST(v.used_at, now()))
        FROM unnest(record_api_key_use.key_ids, record_api_key_use.used_at,
                    COALESCE(record_api_key_use.used_ip, array_fill(NULL::text, ARRAY[cardinality(record_api_key_use.key_ids)])))
             AS v(id, used_at, used_ip)
       WHERE k.id = v.id $$;
SELECT adopt_platform_functions(ARRAY['api_key_by_hash(text)', 'record_api_key_use(uuid[], timestamptz[], text[])']);

-- Down Migration
DROP FUNCTION record_api_key_use(uuid[], timestamptz[], text[]);
CREATE FUNCTION record_api_key_use(key_ids uuid[], used_at timestamptz[]) RETURNS void
  LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp
AS $$ UPDATE tenant_api_keys k SET last_used_at = GREATEST(k.last_used_at, LEAST(v.used_at, now()))
        FROM unnest(record_api_key_use.key_ids, record_api_key_use.used_at) AS v(id, used_at) WHERE k.id = v.id $$;
DROP FUNCTION api_key_by_hash(text);
CREATE FUNCTION api_key_by_hash(key_hash text)
  RETURNS TABLE (id uuid, tenant_id text, is_active boolean, rate_limit integer)
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp
AS $$ SELECT k.id, k.tenant_id, k.is_active, k.rate_limit FROM tenant_api_keys k WHERE k.key_hash = api_key_by_hash.key_hash $$;
SELECT adopt_platform_functions(ARRAY['api_key_by_hash(text)', 'record_api_key_use(uuid[], timestamptz[])']);
REVOKE SELECT (scopes, expires_at, allowed_origins, last_used_ip), UPDATE (last_used_ip) ON tenant_api_keys FROM bridge_platform;
ALTER TABLE tenant_api_keys DROP COLUMN last_used_ip, DROP COLUMN allowed_origins, DROP COLUMN expires_at, DROP COLUMN scopes;
