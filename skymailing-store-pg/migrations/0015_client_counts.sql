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
-- tag list reads these few rows instead of every client. Keyed by a hash of
-- the string (twenty tags of fifty wide characters exceed what a btree
-- entry may hold). Each statement's changes are applied in one pass, in the
-- order of the key, so that two statements moving clients between the same
-- sets lock them in the same order (no deadlock).
CREATE TABLE client_tag_sets (
    owner_id BIGINT NOT NULL REFERENCES users ON DELETE CASCADE,
    tags     TEXT NOT NULL,
    clients  BIGINT NOT NULL
);
CREATE UNIQUE INDEX client_tag_sets_key ON client_tag_sets (owner_id, (md5(tags)));
INSERT INTO client_tag_sets (owner_id, tags, clients)
    SELECT owner_id, tags, count(*) FROM clients WHERE tags <> '' GROUP BY owner_id, tags;

CREATE FUNCTION client_tag_sets_apply(changes JSONB) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    -- changes: [{"owner_id": 1, "tags": "|a|", "n": -2}, ...]
    INSERT INTO client_tag_sets AS s (owner_id, tags, clients)
        SELECT c.owner_id, c.tags, sum(c.n)
        FROM jsonb_to_recordset(changes) AS c(owner_id BIGINT, tags TEXT, n BIGINT)
        GROUP BY c.owner_id, c.tags
        HAVING sum(c.n) <> 0
        ORDER BY c.owner_id, md5(c.tags)
    ON CONFLICT (owner_id, (md5(tags))) DO UPDATE SET clients = s.clients + EXCLUDED.clients;
    DELETE FROM client_tag_sets s
    USING (SELECT DISTINCT c.owner_id FROM jsonb_to_recordset(changes) AS c(owner_id BIGINT)) o
    WHERE s.owner_id = o.owner_id AND s.clients <= 0;
END $$;

CREATE FUNCTION client_tag_sets_added() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM client_tag_sets_apply(COALESCE(jsonb_agg(jsonb_build_object('owner_id', owner_id, 'tags', tags, 'n', 1)), '[]'))
    FROM added WHERE tags <> '';
    RETURN NULL;
END $$;

CREATE FUNCTION client_tag_sets_removed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM client_tag_sets_apply(COALESCE(jsonb_agg(jsonb_build_object('owner_id', owner_id, 'tags', tags, 'n', -1)), '[]'))
    FROM removed WHERE tags <> '';
    RETURN NULL;
END $$;

CREATE FUNCTION client_tag_sets_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM client_tag_sets_apply(COALESCE(jsonb_agg(c), '[]')) FROM (
        SELECT jsonb_build_object('owner_id', r.owner_id, 'tags', r.tags, 'n', -1) AS c
        FROM removed r JOIN added a ON a.id = r.id WHERE r.tags <> a.tags AND r.tags <> ''
        UNION ALL
        SELECT jsonb_build_object('owner_id', a.owner_id, 'tags', a.tags, 'n', 1)
        FROM removed r JOIN added a ON a.id = r.id WHERE r.tags <> a.tags AND a.tags <> ''
    ) changes;
    RETURN NULL;
END $$;

CREATE TRIGGER client_tags_counted_on_insert AFTER INSERT ON clients
    REFERENCING NEW TABLE AS added FOR EACH STATEMENT EXECUTE FUNCTION client_tag_sets_added();
CREATE TRIGGER client_tags_counted_on_delete AFTER DELETE ON clients
    REFERENCING OLD TABLE AS removed FOR EACH STATEMENT EXECUTE FUNCTION client_tag_sets_removed();
CREATE TRIGGER client_tags_counted_on_update AFTER UPDATE ON clients
    REFERENCING OLD TABLE AS removed NEW TABLE AS added FOR EACH STATEMENT EXECUTE FUNCTION client_tag_sets_changed();
