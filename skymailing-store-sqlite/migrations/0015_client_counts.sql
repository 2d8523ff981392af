-- Each owner's number of clients, kept by the database itself, so that a
-- list's total is one row read instead of a count over every client.
CREATE TABLE client_counts (
    owner_id INTEGER PRIMARY KEY REFERENCES users ON DELETE CASCADE,
    clients  INTEGER NOT NULL DEFAULT 0
);
INSERT INTO client_counts (owner_id, clients)
    SELECT owner_id, count(*) FROM clients GROUP BY owner_id;

CREATE TRIGGER clients_counted_on_insert AFTER INSERT ON clients BEGIN
    INSERT INTO client_counts (owner_id, clients) VALUES (NEW.owner_id, 1)
    ON CONFLICT (owner_id) DO UPDATE SET clients = clients + 1;
END;
CREATE TRIGGER clients_counted_on_delete AFTER DELETE ON clients BEGIN
    UPDATE client_counts SET clients = clients - 1 WHERE owner_id = OLD.owner_id;
END;
