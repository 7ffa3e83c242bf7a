-- Script versions and the head of each path. Owned by server.scripts.

-- name: save_script_version
-- Store a version; saving the same content again only refreshes its metadata, and keeps
-- its lock when it has one or one is being resolved (a failed one is tried again).
-- Answers the lock status the version ends with, and whether a resolution must be queued.
-- $1 workspace, $2 path, $3 hash, $4 language,
-- $5 content, $6 summary, $7 description, $8 schema, $9 settings, $10 created_by,
-- $11 result_schema, $12 warnings, $13 lock, $14 lock_status, $15 lock_error.
WITH before AS (
    SELECT lock_status FROM script_versions WHERE workspace = $1 AND path = $2 AND hash = $3
)
INSERT INTO script_versions AS v
    (workspace, path, hash, language, content, summary, description, schema, settings,
     created_by, result_schema, warnings, lock, lock_status, lock_error)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)
ON CONFLICT (workspace, path, hash) DO UPDATE
SET summary = EXCLUDED.summary, description = EXCLUDED.description,
    settings = EXCLUDED.settings,
    lock = CASE WHEN v.lock_status IN ('ready', 'pending') THEN v.lock ELSE EXCLUDED.lock END,
    lock_error = CASE WHEN v.lock_status IN ('ready', 'pending')
                      THEN v.lock_error ELSE EXCLUDED.lock_error END,
    lock_status = CASE WHEN v.lock_status IN ('ready', 'pending')
                       THEN v.lock_status ELSE EXCLUDED.lock_status END
RETURNING v.lock_status,
          v.lock_status = 'pending'
          AND coalesce((SELECT lock_status FROM before), 'none') <> 'pending' AS resolve

-- name: store_lock
-- Store what resolving a version's requirements gave, on every path saved with that
-- content, unless another resolver got there first; wakes runs waiting for it.
-- $1 workspace, $2 hash, $3 lock, $4 lock_status, $5 lock_error.
WITH stored AS (
    UPDATE script_versions SET lock = $3, lock_status = $4, lock_error = $5
    WHERE workspace = $1 AND hash = $2 AND lock_status = 'pending'
    RETURNING hash
)
SELECT count(*) AS stored, pg_notify('tidemill_locked', $2) IS NULL AS notified FROM stored

-- name: get_lock
-- A version's lock as it stands. $1 workspace, $2 path, $3 hash.
SELECT lock, lock_status, lock_error FROM script_versions
WHERE workspace = $1 AND path = $2 AND hash = $3

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

-- name: remember_lock
-- Keep a resolved lock under the hash of the requirements it was resolved from (the newest
-- resolution wins). $1 workspace, $2 requirements hash, $3 lock.
INSERT INTO dependency_locks (workspace, requirements_hash, lock) VALUES ($1, $2, $3)
ON CONFLICT (workspace, requirements_hash)
DO UPDATE SET lock = EXCLUDED.lock, resolved_at = now()

-- name: cached_lock
-- The lock last resolved from these requirements (no row: never resolved).
-- $1 workspace, $2 requirements hash.
SELECT lock FROM dependency_locks WHERE workspace = $1 AND requirements_hash = $2
