-- Custom HTTP routes. Owned by server.http_triggers.

-- name: insert_http_trigger
-- $1 workspace, $2 path, $3 route_path, $4 http_method, $5 script_path, $6 authentication,
-- $7 is_async, $8 signature_secret (a variable path), $9 signature_header,
-- $10 signature_algorithm, $11 is_flow (script_path names a flow), $12 created_by.
INSERT INTO http_triggers (workspace, path, route_path, http_method, script_path, authentication,
                           is_async, signature_secret, signature_header, signature_algorithm,
                           is_flow, created_by)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)

-- name: update_http_trigger
-- $1 workspace, $2 path, then as insert_http_trigger from $3 to $11.
UPDATE http_triggers
SET route_path = $3, http_method = $4, script_path = $5, authentication = $6, is_async = $7,
    signature_secret = $8, signature_header = $9, signature_algorithm = $10, is_flow = $11
WHERE workspace = $1 AND path = $2
RETURNING path

-- name: get_http_trigger
-- $1 workspace, $2 path.
SELECT workspace, path, route_path, http_method, script_path, authentication, is_async,
       signature_secret, signature_header, signature_algorithm, is_flow, created_by, created_at
FROM http_triggers WHERE workspace = $1 AND path = $2

-- name: list_http_triggers
-- $1 workspace.
SELECT workspace, path, route_path, http_method, script_path, authentication, is_async,
       signature_secret, signature_header, signature_algorithm, is_flow, created_by, created_at
FROM http_triggers WHERE workspace = $1 ORDER BY path

-- name: http_triggers_for_method
-- Every route of one method, to match a request against. $1 http_method.
SELECT workspace, path, route_path, http_method, script_path, authentication, is_async,
       signature_secret, signature_header, signature_algorithm, is_flow, created_by, created_at
FROM http_triggers WHERE http_method = $1

-- name: delete_http_trigger
-- $1 workspace, $2 path.
DELETE FROM http_triggers WHERE workspace = $1 AND path = $2 RETURNING path
