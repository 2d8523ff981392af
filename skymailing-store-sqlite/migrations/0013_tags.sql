-- Tags on clients and mailings ('|vip|berlin|': lowercase, sorted, each
-- between bars; '' for none), and the key client lists sort by (the name in
-- natural order, computed by the application; '' until it is: the store
-- fills it in after migrating).
ALTER TABLE clients ADD COLUMN tags TEXT NOT NULL DEFAULT '';
ALTER TABLE clients ADD COLUMN sort_key TEXT NOT NULL DEFAULT '';
DROP INDEX clients_owner_name;
CREATE INDEX clients_owner_sort ON clients (owner_id, sort_key, id);
ALTER TABLE mailings ADD COLUMN tags TEXT NOT NULL DEFAULT '';
