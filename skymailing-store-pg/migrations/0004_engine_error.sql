-- The engine parks a mailing whose step failed (bad data, a bug) instead of
-- stopping: disabled with the reason 'engine_error', until someone enables it.
ALTER TABLE mailings DROP CONSTRAINT mailings_disabled_by_check;
ALTER TABLE mailings ADD CONSTRAINT mailings_disabled_by_check
    CHECK (disabled_by IN ('owner', 'manager', 'engine_error'));
