-- SkyMailing schema for SQLite. Times are INTEGER microseconds since the Unix
-- epoch (UTC), so they compare and index exactly.

CREATE TABLE users (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    email         TEXT NOT NULL CHECK (email = lower(email) AND email <> ''),
    name          TEXT NOT NULL,
    time_zone     TEXT NOT NULL,
    role          TEXT NOT NULL CHECK (role IN ('user', 'manager', 'admin')),
    state         TEXT NOT NULL CHECK (state IN ('pending_verification', 'active', 'blocked')),
    password_hash TEXT NOT NULL,
    created_at    INTEGER NOT NULL
);
CREATE UNIQUE INDEX users_email_key ON users (email);

CREATE TABLE sessions (
    token_hash TEXT PRIMARY KEY,
    user_id    INTEGER NOT NULL REFERENCES users ON DELETE CASCADE,
    expires_at INTEGER NOT NULL
);
CREATE INDEX sessions_user ON sessions (user_id);
CREATE INDEX sessions_expiry ON sessions (expires_at);

CREATE TABLE tokens (
    token_hash TEXT PRIMARY KEY,
    user_id    INTEGER NOT NULL REFERENCES users ON DELETE CASCADE,
    purpose    TEXT NOT NULL CHECK (purpose IN ('verify_email', 'password_reset')),
    expires_at INTEGER NOT NULL
);
CREATE INDEX tokens_user ON tokens (user_id, purpose);
CREATE INDEX tokens_expiry ON tokens (expires_at);

CREATE TABLE clients (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    owner_id          INTEGER NOT NULL REFERENCES users ON DELETE CASCADE,
    email             TEXT NOT NULL CHECK (email = lower(email) AND email <> ''),
    full_name         TEXT NOT NULL,
    comment           TEXT NOT NULL DEFAULT '',
    unsubscribed_at   INTEGER,
    unsubscribe_token TEXT NOT NULL,
    created_at        INTEGER NOT NULL
);
CREATE UNIQUE INDEX clients_owner_email_key ON clients (owner_id, email);
CREATE UNIQUE INDEX clients_unsubscribe_token_key ON clients (unsubscribe_token);
CREATE INDEX clients_owner_name ON clients (owner_id, lower(full_name), id);
CREATE INDEX clients_email ON clients (email);

CREATE TABLE messages (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    owner_id   INTEGER NOT NULL REFERENCES users ON DELETE CASCADE,
    subject    TEXT NOT NULL,
    body_text  TEXT NOT NULL,
    body_html  TEXT,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);

CREATE TABLE mailings (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    owner_id    INTEGER NOT NULL REFERENCES users ON DELETE CASCADE,
    name        TEXT NOT NULL,
    message_id  INTEGER NOT NULL REFERENCES messages ON DELETE RESTRICT,
    start_at    INTEGER NOT NULL,
    end_at      INTEGER NOT NULL,
    periodicity TEXT NOT NULL CHECK (periodicity IN ('once', 'daily', 'weekly', 'monthly')),
    enabled     INTEGER NOT NULL DEFAULT 1 CHECK (enabled IN (0, 1)),
    disabled_by TEXT CHECK (disabled_by IN ('owner', 'manager')),
    next_run_at INTEGER,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL,
    CHECK (end_at > start_at),
    CHECK (enabled = (disabled_by IS NULL))
);
CREATE INDEX mailings_due ON mailings (next_run_at) WHERE enabled = 1 AND next_run_at IS NOT NULL;
CREATE INDEX mailings_owner ON mailings (owner_id, id DESC);
CREATE INDEX mailings_message ON mailings (message_id);

CREATE TABLE mailing_clients (
    mailing_id INTEGER NOT NULL REFERENCES mailings ON DELETE CASCADE,
    client_id  INTEGER NOT NULL REFERENCES clients ON DELETE CASCADE,
    PRIMARY KEY (mailing_id, client_id)
) WITHOUT ROWID;
CREATE INDEX mailing_clients_client ON mailing_clients (client_id);

CREATE TABLE runs (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    mailing_id    INTEGER REFERENCES mailings ON DELETE SET NULL,
    owner_id      INTEGER NOT NULL REFERENCES users ON DELETE CASCADE,
    mailing_name  TEXT NOT NULL,
    slot_at       INTEGER NOT NULL,
    skipped_slots INTEGER NOT NULL DEFAULT 0 CHECK (skipped_slots >= 0),
    started_at    INTEGER NOT NULL,
    finished_at   INTEGER,
    recipients    INTEGER NOT NULL DEFAULT 0,
    sent          INTEGER NOT NULL DEFAULT 0,
    failed        INTEGER NOT NULL DEFAULT 0,
    cancelled     INTEGER NOT NULL DEFAULT 0,
    report        TEXT,
    subject       TEXT NOT NULL,
    body_text     TEXT NOT NULL,
    body_html     TEXT,
    nonce         TEXT NOT NULL
);
-- One run per mailing and slot.
CREATE UNIQUE INDEX runs_mailing_slot_key ON runs (mailing_id, slot_at);
CREATE INDEX runs_owner ON runs (owner_id, id DESC);
CREATE INDEX runs_unfinished ON runs (id) WHERE finished_at IS NULL;

CREATE TABLE deliveries (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id            INTEGER NOT NULL REFERENCES runs ON DELETE CASCADE,
    client_id         INTEGER REFERENCES clients ON DELETE SET NULL,
    email             TEXT NOT NULL,
    name              TEXT NOT NULL,
    unsubscribe_token TEXT NOT NULL,
    state             TEXT NOT NULL DEFAULT 'pending'
                      CHECK (state IN ('pending', 'sending', 'sent', 'failed', 'cancelled')),
    attempts          INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    last_reply        TEXT,
    next_attempt_at   INTEGER NOT NULL,
    lease_until       INTEGER,
    updated_at        INTEGER NOT NULL,
    completed_at      INTEGER,
    CHECK ((state = 'sending') = (lease_until IS NOT NULL))
);
CREATE INDEX deliveries_pending ON deliveries (next_attempt_at, id) WHERE state = 'pending';
CREATE INDEX deliveries_leased ON deliveries (lease_until) WHERE state = 'sending';
CREATE INDEX deliveries_run ON deliveries (run_id, state);
CREATE INDEX deliveries_client ON deliveries (client_id) WHERE client_id IS NOT NULL;
CREATE INDEX deliveries_completed ON deliveries (completed_at) WHERE completed_at IS NOT NULL;

CREATE TABLE blog_posts (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    title        TEXT NOT NULL,
    body         TEXT NOT NULL,
    image        TEXT,
    published    INTEGER NOT NULL DEFAULT 0 CHECK (published IN (0, 1)),
    views        INTEGER NOT NULL DEFAULT 0,
    published_at INTEGER,
    created_at   INTEGER NOT NULL
);
CREATE INDEX blog_posts_published ON blog_posts (published_at DESC, id DESC) WHERE published = 1;
