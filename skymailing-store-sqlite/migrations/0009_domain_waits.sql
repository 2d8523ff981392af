-- Per-domain pacing: a delivery held back for its recipient domain (over its
-- limit, or backing off after a throttling reply) names the domain, so its
-- run can say what it waits for.
ALTER TABLE deliveries ADD COLUMN waiting_for TEXT;
