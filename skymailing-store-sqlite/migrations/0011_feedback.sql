-- Deliverability: bounces and complaints fed back, and runs that pause.
--
-- Every report that arrives (over SMTP or the webhook) is kept, matched or
-- not; three soft bounces of an address within 30 days suppress it, so they
-- are counted from here.
CREATE TABLE feedback (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    delivery_id INTEGER REFERENCES deliveries ON DELETE SET NULL,
    owner_id    INTEGER REFERENCES users ON DELETE CASCADE,
    email       TEXT NOT NULL,
    kind        TEXT NOT NULL CHECK (kind IN ('hard', 'soft', 'complaint')),
    reason      TEXT NOT NULL,
    source      TEXT NOT NULL CHECK (source IN ('smtp', 'webhook')),
    created_at  INTEGER NOT NULL
);
CREATE INDEX feedback_address ON feedback (owner_id, email, created_at) WHERE owner_id IS NOT NULL;
CREATE INDEX feedback_recent ON feedback (created_at DESC);

-- The owner's list, newest first.
CREATE INDEX suppressions_owner ON suppressions (owner_id, id DESC);

-- A finished run's counts move when a bounce or complaint arrives later: they
-- are kept beside the others, changed in the same transaction as the delivery.
-- A run paused for its failure rate holds its pending deliveries until its
-- owner resumes or cancels it; one its owner resumed is not paused again.
ALTER TABLE runs ADD COLUMN bounced INTEGER NOT NULL DEFAULT 0;
ALTER TABLE runs ADD COLUMN complained INTEGER NOT NULL DEFAULT 0;
ALTER TABLE runs ADD COLUMN suppressed INTEGER NOT NULL DEFAULT 0;
ALTER TABLE runs ADD COLUMN paused_at INTEGER;
ALTER TABLE runs ADD COLUMN pause_reason TEXT;
ALTER TABLE runs ADD COLUMN cancelled_at INTEGER;
ALTER TABLE runs ADD COLUMN resumed_at INTEGER;
UPDATE runs SET suppressed = COALESCE(json_extract(report, '$.suppressed'), 0) WHERE report IS NOT NULL;
CREATE INDEX runs_paused ON runs (mailing_id) WHERE paused_at IS NOT NULL;
