-- Flow versions and the head of each path. Owned by server.flows.

-- name: save_flow_version
-- Store a new version. $1 workspace, $2 path, $3 summary, $4 description, $5 schema,
-- $6 value, $7 created_by.
INSERT INTO flow_versions (workspace, path, summary, description, schema, value, created_by)
VALUES ($1, $2, $3, $4, $5, $6, $7)
RETURNING id

-- name: create_flow_head
-- Point a new path at its first version; nothing when the path exists.
-- $1 workspace, $2 path, $3 version id.
INSERT INTO flows (workspace, path, version_id) VALUES ($1, $2, $3)
ON CONFLICT (workspace, path) DO NOTHING
RETURNING path

-- name: update_flow_head
-- Point an existing path at a new version. $1 workspace, $2 path, $3 version id.
UPDATE flows SET version_id = $3, updated_at = now()
WHERE workspace = $1 AND path = $2
RETURNING path

-- name: lock_flow_path
-- Serialise saves of one path until this transaction ends. $1 key.
SELECT pg_advisory_xact_lock(hashtext('flow:' || $1))

-- name: flow_exists
-- Whether a path has a flow. $1 workspace, $2 path.
SELECT EXISTS (SELECT 1 FROM flows WHERE workspace = $1 AND path = $2)

-- name: get_flow_by_path
-- The newest version of a flow. $1 workspace, $2 path.
SELECT v.id AS version_id, v.workspace, v.path, v.summary, v.description, v.schema, v.value,
       v.created_by AS edited_by, f.updated_at AS edited_at
FROM flows f JOIN flow_versions v ON v.id = f.version_id
WHERE f.workspace = $1 AND f.path = $2

-- name: get_flow_version
-- One version of a flow by id. $1 workspace, $2 version id.
SELECT v.id AS version_id, v.workspace, v.path, v.summary, v.description, v.schema, v.value,
       v.created_by AS edited_by, v.created_at AS edited_at
FROM flow_versions v
WHERE v.workspace = $1 AND v.id = $2

-- name: list_flows
-- Every flow path with its newest version, by path. $1 workspace.
SELECT v.id AS version_id, v.path, v.summary, v.description, v.created_by AS edited_by,
       f.updated_at AS edited_at
FROM flows f JOIN flow_versions v ON v.id = f.version_id
WHERE f.workspace = $1
ORDER BY f.path

-- name: delete_flow
-- Remove a path's head (its versions stay, for the runs that used them). $1 workspace, $2 path.
DELETE FROM flows WHERE workspace = $1 AND path = $2 RETURNING path

-- name: flow_history
-- Every version saved at a path, newest first. $1 workspace, $2 path.
SELECT id, summary, created_by, created_at
FROM flow_versions
WHERE workspace = $1 AND path = $2
ORDER BY id DESC

-- name: script_head_hash
-- The newest hash of a script path, or NULL. $1 workspace, $2 path.
SELECT hash FROM scripts WHERE workspace = $1 AND path = $2

-- name: script_version_exists
-- Whether a version exists. $1 workspace, $2 hash.
SELECT EXISTS (SELECT 1 FROM script_versions WHERE workspace = $1 AND hash = $2)

-- name: get_script_version
-- One version at one path, for a flow step. $1 workspace, $2 path, $3 hash.
SELECT workspace, path, hash, language, content, summary, description,
       schema, result_schema, warnings, settings, created_by, created_at,
       lock, lock_status, lock_error
FROM script_versions
WHERE workspace = $1 AND path = $2 AND hash = $3
