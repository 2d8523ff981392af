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

-- And how many of an owner's clients carry each set of tags (the stored
-- '|a|b|' string; '' is not kept), for the tag chips and their counts: the
-- tag list reads these few rows instead of every client.
CREATE TABLE client_tag_sets (
    owner_id BIGINT NOT NULL REFERENCES users ON DELETE CASCADE,
    tags     TEXT COLLATE "C" NOT NULL,
    clients  BIGINT NOT NULL,
    PRIMARY KEY (owner_id, tags)
);
INSERT INTO client_tag_sets (owner_id, tags, clients)
    SELECT owner_id, tags, count(*) FROM clients WHERE tags <> '' GROUP BY owner_id, tags;

CREATE FUNCTION client_tag_sets_add(rows_owner BIGINT, rows_tags TEXT, n BIGINT) RETURNS void
LANGUAGE sql AS $$
    INSERT INTO client_tag_sets AS s (owner_id, tags, clients) VALUES (rows_owner, rows_tags, n)
    ON CONFLICT (owner_id, tags) DO UPDATE SET clients = s.clients + EXCLUDED.clients;
$$;

CREATE FUNCTION client_tag_sets_added() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM client_tag_sets_add(owner_id, tags, count(*))
    FROM added WHERE tags <> '' GROUP BY owner_id, tags;
    RETURN NULL;
END $$;

CREATE FUNCTION client_tag_sets_removed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM client_tag_sets_add(owner_id, tags, -count(*))
    FROM removed WHERE tags <> '' GROUP BY owner_id, tags;
    DELETE FROM client_tag_sets WHERE clients <= 0;
    RETURN NULL;
END $$;

CREATE FUNCTION client_tag_sets_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM client_tag_sets_add(r.owner_id, r.tags, -count(*))
    FROM removed r JOIN added a ON a.id = r.id
    WHERE r.tags <> a.tags AND r.tags <> '' GROUP BY r.owner_id, r.tags;
    PERFORM client_tag_sets_add(a.owner_id, a.tags, count(*))
    FROM removed r JOIN added a ON a.id = r.id
    WHERE r.tags <> a.tags AND a.tags <> '' GROUP BY a.owner_id, a.tags;
    DELETE FROM client_tag_sets WHERE clients <= 0;
    RETURN NULL;
END $$;

CREATE TRIGGER client_tags_counted_on_insert AFTER INSERT ON clients
    REFERENCING NEW TABLE AS added FOR EACH STATEMENT EXECUTE FUNCTION client_tag_sets_added();
CREATE TRIGGER client_tags_counted_on_delete AFTER DELETE ON clients
    REFERENCING OLD TABLE AS removed FOR EACH STATEMENT EXECUTE FUNCTION client_tag_sets_removed();
CREATE TRIGGER client_tags_counted_on_update AFTER UPDATE ON clients
    REFERENCING OLD TABLE AS removed NEW TABLE AS added FOR EACH STATEMENT EXECUTE FUNCTION client_tag_sets_changed();
