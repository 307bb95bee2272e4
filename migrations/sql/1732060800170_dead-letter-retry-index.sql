-- Up Migration
-- Dead letters (issue #16): the admin API's bulk retry lists a tenant's failed or dead messages by
-- when they were given up (updated_at), oldest first by id (shared/src/dead-letters.ts
-- retryMessages). Partial: only messages that ended undelivered, a small share of the table.
CREATE INDEX message_tracking_given_up_idx ON message_tracking (tenant_id, status, updated_at, id) WHERE status IN ('failed', 'dead');

-- Down Migration
DROP INDEX message_tracking_given_up_idx;
