-- Unsubscribes belong to the recipient: a suppression per (owner, address),
-- which outlives the client row, and unsubscribe links that keep the
-- (owner, address) they were sent for when a client's email changes.
CREATE TABLE suppressions (
    id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    owner_id   BIGINT NOT NULL REFERENCES users ON DELETE CASCADE,
    email      TEXT NOT NULL,
    reason     TEXT NOT NULL
               CHECK (reason IN ('unsubscribed', 'hard_bounce', 'soft_bounce', 'complaint', 'manual')),
    detail     TEXT,
    created_at TIMESTAMPTZ NOT NULL,
    UNIQUE (owner_id, email)
);

CREATE TABLE unsubscribe_links (
    token    TEXT PRIMARY KEY,
    owner_id BIGINT NOT NULL REFERENCES users ON DELETE CASCADE,
    email    TEXT NOT NULL
);

-- Every link handed out so far, for the address it was sent to. Before this
-- migration a client kept its token when its email changed, so a token in
-- mail already sent may now sit on a client with another address: the mail
-- decides (deliveries first, the newest one per token), and such a client
-- gets a new token for its current address.
INSERT INTO unsubscribe_links (token, owner_id, email)
    SELECT DISTINCT ON (d.unsubscribe_token) d.unsubscribe_token, r.owner_id, d.email
    FROM deliveries d JOIN runs r ON r.id = d.run_id
    ORDER BY d.unsubscribe_token, d.id DESC;
UPDATE clients c SET unsubscribe_token = replace(gen_random_uuid()::text || gen_random_uuid()::text, '-', '')
    WHERE EXISTS (SELECT 1 FROM unsubscribe_links l
                  WHERE l.token = c.unsubscribe_token AND (l.owner_id <> c.owner_id OR l.email <> c.email));
INSERT INTO unsubscribe_links (token, owner_id, email)
    SELECT unsubscribe_token, owner_id, email FROM clients
    ON CONFLICT (token) DO NOTHING;
INSERT INTO suppressions (owner_id, email, reason, created_at)
    SELECT owner_id, email, 'unsubscribed', min(unsubscribed_at)
    FROM clients WHERE unsubscribed_at IS NOT NULL GROUP BY owner_id, email;

-- A run records a suppressed recipient as such (and, later, bounces and complaints).
ALTER TABLE deliveries DROP CONSTRAINT deliveries_state_check;
ALTER TABLE deliveries ADD CONSTRAINT deliveries_state_check CHECK (state IN
    ('pending', 'sending', 'sent', 'failed', 'cancelled', 'suppressed', 'bounced', 'complained'));
