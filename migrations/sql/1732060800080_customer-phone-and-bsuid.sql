-- Up Migration
-- Customers without a phone number (issue #12, part 1). WhatsApp users may hide their number
-- behind a username; Meta then names them by a business-scoped user id (BSUID). A customer's
-- mapping stays keyed by `wa_id`, the id the bridge first knew them by (their phone number, or
-- their BSUID when Meta gave no number), which is also their lanes' key and, unless they changed
-- number, the id Genesys knows them by. Beside it the mapping keeps both ids as they become known:
-- `phone` (their phone number) and `user_id` (their BSUID), each at most one customer's per
-- tenant, so that a later webhook carrying either one finds the same mapping; and `username`,
-- the customer's WhatsApp username when they have one.
SELECT set_config('app.scope', 'platform', true);

ALTER TABLE conversation_mappings ADD COLUMN phone text, ADD COLUMN user_id text, ADD COLUMN username text;
UPDATE conversation_mappings SET phone = wa_id WHERE wa_id ~ '^[0-9]{7,15}$';
UPDATE conversation_mappings SET user_id = wa_id WHERE wa_id ~ '^[A-Z]{2}\.(ENT\.)?[A-Za-z0-9]{1,128}$';
CREATE UNIQUE INDEX conversation_mappings_phone_key ON conversation_mappings (tenant_id, phone) WHERE phone IS NOT NULL;
CREATE UNIQUE INDEX conversation_mappings_user_id_key ON conversation_mappings (tenant_id, user_id) WHERE user_id IS NOT NULL;

-- Down Migration
DROP INDEX conversation_mappings_user_id_key;
DROP INDEX conversation_mappings_phone_key;
ALTER TABLE conversation_mappings DROP COLUMN username, DROP COLUMN user_id, DROP COLUMN phone;
