-- Accounts without a password: an application that signs its users in itself
-- creates them so (a password can be set later through a reset link).
ALTER TABLE users ALTER COLUMN password_hash DROP NOT NULL;
