-- Up Migration
-- Deliveries in flight (leased), per lane: the claim asks "is anything of this lane in flight?"
-- for every candidate, and this answers it without reading the lane's backlog.
CREATE INDEX outbox_inflight_idx ON outbox (tenant_id, lane) WHERE state = 'pending' AND locked_until IS NOT NULL;

-- Down Migration
DROP INDEX outbox_inflight_idx;
