-- Deliverability: bounces and complaints fed back, and runs that pause.
--
-- Every report that arrives (over SMTP or the webhook) is kept, matched or
-- not; three soft bounces of an address within 30 days suppress it, so they
-- are counted from here.
CREATE TABLE feedback (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    delivery_id BIGINT REFERENCES deliveries ON DELETE SET NULL,
    owner_id    BIGINT REFERENCES users ON DELETE CASCADE,
    email       TEXT NOT NULL,
    kind        TEXT NOT NULL CHECK (kind IN ('hard', 'soft', 'complaint')),
    reason      TEXT NOT NULL,
    source      TEXT NOT NULL CHECK (source IN ('smtp', 'webhook')),
    created_at  TIMESTAMPTZ NOT NULL
);
CREATE INDEX feedback_address ON feedback (owner_id, email, created_at) WHERE owner_id IS NOT NULL;
CREATE INDEX feedback_recent ON feedback (created_at DESC);

-- The owner's list, newest first.
CREATE INDEX suppressions_owner ON suppressions (owner_id, id DESC);

-- A finished run's counts move when a bounce or complaint arrives later: they
-- are kept beside the others, changed in the same transaction as the delivery.
-- A run paused for its failure rate holds its pending deliveries until its
-- owner resumes or cancels it; one its owner resumed is not paused again.
ALTER TABLE runs
    ADD COLUMN bounced      BIGINT NOT NULL DEFAULT 0,
    ADD COLUMN complained   BIGINT NOT NULL DEFAULT 0,
    ADD COLUMN suppressed   BIGINT NOT NULL DEFAULT 0,
    ADD COLUMN paused_at    TIMESTAMPTZ,
    ADD COLUMN pause_reason JSONB,
    ADD COLUMN cancelled_at TIMESTAMPTZ,
    ADD COLUMN resumed_at   TIMESTAMPTZ;
UPDATE runs SET suppressed = COALESCE((report->>'suppressed')::bigint, 0) WHERE report IS NOT NULL;
CREATE INDEX runs_paused ON runs (mailing_id) WHERE paused_at IS NOT NULL;
-- A resumed run wakes every engine on the database.
CREATE TRIGGER runs_pause_notify AFTER UPDATE OF paused_at ON runs
    FOR EACH STATEMENT EXECUTE FUNCTION skymailing_notify();
