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

-- And how many of an owner's clients carry each set of tags (the stored
-- '|a|b|' string; '' is not kept), for the tag chips and their counts.
CREATE TABLE client_tag_sets (
    owner_id INTEGER NOT NULL REFERENCES users ON DELETE CASCADE,
    tags     TEXT NOT NULL,
    clients  INTEGER NOT NULL,
    PRIMARY KEY (owner_id, tags)
);
INSERT INTO client_tag_sets (owner_id, tags, clients)
    SELECT owner_id, tags, count(*) FROM clients WHERE tags <> '' GROUP BY owner_id, tags;

CREATE TRIGGER client_tags_counted_on_insert AFTER INSERT ON clients WHEN NEW.tags <> '' BEGIN
    INSERT INTO client_tag_sets (owner_id, tags, clients) VALUES (NEW.owner_id, NEW.tags, 1)
    ON CONFLICT (owner_id, tags) DO UPDATE SET clients = clients + 1;
END;
CREATE TRIGGER client_tags_counted_on_delete AFTER DELETE ON clients WHEN OLD.tags <> '' BEGIN
    UPDATE client_tag_sets SET clients = clients - 1 WHERE owner_id = OLD.owner_id AND tags = OLD.tags;
    DELETE FROM client_tag_sets WHERE owner_id = OLD.owner_id AND tags = OLD.tags AND clients <= 0;
END;
CREATE TRIGGER client_tags_counted_on_update AFTER UPDATE OF tags ON clients WHEN OLD.tags <> NEW.tags BEGIN
    UPDATE client_tag_sets SET clients = clients - 1 WHERE owner_id = OLD.owner_id AND tags = OLD.tags;
    DELETE FROM client_tag_sets WHERE owner_id = OLD.owner_id AND tags = OLD.tags AND clients <= 0;
    INSERT INTO client_tag_sets (owner_id, tags, clients)
        SELECT NEW.owner_id, NEW.tags, 1 WHERE NEW.tags <> ''
    ON CONFLICT (owner_id, tags) DO UPDATE SET clients = clients + 1;
END;
