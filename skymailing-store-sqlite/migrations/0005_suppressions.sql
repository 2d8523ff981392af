-- no-transaction
-- Unsubscribes belong to the recipient: a suppression per (owner, address),
-- which outlives the client row, and unsubscribe links that keep the
-- (owner, address) they were sent for when a client's email changes. The
-- deliveries table is rebuilt (SQLite cannot change a CHECK in place) so a run
-- can record a suppressed recipient as such.
PRAGMA foreign_keys = OFF;
BEGIN;
CREATE TABLE suppressions (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    owner_id   INTEGER NOT NULL REFERENCES users ON DELETE CASCADE,
    email      TEXT NOT NULL,
    reason     TEXT NOT NULL
               CHECK (reason IN ('unsubscribed', 'hard_bounce', 'soft_bounce', 'complaint', 'manual')),
    detail     TEXT,
    created_at INTEGER NOT NULL,
    UNIQUE (owner_id, email)
);

CREATE TABLE unsubscribe_links (
    token    TEXT PRIMARY KEY,
    owner_id INTEGER NOT NULL REFERENCES users ON DELETE CASCADE,
    email    TEXT NOT NULL
);

-- Before this migration a client kept its token when its email changed, so a
-- token in mail already sent may now sit on a client with another address:
-- the mail decides (the newest delivery per token), and such a client gets a
-- new token for its current address.
INSERT OR IGNORE INTO unsubscribe_links (token, owner_id, email)
    SELECT d.unsubscribe_token, r.owner_id, d.email
    FROM deliveries d JOIN runs r ON r.id = d.run_id
    ORDER BY d.id DESC;
UPDATE clients SET unsubscribe_token = lower(hex(randomblob(32)))
    WHERE EXISTS (SELECT 1 FROM unsubscribe_links l
                  WHERE l.token = clients.unsubscribe_token
                    AND (l.owner_id <> clients.owner_id OR l.email <> clients.email));
INSERT OR IGNORE INTO unsubscribe_links (token, owner_id, email)
    SELECT unsubscribe_token, owner_id, email FROM clients;
INSERT INTO suppressions (owner_id, email, reason, created_at)
    SELECT owner_id, email, 'unsubscribed', min(unsubscribed_at)
    FROM clients WHERE unsubscribed_at IS NOT NULL GROUP BY owner_id, email;

CREATE TABLE deliveries_new (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id            INTEGER NOT NULL REFERENCES runs ON DELETE CASCADE,
    client_id         INTEGER REFERENCES clients ON DELETE SET NULL,
    email             TEXT NOT NULL,
    name              TEXT NOT NULL,
    unsubscribe_token TEXT NOT NULL,
    state             TEXT NOT NULL DEFAULT 'pending'
                      CHECK (state IN ('pending', 'sending', 'sent', 'failed', 'cancelled',
                                       'suppressed', 'bounced', 'complained')),
    attempts          INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    last_reply        TEXT,
    next_attempt_at   INTEGER NOT NULL,
    lease_until       INTEGER,
    updated_at        INTEGER NOT NULL,
    completed_at      INTEGER,
    CHECK ((state = 'sending') = (lease_until IS NOT NULL))
);
INSERT INTO deliveries_new SELECT id, run_id, client_id, email, name, unsubscribe_token, state,
    attempts, last_reply, next_attempt_at, lease_until, updated_at, completed_at FROM deliveries;
DROP TABLE deliveries;
ALTER TABLE deliveries_new RENAME TO deliveries;
CREATE INDEX deliveries_pending ON deliveries (next_attempt_at, id) WHERE state = 'pending';
CREATE INDEX deliveries_leased ON deliveries (lease_until) WHERE state = 'sending';
CREATE INDEX deliveries_run ON deliveries (run_id, state);
CREATE INDEX deliveries_client ON deliveries (client_id) WHERE client_id IS NOT NULL;
CREATE INDEX deliveries_completed ON deliveries (completed_at) WHERE completed_at IS NOT NULL;
COMMIT;
PRAGMA foreign_key_check;
PRAGMA foreign_keys = ON;
