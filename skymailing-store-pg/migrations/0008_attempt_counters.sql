-- Sign-in, registration and reset limits shared by every process on this
-- database: one counter per key and one-minute window. Unlogged: losing them
-- in a crash only forgets a minute of attempts.
CREATE UNLOGGED TABLE attempt_counters (
    key          TEXT PRIMARY KEY,
    window_start TIMESTAMPTZ NOT NULL,
    count        INTEGER NOT NULL
);
