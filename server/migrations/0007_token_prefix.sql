-- A token's first characters, kept so its owner can recognise and revoke it
-- (the token itself is only stored hashed).

ALTER TABLE tokens ADD COLUMN prefix text NOT NULL DEFAULT '';
