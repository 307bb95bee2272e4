-- Up Migration
-- The platform-wide Meta handshake (GET /webhook/meta) names its tenant only by a verify token.
-- The SHA-256 (hex) of each tenant's token, kept beside its encrypted Meta credentials, finds the
-- tenant with one indexed lookup, instead of decrypting every tenant's credentials per request.
-- tenant-service writes it with the credentials. Rows stored before this migration are left NULL
-- here (only tenant-service holds the key that opens them): tenant-service fills them when it
-- starts. Until then those tenants' platform-wide handshakes answer 403, as for an unknown token.
ALTER TABLE tenant_credentials
  ADD COLUMN verify_token_hash text CHECK (verify_token_hash ~ '^[0-9a-f]{64}$'),
  ADD CONSTRAINT tenant_credentials_verify_token_hash_meta CHECK (type = 'meta' OR verify_token_hash IS NULL);
-- Not unique: tenants sharing one platform-wide Meta app may share its verify token.
CREATE INDEX tenant_credentials_verify_token_hash_idx ON tenant_credentials (verify_token_hash) WHERE verify_token_hash IS NOT NULL;

-- Down Migration
DROP INDEX tenant_credentials_verify_token_hash_idx;
ALTER TABLE tenant_credentials DROP CONSTRAINT tenant_credentials_verify_token_hash_meta, DROP COLUMN verify_token_hash;
