-- Big client lists, filtered.
--
-- A tag: the clients of the owner's tag sets that carry it (client_tag_sets),
-- in list order, from an index alone.
CREATE INDEX clients_owner_tags_sort ON clients (owner_id, tags, sort_key, id);

-- A search: a trigram index (FTS5, case folded) over the text a search looks
-- through, one row per client (rowid = the client's id), kept by triggers.
-- It holds no copy of the text (contentless); the store checks each matching
-- client's fields as before.
CREATE VIRTUAL TABLE clients_search USING fts5(
    body, content = '', contentless_delete = 1, tokenize = 'trigram'
);
INSERT INTO clients_search (rowid, body)
    SELECT id, email || char(10) || full_name || char(10) || comment || char(10) || tags FROM clients;

CREATE TRIGGER clients_searched_on_insert AFTER INSERT ON clients BEGIN
    INSERT INTO clients_search (rowid, body)
    VALUES (NEW.id, NEW.email || char(10) || NEW.full_name || char(10) || NEW.comment || char(10) || NEW.tags);
END;
CREATE TRIGGER clients_searched_on_delete AFTER DELETE ON clients BEGIN
    DELETE FROM clients_search WHERE rowid = OLD.id;
END;
CREATE TRIGGER clients_searched_on_update AFTER UPDATE OF email, full_name, comment, tags ON clients BEGIN
    DELETE FROM clients_search WHERE rowid = OLD.id;
    INSERT INTO clients_search (rowid, body)
    VALUES (NEW.id, NEW.email || char(10) || NEW.full_name || char(10) || NEW.comment || char(10) || NEW.tags);
END;

-- A deep page: each owner's list changes (clients added, removed or renamed)
-- are counted, and the store reuses the positions it found in the list
-- (every thousandth row) while the count stays (skymailing-store-sql's
-- `anchors`), in every process alike.
ALTER TABLE client_counts ADD COLUMN changes INTEGER NOT NULL DEFAULT 0;
DROP TRIGGER clients_counted_on_insert;
DROP TRIGGER clients_counted_on_delete;
CREATE TRIGGER clients_counted_on_insert AFTER INSERT ON clients BEGIN
    INSERT INTO client_counts (owner_id, clients) VALUES (NEW.owner_id, 1)
    ON CONFLICT (owner_id) DO UPDATE SET clients = clients + 1, changes = changes + 1;
END;
CREATE TRIGGER clients_counted_on_delete AFTER DELETE ON clients BEGIN
    UPDATE client_counts SET clients = clients - 1, changes = changes + 1 WHERE owner_id = OLD.owner_id;
END;
CREATE TRIGGER clients_reordered AFTER UPDATE OF sort_key ON clients WHEN OLD.sort_key <> NEW.sort_key BEGIN
    UPDATE client_counts SET changes = changes + 1 WHERE owner_id = NEW.owner_id;
END;
