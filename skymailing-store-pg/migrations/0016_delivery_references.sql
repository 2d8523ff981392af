-- A run's deliveries are written in one statement when the run starts (a
-- hundred thousand rows for a big list). Their two foreign keys checked each
-- row on its own, two lookups and a row lock per recipient: half the time of
-- that statement. The statement copies its rows from the run it has just
-- made and from the owner's clients it reads, so the checks found nothing;
-- what the keys did on delete is kept by statement triggers instead.
ALTER TABLE deliveries DROP CONSTRAINT deliveries_run_id_fkey;
ALTER TABLE deliveries DROP CONSTRAINT deliveries_client_id_fkey;

-- ON DELETE CASCADE from runs (a user's runs go with the user).
CREATE FUNCTION deliveries_of_removed_runs() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM deliveries d USING removed r WHERE d.run_id = r.id;
    RETURN NULL;
END $$;
CREATE TRIGGER runs_remove_deliveries AFTER DELETE ON runs
    REFERENCING OLD TABLE AS removed FOR EACH STATEMENT EXECUTE FUNCTION deliveries_of_removed_runs();

-- ON DELETE SET NULL from clients (the delivery keeps its copied address and
-- name). A client is deleted under its owner's row lock (FOR NO KEY UPDATE),
-- which a run being materialised holds shared: a delete waits for the run's
-- deliveries to be committed, then forgets the client in them too.
CREATE FUNCTION deliveries_forget_removed_clients() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE deliveries d SET client_id = NULL FROM removed r WHERE d.client_id = r.id;
    RETURN NULL;
END $$;
CREATE TRIGGER clients_forgotten_by_deliveries AFTER DELETE ON clients
    REFERENCING OLD TABLE AS removed FOR EACH STATEMENT EXECUTE FUNCTION deliveries_forget_removed_clients();

-- Any delivery that already lost its run or client stays as it was: none can
-- have, the keys held until now.
