-- no-transaction
-- Accounts without a password: an application that signs its users in itself
-- creates them so (a password can be set later through a reset link).
-- SQLite cannot drop a NOT NULL: the table is rebuilt (SQLite's documented
-- way: foreign keys off, new table, copy, drop, rename, on again; the ids are
-- copied, so every reference still holds). The AUTOINCREMENT counter is
-- carried over, so the ids of deleted users are never handed out again.
PRAGMA foreign_keys = OFF;
BEGIN;
CREATE TABLE users_new (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    email         TEXT NOT NULL CHECK (email = lower(email) AND email <> ''),
    name          TEXT NOT NULL,
    time_zone     TEXT NOT NULL,
    role          TEXT NOT NULL CHECK (role IN ('user', 'manager', 'admin')),
    state         TEXT NOT NULL CHECK (state IN ('pending_verification', 'active', 'blocked')),
    password_hash TEXT,
    created_at    INTEGER NOT NULL,
    language      TEXT
);
INSERT INTO users_new (id, email, name, time_zone, role, state, password_hash, created_at, language)
    SELECT id, email, name, time_zone, role, state, password_hash, created_at, language FROM users;
INSERT INTO sqlite_sequence (name, seq)
    SELECT 'users_new', 0 WHERE NOT EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = 'users_new');
UPDATE sqlite_sequence
    SET seq = max(seq, COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'users'), 0))
    WHERE name = 'users_new';
DROP TABLE users;
ALTER TABLE users_new RENAME TO users;
CREATE UNIQUE INDEX users_email_key ON users (email);
COMMIT;
PRAGMA foreign_keys = ON;
