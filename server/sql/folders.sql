-- Folders and groups. Owned by server.folders.

-- name: create_folder
-- $1 workspace, $2 name, $3 display_name, $4 owners, $5 extra_perms, $6 created_by.
-- Returns nothing when the folder exists.
INSERT INTO folders (workspace, name, display_name, owners, extra_perms, created_by)
VALUES ($1, $2, $3, $4, $5, $6)
ON CONFLICT (workspace, name) DO NOTHING
RETURNING name

-- name: get_folder
-- $1 workspace, $2 name.
SELECT workspace AS workspace_id, name, display_name, owners, extra_perms, created_by
FROM folders WHERE workspace = $1 AND name = $2

-- name: list_folders
-- $1 workspace.
SELECT workspace AS workspace_id, name, display_name, owners, extra_perms, created_by
FROM folders WHERE workspace = $1 ORDER BY name

-- name: update_folder
-- Fields given replace the stored ones. $1 workspace, $2 name, $3 display_name,
-- $4 owners, $5 extra_perms (each NULL to keep).
UPDATE folders
SET display_name = coalesce($3, display_name), owners = coalesce($4, owners),
    extra_perms = coalesce($5, extra_perms)
WHERE workspace = $1 AND name = $2
RETURNING workspace AS workspace_id, name, display_name, owners, extra_perms, created_by

-- name: delete_folder
-- $1 workspace, $2 name.
DELETE FROM folders WHERE workspace = $1 AND name = $2 RETURNING name

-- name: create_group
-- A group whose creator is its owner and first member. $1 workspace, $2 name, $3 summary,
-- $4 creator. Returns nothing when the group exists.
WITH g AS (
    INSERT INTO groups (workspace, name, summary, extra_perms)
    VALUES ($1, $2, $3, jsonb_build_object('u/' || $4, true))
    ON CONFLICT (workspace, name) DO NOTHING
    RETURNING workspace, name
)
INSERT INTO group_members (workspace, group_name, username)
SELECT workspace, name, $4 FROM g
RETURNING group_name

-- name: get_group
-- $1 workspace, $2 name.
SELECT g.workspace AS workspace_id, g.name, g.summary, g.extra_perms,
       ARRAY(SELECT username FROM group_members m
             WHERE m.workspace = g.workspace AND m.group_name = g.name
             ORDER BY username) AS members
FROM groups g WHERE g.workspace = $1 AND g.name = $2

-- name: list_groups
-- $1 workspace.
SELECT g.workspace AS workspace_id, g.name, g.summary, g.extra_perms,
       ARRAY(SELECT username FROM group_members m
             WHERE m.workspace = g.workspace AND m.group_name = g.name
             ORDER BY username) AS members
FROM groups g WHERE g.workspace = $1 ORDER BY g.name

-- name: add_group_member
-- $1 workspace, $2 group, $3 username.
INSERT INTO group_members (workspace, group_name, username) VALUES ($1, $2, $3)
ON CONFLICT DO NOTHING

-- name: remove_group_member
-- $1 workspace, $2 group, $3 username.
DELETE FROM group_members WHERE workspace = $1 AND group_name = $2 AND username = $3

-- name: user_exists
-- $1 username.
SELECT EXISTS (SELECT 1 FROM users WHERE username = $1)
