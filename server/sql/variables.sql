-- Variables and resources. Owned by server.variables.

-- name: upsert_variable
-- Create or replace a variable. $1 workspace, $2 path, $3 ciphertext, $4 is_secret,
-- $5 description, $6 created_by. Returns whether the row is new.
INSERT INTO variables (workspace, path, ciphertext, is_secret, description, created_by)
VALUES ($1, $2, $3, $4, $5, $6)
ON CONFLICT (workspace, path) DO UPDATE
SET ciphertext = EXCLUDED.ciphertext, is_secret = EXCLUDED.is_secret,
    description = EXCLUDED.description, updated_at = now()
RETURNING (xmax = 0) AS created

-- name: get_variable
-- $1 workspace, $2 path.
SELECT path, ciphertext, is_secret, description, created_by, updated_at
FROM variables WHERE workspace = $1 AND path = $2

-- name: list_variables
-- $1 workspace.
SELECT path, ciphertext, is_secret, description, created_by, updated_at
FROM variables WHERE workspace = $1 ORDER BY path

-- name: delete_variable
-- $1 workspace, $2 path.
DELETE FROM variables WHERE workspace = $1 AND path = $2 RETURNING path

-- name: upsert_resource
-- Create or replace a resource. $1 workspace, $2 path, $3 resource_type, $4 ciphertext,
-- $5 description, $6 created_by.
INSERT INTO resources (workspace, path, resource_type, ciphertext, description, created_by)
VALUES ($1, $2, $3, $4, $5, $6)
ON CONFLICT (workspace, path) DO UPDATE
SET resource_type = EXCLUDED.resource_type, ciphertext = EXCLUDED.ciphertext,
    description = EXCLUDED.description, updated_at = now()
RETURNING (xmax = 0) AS created

-- name: get_resource
-- $1 workspace, $2 path.
SELECT path, resource_type, ciphertext, description, created_by, updated_at
FROM resources WHERE workspace = $1 AND path = $2

-- name: list_resources
-- $1 workspace.
SELECT path, resource_type, ciphertext, description, created_by, updated_at
FROM resources WHERE workspace = $1 ORDER BY path

-- name: delete_resource
-- $1 workspace, $2 path.
DELETE FROM resources WHERE workspace = $1 AND path = $2 RETURNING path

-- name: all_ciphertexts
-- Every encrypted value, for re-encryption under a new key.
SELECT 'variables' AS kind, workspace, path, ciphertext FROM variables
UNION ALL
SELECT 'resources' AS kind, workspace, path, ciphertext FROM resources

-- name: set_variable_ciphertext
-- $1 workspace, $2 path, $3 ciphertext.
UPDATE variables SET ciphertext = $3 WHERE workspace = $1 AND path = $2

-- name: set_resource_ciphertext
-- $1 workspace, $2 path, $3 ciphertext.
UPDATE resources SET ciphertext = $3 WHERE workspace = $1 AND path = $2
