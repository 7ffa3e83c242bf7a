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

ALTER TABLE tokens ADD COLUMN secret_reads text[] NOT NULL DEFAULT '{}';
