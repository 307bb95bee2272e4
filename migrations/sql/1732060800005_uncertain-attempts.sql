-- Up Migration
-- How many times a message's delivery was attempted again after an attempt whose outcome is
-- unknown (its worker died, or could not record the outcome, while the provider may have accepted
-- it). Neither Meta's send API nor Genesys's inbound API takes an idempotency key, so such a
-- message may have reached its recipient twice: this makes every such case visible.
ALTER TABLE message_tracking ADD COLUMN uncertain_attempts integer NOT NULL DEFAULT 0;

-- Down Migration
ALTER TABLE message_tracking DROP COLUMN uncertain_attempts;
