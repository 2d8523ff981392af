-- Big client lists, filtered.
--
-- A tag: the clients of the owner's tag sets that carry it (client_tag_sets),
-- in list order, from an index alone. md5 because a stored tag set may be
-- longer than a B-tree entry may be (as client_tag_sets' own key).
CREATE INDEX clients_owner_tags_sort ON clients (owner_id, (md5(tags)), sort_key, id);

-- A search: a trigram index over the text a search looks through (the
-- expression must match the store's `search_text!`). pg_trgm ships with
-- PostgreSQL (contrib) and is a trusted extension; where it is missing or
-- may not be created, searches still work, reading each of the owner's
-- clients.
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'pg_trgm') THEN
        BEGIN
            CREATE EXTENSION IF NOT EXISTS pg_trgm;
        EXCEPTION WHEN insufficient_privilege THEN
            RAISE WARNING 'pg_trgm could not be created (%): client searches read every client', SQLERRM;
            RETURN;
        END;
        BEGIN
            EXECUTE 'CREATE INDEX clients_search ON clients USING gin '
                    '((email || '' '' || lower(full_name) || '' '' || lower(comment) || '' '' || tags) gin_trgm_ops)';
        EXCEPTION WHEN OTHERS THEN
            -- pg_trgm installed in a schema off the search path, its library
            -- missing, …: searches work without the index.
            RAISE WARNING 'the trigram index of clients could not be created (%): client searches read every client', SQLERRM;
        END;
    ELSE
        RAISE WARNING 'pg_trgm is not installed: client searches read every client';
    END IF;
END
$$;

-- A deep page: each owner's list changes (clients added, removed or renamed)
-- are counted, once per statement, and the store reuses the positions it
-- found in the list (every thousandth row) while the count stays
-- (skymailing-store-sql's `anchors`), in every process alike.
ALTER TABLE client_counts ADD COLUMN changes BIGINT NOT NULL DEFAULT 0;

CREATE OR REPLACE FUNCTION client_counts_added() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO client_counts AS c (owner_id, clients)
        SELECT owner_id, count(*) FROM added GROUP BY owner_id
    ON CONFLICT (owner_id) DO UPDATE SET clients = c.clients + EXCLUDED.clients, changes = c.changes + 1;
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION client_counts_removed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE client_counts c SET clients = c.clients - r.n, changes = c.changes + 1
    FROM (SELECT owner_id, count(*) AS n FROM removed GROUP BY owner_id) r
    WHERE c.owner_id = r.owner_id;
    RETURN NULL;
END $$;

CREATE FUNCTION client_counts_reordered() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE client_counts c SET changes = c.changes + 1
    WHERE c.owner_id IN (SELECT n.owner_id FROM renamed n JOIN before_rename o ON o.id = n.id
                         WHERE o.sort_key <> n.sort_key);
    RETURN NULL;
END $$;

-- (Every update statement: a trigger with transition tables may not name
-- columns.)
CREATE TRIGGER clients_reordered AFTER UPDATE ON clients
    REFERENCING OLD TABLE AS before_rename NEW TABLE AS renamed
    FOR EACH STATEMENT EXECUTE FUNCTION client_counts_reordered();
