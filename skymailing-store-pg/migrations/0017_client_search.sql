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
        EXECUTE 'CREATE INDEX clients_search ON clients USING gin '
                '((email || '' '' || lower(full_name) || '' '' || lower(comment) || '' '' || tags) gin_trgm_ops)';
    ELSE
        RAISE WARNING 'pg_trgm is not installed: client searches read every client';
    END IF;
END
$$;
