-- no-transaction
-- The engine parks a mailing whose step failed (bad data, a bug) instead of
-- stopping: disabled with the reason 'engine_error', until someone enables it.
-- SQLite cannot change a CHECK constraint in place: the table is rebuilt (the
-- documented procedure: foreign keys off, copy, swap, check, foreign keys on),
-- keeping every row id, so the tables that reference mailings stay as they are.
PRAGMA foreign_keys = OFF;
BEGIN;
CREATE TABLE mailings_new (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    owner_id    INTEGER NOT NULL REFERENCES users ON DELETE CASCADE,
    name        TEXT NOT NULL,
    message_id  INTEGER NOT NULL REFERENCES messages ON DELETE RESTRICT,
    start_at    INTEGER NOT NULL,
    end_at      INTEGER NOT NULL,
    periodicity TEXT NOT NULL CHECK (periodicity IN ('once', 'daily', 'weekly', 'monthly')),
    enabled     INTEGER NOT NULL DEFAULT 1 CHECK (enabled IN (0, 1)),
    disabled_by TEXT CHECK (disabled_by IN ('owner', 'manager', 'engine_error')),
    next_run_at INTEGER,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL,
    CHECK (end_at > start_at),
    CHECK (enabled = (disabled_by IS NULL))
);
INSERT INTO mailings_new (id, owner_id, name, message_id, start_at, end_at, periodicity,
                          enabled, disabled_by, next_run_at, created_at, updated_at)
    SELECT id, owner_id, name, message_id, start_at, end_at, periodicity,
           enabled, disabled_by, next_run_at, created_at, updated_at FROM mailings;
DROP TABLE mailings;
ALTER TABLE mailings_new RENAME TO mailings;
CREATE INDEX mailings_due ON mailings (next_run_at) WHERE enabled = 1 AND next_run_at IS NOT NULL;
CREATE INDEX mailings_owner ON mailings (owner_id, id DESC);
CREATE INDEX mailings_message ON mailings (message_id);
COMMIT;
PRAGMA foreign_key_check;
PRAGMA foreign_keys = ON;
