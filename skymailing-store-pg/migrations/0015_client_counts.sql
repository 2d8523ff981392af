-- Each owner's number of clients, kept by the database itself (statement
-- triggers with transition tables: one update per statement, however many
-- rows an import writes), so that a list's total is one row read instead of
-- a count over every client. Exact, and the same for every process.
CREATE TABLE client_counts (
    owner_id BIGINT PRIMARY KEY REFERENCES users ON DELETE CASCADE,
    clients  BIGINT NOT NULL DEFAULT 0
);
INSERT INTO client_counts (owner_id, clients)
    SELECT owner_id, count(*) FROM clients GROUP BY owner_id;

CREATE FUNCTION client_counts_added() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO client_counts AS c (owner_id, clients)
        SELECT owner_id, count(*) FROM added GROUP BY owner_id
    ON CONFLICT (owner_id) DO UPDATE SET clients = c.clients + EXCLUDED.clients;
    RETURN NULL;
END $$;

CREATE FUNCTION client_counts_removed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE client_counts c SET clients = c.clients - r.n
    FROM (SELECT owner_id, count(*) AS n FROM removed GROUP BY owner_id) r
    WHERE c.owner_id = r.owner_id;
    RETURN NULL;
END $$;

CREATE TRIGGER clients_counted_on_insert AFTER INSERT ON clients
    REFERENCING NEW TABLE AS added FOR EACH STATEMENT EXECUTE FUNCTION client_counts_added();
CREATE TRIGGER clients_counted_on_delete AFTER DELETE ON clients
    REFERENCING OLD TABLE AS removed FOR EACH STATEMENT EXECUTE FUNCTION client_counts_removed();
