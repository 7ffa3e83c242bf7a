-- Flows: versioned OpenFlow documents, and the columns that make a job a flow or a step
-- of one. A flow run is a job of kind `flow` whose `flow_status` holds its state machine;
-- each step runs as a child job (`parent_job`, `flow_step_id`).

-- Immutable versions; `flows` points each path at its newest version. `json`, not
-- `jsonb`: the document reads back in the order it was written.
CREATE TABLE flow_versions (
    id           bigserial PRIMARY KEY,
    workspace    text NOT NULL REFERENCES workspaces,
    path         text NOT NULL,
    summary      text NOT NULL DEFAULT '',
    description  text NOT NULL DEFAULT '',
    schema       json,
    value        json NOT NULL,
    created_by   text NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX flow_versions_path ON flow_versions (workspace, path, id DESC);

CREATE TABLE flows (
    workspace   text NOT NULL REFERENCES workspaces,
    path        text NOT NULL,
    version_id  bigint NOT NULL REFERENCES flow_versions,
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (workspace, path)
);

ALTER TABLE queue ADD COLUMN flow_step_id text;
ALTER TABLE queue ADD COLUMN flow_status jsonb;
ALTER TABLE completed ADD COLUMN flow_step_id text;
ALTER TABLE completed ADD COLUMN flow_status jsonb;
CREATE INDEX queue_parent ON queue (parent_job) WHERE parent_job IS NOT NULL;
CREATE INDEX completed_parent ON completed (parent_job) WHERE parent_job IS NOT NULL;
