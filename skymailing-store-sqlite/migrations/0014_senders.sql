-- Sender identity: the name shown in From and the Reply-To address, set by a
-- user for their mailings and overridden per mailing (NULL: not set), and
-- frozen into each run when it starts (NULL for runs from before: the
-- service's From name and no Reply-To).
ALTER TABLE users ADD COLUMN sender_name TEXT;
ALTER TABLE users ADD COLUMN reply_to TEXT;
ALTER TABLE mailings ADD COLUMN sender_name TEXT;
ALTER TABLE mailings ADD COLUMN reply_to TEXT;
ALTER TABLE runs ADD COLUMN sender_name TEXT;
ALTER TABLE runs ADD COLUMN reply_to TEXT;
