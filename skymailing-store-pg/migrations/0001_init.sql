-- SkyMailing schema for PostgreSQL. Rules live in the schema too, not only in code.

CREATE TABLE users (
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    email         TEXT NOT NULL CHECK (email = lower(email) AND email <> ''),
    name          TEXT NOT NULL,
    time_zone     TEXT NOT NULL,
    role          TEXT NOT NULL CHECK (role IN ('user', 'manager', 'admin')),
    state         TEXT NOT NULL CHECK (state IN ('pending_verification', 'active', 'blocked')),
    password_hash TEXT NOT NULL,
    created_at    TIMESTAMPTZ NOT NULL
);
CREATE UNIQUE INDEX users_email_key ON users (email);

CREATE TABLE sessions (
    token_hash TEXT PRIMARY KEY,
    user_id    BIGINT NOT NULL REFERENCES users ON DELETE CASCADE,
    expires_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX sessions_user ON sessions (user_id);
CREATE INDEX sessions_expiry ON sessions (expires_at);

CREATE TABLE tokens (
    token_hash TEXT PRIMARY KEY,
    user_id    BIGINT NOT NULL REFERENCES users ON DELETE CASCADE,
    purpose    TEXT NOT NULL CHECK (purpose IN ('verify_email', 'password_reset')),
    expires_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX tokens_user ON tokens (user_id, purpose);
CREATE INDEX tokens_expiry ON tokens (expires_at);

CREATE TABLE clients (
    id                BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    owner_id          BIGINT NOT NULL REFERENCES users ON DELETE CASCADE,
    email             TEXT NOT NULL CHECK (email = lower(email) AND email <> ''),
    full_name         TEXT NOT NULL,
    comment           TEXT NOT NULL DEFAULT '',
    unsubscribed_at   TIMESTAMPTZ,
    unsubscribe_token TEXT NOT NULL,
    created_at        TIMESTAMPTZ NOT NULL
);
CREATE UNIQUE INDEX clients_owner_email_key ON clients (owner_id, email);
CREATE UNIQUE INDEX clients_unsubscribe_token_key ON clients (unsubscribe_token);
CREATE INDEX clients_owner_name ON clients (owner_id, lower(full_name), id);
CREATE INDEX clients_email ON clients (email);

CREATE TABLE messages (
    id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    owner_id   BIGINT NOT NULL REFERENCES users ON DELETE CASCADE,
    subject    TEXT NOT NULL,
    body_text  TEXT NOT NULL,
    body_html  TEXT,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL
);

CREATE TABLE mailings (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    owner_id    BIGINT NOT NULL REFERENCES users ON DELETE CASCADE,
    name        TEXT NOT NULL,
    message_id  BIGINT NOT NULL CONSTRAINT mailings_message_fkey REFERENCES messages ON DELETE RESTRICT,
    start_at    TIMESTAMPTZ NOT NULL,
    end_at      TIMESTAMPTZ NOT NULL,
    periodicity TEXT NOT NULL CHECK (periodicity IN ('once', 'daily', 'weekly', 'monthly')),
    enabled     BOOLEAN NOT NULL DEFAULT TRUE,
    disabled_by TEXT CHECK (disabled_by IN ('owner', 'manager')),
    next_run_at TIMESTAMPTZ,
    created_at  TIMESTAMPTZ NOT NULL,
    updated_at  TIMESTAMPTZ NOT NULL,
    CONSTRAINT mailings_window CHECK (end_at > start_at),
    CONSTRAINT mailings_disabled_by CHECK (enabled = (disabled_by IS NULL))
);
CREATE INDEX mailings_due ON mailings (next_run_at) WHERE enabled AND next_run_at IS NOT NULL;
CREATE INDEX mailings_owner ON mailings (owner_id, id DESC);
CREATE INDEX mailings_message ON mailings (message_id);

CREATE TABLE mailing_clients (
    mailing_id BIGINT NOT NULL REFERENCES mailings ON DELETE CASCADE,
    client_id  BIGINT NOT NULL REFERENCES clients ON DELETE CASCADE,
    PRIMARY KEY (mailing_id, client_id)
);
CREATE INDEX mailing_clients_client ON mailing_clients (client_id);

CREATE TABLE runs (
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    mailing_id    BIGINT REFERENCES mailings ON DELETE SET NULL,
    owner_id      BIGINT NOT NULL REFERENCES users ON DELETE CASCADE,
    mailing_name  TEXT NOT NULL,
    slot_at       TIMESTAMPTZ NOT NULL,
    skipped_slots INTEGER NOT NULL DEFAULT 0 CHECK (skipped_slots >= 0),
    started_at    TIMESTAMPTZ NOT NULL,
    finished_at   TIMESTAMPTZ,
    recipients    BIGINT NOT NULL DEFAULT 0,
    sent          BIGINT NOT NULL DEFAULT 0,
    failed        BIGINT NOT NULL DEFAULT 0,
    cancelled     BIGINT NOT NULL DEFAULT 0,
    report        TEXT,
    subject       TEXT NOT NULL,
    body_text     TEXT NOT NULL,
    body_html     TEXT,
    nonce         TEXT NOT NULL
);
-- One run per mailing and slot: restarts and racing schedulers cannot make a second.
CREATE UNIQUE INDEX runs_mailing_slot_key ON runs (mailing_id, slot_at);
CREATE INDEX runs_owner ON runs (owner_id, id DESC);
CREATE INDEX runs_unfinished ON runs (id) WHERE finished_at IS NULL;

CREATE TABLE deliveries (
    id                BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    run_id            BIGINT NOT NULL REFERENCES runs ON DELETE CASCADE,
    client_id         BIGINT REFERENCES clients ON DELETE SET NULL,
    email             TEXT NOT NULL,
    name              TEXT NOT NULL,
    unsubscribe_token TEXT NOT NULL,
    state             TEXT NOT NULL DEFAULT 'pending'
                      CHECK (state IN ('pending', 'sending', 'sent', 'failed', 'cancelled')),
    attempts          INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    last_reply        TEXT,
    next_attempt_at   TIMESTAMPTZ NOT NULL,
    lease_until       TIMESTAMPTZ,
    updated_at        TIMESTAMPTZ NOT NULL,
    completed_at      TIMESTAMPTZ,
    CONSTRAINT deliveries_lease CHECK ((state = 'sending') = (lease_until IS NOT NULL))
);
CREATE INDEX deliveries_pending ON deliveries (next_attempt_at, id) WHERE state = 'pending';
CREATE INDEX deliveries_leased ON deliveries (lease_until) WHERE state = 'sending';
CREATE INDEX deliveries_run ON deliveries (run_id, state);
CREATE INDEX deliveries_client ON deliveries (client_id) WHERE client_id IS NOT NULL;
CREATE INDEX deliveries_completed ON deliveries (completed_at) WHERE completed_at IS NOT NULL;

CREATE TABLE blog_posts (
    id           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    title        TEXT NOT NULL,
    body         TEXT NOT NULL,
    image        TEXT,
    published    BOOLEAN NOT NULL DEFAULT FALSE,
    views        BIGINT NOT NULL DEFAULT 0,
    published_at TIMESTAMPTZ,
    created_at   TIMESTAMPTZ NOT NULL
);
CREATE INDEX blog_posts_published ON blog_posts (published_at DESC, id DESC) WHERE published;

-- Wake-ups across processes: every engine LISTENs on 'skymailing'. Statement-level
-- triggers, so a change of many rows sends one notification (and NOTIFY folds
-- identical ones within a transaction).
CREATE FUNCTION skymailing_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('skymailing', TG_TABLE_NAME);
    RETURN NULL;
END $$;
CREATE TRIGGER mailings_notify AFTER INSERT OR UPDATE OR DELETE ON mailings
    FOR EACH STATEMENT EXECUTE FUNCTION skymailing_notify();
CREATE TRIGGER runs_notify AFTER INSERT ON runs
    FOR EACH STATEMENT EXECUTE FUNCTION skymailing_notify();
CREATE TRIGGER users_notify AFTER UPDATE OF state ON users
    FOR EACH STATEMENT EXECUTE FUNCTION skymailing_notify();
