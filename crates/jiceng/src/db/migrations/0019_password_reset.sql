-- A password set by the security administrator is a temporary one: its owner must choose their
-- own at the next sign-in, so that no administrator keeps a way into another's account (三员分立).
ALTER TABLE users ADD COLUMN must_change_password BOOLEAN NOT NULL DEFAULT FALSE;
