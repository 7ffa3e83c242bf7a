-- Folder grants as in Windmill: a folder row restricts `f/<name>/...` to its owners and to
-- the users (`u/<name>`) and groups (`g/<name>`) in its extra_perms (true: write, false:
-- read). A folder with no row stays shared by every developer of the workspace.
-- And the secret variables a job read through the API, kept on its job token so the worker
-- can mask their values in the job's logs; the row (and so the list) ends with the job.

CREATE TABLE folders (
    workspace     text NOT NULL REFERENCES workspaces,
    name          text NOT NULL,
    display_name  text NOT NULL,
    owners        text[] NOT NULL DEFAULT '{}',
    extra_perms   jsonb NOT NULL DEFAULT '{}',
    created_by    text NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (workspace, name)
);

CREATE TABLE groups (
    workspace    text NOT NULL REFERENCES workspaces,
    name         text NOT NULL,
    summary      text NOT NULL DEFAULT '',
    -- owners of the group (who may add and remove members): {"u/alice": true}
    extra_perms  jsonb NOT NULL DEFAULT '{}',
    created_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (workspace, name)
);

CREATE TABLE group_members (
    workspace   text NOT NULL,
    group_name  text NOT NULL,
    username    text NOT NULL REFERENCES users ON DELETE CASCADE,
    PRIMARY KEY (workspace, group_name, username),
    FOREIGN KEY (workspace, group_name) REFERENCES groups ON DELETE CASCADE
);
CREATE INDEX group_members_user ON group_members (username, workspace);

-- Who a user is in a workspace's grants: `u/<name>` and `g/<group>` for each group.
CREATE FUNCTION tidemill_grantees(who text, ws text) RETURNS text[] LANGUAGE sql STABLE AS $$
    SELECT ARRAY['u/' || who] || ARRAY(
        SELECT 'g/' || group_name FROM group_members WHERE username = who AND workspace = ws
    )
$$;

-- Every restricted folder of a workspace with what the user may do in it:
-- {"<folder>": "write" | "read" | "none"}. Folders without a row are not listed (shared).
CREATE FUNCTION tidemill_folder_access(who text, ws text) RETURNS jsonb LANGUAGE sql STABLE AS $$
    SELECT coalesce(jsonb_object_agg(f.name, CASE
        WHEN f.owners && g.keys OR EXISTS (
            SELECT 1 FROM jsonb_each(f.extra_perms) p
            WHERE p.key = ANY(g.keys) AND p.value = 'true'::jsonb
        ) THEN 'write'
        WHEN f.extra_perms ?| g.keys THEN 'read'
        ELSE 'none' END), '{}'::jsonb)
    FROM folders f, (SELECT tidemill_grantees(who, ws) AS keys) g
    WHERE f.workspace = ws
$$;

ALTER TABLE tokens ADD COLUMN secret_reads text[] NOT NULL DEFAULT '{}';
