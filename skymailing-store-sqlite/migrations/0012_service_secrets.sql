-- Keys the service makes once and keeps across restarts (the pages' CSRF
-- key when no --secret is given), shared by every process on the database.
CREATE TABLE service_secrets (
    name  TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
