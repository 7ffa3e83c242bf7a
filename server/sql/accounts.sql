-- Workspaces, users, tokens. Owned by server.auth and server.bootstrap.

-- name: ensure_workspace
-- Create a workspace if it is missing. $1 id, $2 name.
INSERT INTO workspaces (id, name) VALUES ($1, $2) ON CONFLICT (id) DO NOTHING

-- name: workspace_exists
-- $1 id.
SELECT EXISTS (SELECT 1 FROM workspaces WHERE id = $1)

-- name: ensure_user
-- Create a user if missing; an existing user keeps its password. $1 username, $2 password_hash, $3 role.
INSERT INTO users (username, password_hash, role) VALUES ($1, $2, $3)
ON CONFLICT (username) DO NOTHING

-- name: create_user
-- $1 username, $2 password_hash, $3 role. Returns nothing when the name is taken.
INSERT INTO users (username, password_hash, role) VALUES ($1, $2, $3)
ON CONFLICT (username) DO NOTHING
RETURNING username

-- name: get_user
-- $1 username.
SELECT username, password_hash, role FROM users WHERE username = $1

-- name: insert_token
-- $1 token_hash, $2 username, $3 label, $4 scopes, $5 workspace, $6 expires_at, $7 prefix.
INSERT INTO tokens (token_hash, username, label, scopes, workspace, expires_at, prefix)
VALUES ($1, $2, $3, $4, $5, $6, $7)
ON CONFLICT (token_hash) DO NOTHING

-- name: list_tokens
-- A user's own tokens (not the short-lived job tokens), newest first. $1 username.
SELECT prefix, label, scopes, workspace, expires_at, created_at
FROM tokens
WHERE username = $1 AND job_id IS NULL AND (expires_at IS NULL OR expires_at > now())
ORDER BY created_at DESC

-- name: delete_token
-- Revoke a user's token by its prefix. $1 username, $2 prefix.
DELETE FROM tokens WHERE username = $1 AND prefix = $2 AND job_id IS NULL RETURNING prefix

-- name: token_principal
-- Who a token speaks for, if it exists and has not expired, with the user's grantee names
-- (`u/<user>`, `g/<group>`...) and its access to each created (restricted) folder of the
-- workspace the request names (else the token's): {"<folder>": "write"|"read"|"none"}.
-- Inline rather than SQL functions: this runs on every request. $1 token_hash,
-- $2 workspace or NULL.
SELECT u.username, u.role, t.scopes, t.workspace, t.job_id, g.keys AS grantees,
       (SELECT coalesce(jsonb_object_agg(f.name, CASE
            WHEN f.owners && g.keys OR EXISTS (
                SELECT 1 FROM jsonb_each(f.extra_perms) p
                WHERE p.key = ANY(g.keys) AND p.value = 'true'::jsonb) THEN 'write'
            WHEN f.extra_perms ?| g.keys THEN 'read'
            ELSE 'none' END), '{}'::jsonb)
        FROM folders f WHERE f.workspace = coalesce($2, t.workspace)) AS folders
FROM tokens t JOIN users u USING (username)
CROSS JOIN LATERAL (
    SELECT ARRAY['u/' || u.username] || ARRAY(
        SELECT 'g/' || m.group_name FROM group_members m
        WHERE m.username = u.username AND m.workspace = coalesce($2, t.workspace)) AS keys
) g
WHERE t.token_hash = $1 AND (t.expires_at IS NULL OR t.expires_at > now())

-- name: user_principal
-- A user as a principal in a workspace, with its grantee names and folder access as in
-- token_principal (the worker reads a job's `$var:` arguments as the user who started
-- the job). $1 username, $2 workspace.
SELECT u.username, u.role, NULL::text[] AS scopes, $2::text AS workspace, NULL::uuid AS job_id,
       g.keys AS grantees,
       (SELECT coalesce(jsonb_object_agg(f.name, CASE
            WHEN f.owners && g.keys OR EXISTS (
                SELECT 1 FROM jsonb_each(f.extra_perms) p
                WHERE p.key = ANY(g.keys) AND p.value = 'true'::jsonb) THEN 'write'
            WHEN f.extra_perms ?| g.keys THEN 'read'
            ELSE 'none' END), '{}'::jsonb)
        FROM folders f WHERE f.workspace = $2) AS folders
FROM users u
CROSS JOIN LATERAL (
    SELECT ARRAY['u/' || u.username] || ARRAY(
        SELECT 'g/' || m.group_name FROM group_members m
        WHERE m.username = u.username AND m.workspace = $2) AS keys
) g
WHERE u.username = $1

-- name: record_job_secret_read
-- Note that a job read a secret variable (its logs will mask the value). $1 job id, $2 path.
UPDATE tokens SET secret_reads = array_append(secret_reads, $2)
WHERE job_id = $1 AND NOT $2 = ANY(secret_reads)

-- name: job_secret_reads
-- The secret variables a running job has read through the API. $1 job id.
SELECT coalesce(array_agg(DISTINCT r), '{}') FROM tokens, unnest(secret_reads) r
WHERE job_id = $1
