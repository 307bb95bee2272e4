-- Up Migration
-- The queue swings from empty to a large backlog (after an outage) and back: keep its statistics
-- and dead rows up to date after every thousand changes rather than after a fraction of its size.
ALTER TABLE outbox SET (autovacuum_analyze_threshold = 1000, autovacuum_analyze_scale_factor = 0,
                        autovacuum_vacuum_threshold = 1000, autovacuum_vacuum_scale_factor = 0);

-- Down Migration
ALTER TABLE outbox RESET (autovacuum_analyze_threshold, autovacuum_analyze_scale_factor,
                          autovacuum_vacuum_threshold, autovacuum_vacuum_scale_factor);
