-- The language a user chose for the pages (a BCP 47 primary subtag); NULL: the browser's.
ALTER TABLE users ADD COLUMN language TEXT;
