-- Script versions and the head of each path. Owned by server.scripts.

-- name: save_script_version
-- Store a version; saving the same content again only refreshes its metadata. $1 workspace, $2 path, $3 hash, $4 language,
-- $5 content, $6 summary, $7 description, $8 schema, $9 settings, $10 created_by,
-- $11 result_schema, $12 warnings, $13 lock, $14 lock_status, $15 lock_error.
INSERT INTO script_versions
    (workspace, path, hash, language, content, summary, description, schema, settings,
     created_by, result_schema, warnings, lock, lock_status, lock_error)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)
ON CONFLICT (workspace, path, hash) DO UPDATE
SET summary = EXCLUDED.summary, description = EXCLUDED.description,
    settings = EXCLUDED.settings, lock = EXCLUDED.lock, lock_status = EXCLUDED.lock_status,
    lock_error = EXCLUDED.lock_error

-- name: set_script_head
-- Point a path at a version. $1 workspace, $2 path, $3 hash.
INSERT INTO scripts (workspace, path, hash) VALUES ($1, $2, $3)
ON CONFLICT (workspace, path) DO UPDATE SET hash = EXCLUDED.hash, updated_at = now()

-- name: get_script_by_path
-- The newest version of a path. $1 workspace, $2 path.
SELECT v.workspace, v.path, v.hash, v.language, v.content, v.summary, v.description,
       v.schema, v.result_schema, v.warnings, v.settings, v.created_by, v.created_at,
       v.lock, v.lock_status, v.lock_error
FROM scripts s
JOIN script_versions v USING (workspace, path, hash)
WHERE s.workspace = $1 AND s.path = $2

-- name: get_script_by_hash
-- A version by its hash (the newest path saved with it). $1 workspace, $2 hash.
SELECT workspace, path, hash, language, content, summary, description,
       schema, result_schema, warnings, settings, created_by, created_at,
       lock, lock_status, lock_error
FROM script_versions
WHERE workspace = $1 AND hash = $2
ORDER BY created_at DESC
LIMIT 1

-- name: list_scripts
-- Every path with its newest version, by path. $1 workspace.
SELECT v.path, v.hash, v.language, v.summary, v.created_by, s.updated_at AS created_at
FROM scripts s
JOIN script_versions v USING (workspace, path, hash)
WHERE s.workspace = $1
ORDER BY v.path

-- name: list_latest_versions
-- The newest version of every path, whole, by path. $1 workspace.
SELECT v.workspace, v.path, v.hash, v.language, v.content, v.summary, v.description,
       v.schema, v.result_schema, v.warnings, v.settings, v.created_by, v.created_at,
       v.lock, v.lock_status, v.lock_error
FROM scripts s
JOIN script_versions v USING (workspace, path, hash)
WHERE s.workspace = $1
ORDER BY v.path

-- name: script_history
-- Every version saved at a path, newest first. $1 workspace, $2 path.
SELECT hash AS script_hash, summary, created_by, created_at
FROM script_versions
WHERE workspace = $1 AND path = $2
ORDER BY created_at DESC
