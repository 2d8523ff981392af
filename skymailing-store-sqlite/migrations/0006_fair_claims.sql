-- Claims take a share of each run's due deliveries in order: an index per
-- run over the pending ones.
CREATE INDEX deliveries_run_pending ON deliveries (run_id, next_attempt_at, id) WHERE state = 'pending';
