-- The spine: workspaces, users and tokens, script versions, the job queue,
-- completed jobs, job logs and live workers.

CREATE TABLE workspaces (
    id          text PRIMARY KEY,
    name        text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE users (
    username       text PRIMARY KEY,
    password_hash  text,
    role           text NOT NULL CHECK (role IN ('admin', 'developer', 'operator')),
    created_at     timestamptz NOT NULL DEFAULT now()
);

-- Tokens are stored as the sha256 of the secret: a dump of this table cannot
-- be replayed. A job token (job_id set) lives as long as its job.
CREATE TABLE tokens (
    token_hash  bytea PRIMARY KEY,
    username    text NOT NULL REFERENCES users ON DELETE CASCADE,
    label       text NOT NULL DEFAULT '',
    scopes      text[],
    workspace   text,
    job_id      uuid,
    expires_at  timestamptz,
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX tokens_job ON tokens (job_id) WHERE job_id IS NOT NULL;

-- Immutable versions; `scripts` points each path at its newest version.
CREATE TABLE script_versions (
    workspace    text NOT NULL REFERENCES workspaces,
    path         text NOT NULL,
    hash         text NOT NULL,
    language     text NOT NULL,
    content      text NOT NULL,
    summary      text NOT NULL DEFAULT '',
    description  text NOT NULL DEFAULT '',
    -- json, not jsonb: a form shows parameters in the order the script declares them
    schema         json NOT NULL,
    result_schema  json,
    warnings       text[] NOT NULL DEFAULT '{}',
    settings       jsonb NOT NULL DEFAULT '{}',
    created_by   text NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (workspace, path, hash)
);
CREATE INDEX script_versions_hash ON script_versions (workspace, hash);

CREATE TABLE scripts (
    workspace   text NOT NULL REFERENCES workspaces,
    path        text NOT NULL,
    hash        text NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (workspace, path),
    FOREIGN KEY (workspace, path, hash) REFERENCES script_versions
);

-- The hot queue: only waiting and running jobs. Kept small so the lease
-- index stays in memory; a job leaves it in the transaction that ends it.
CREATE TABLE queue (
    id             uuid PRIMARY KEY,
    workspace      text NOT NULL,
    kind           text NOT NULL DEFAULT 'script',
    script_path    text NOT NULL,
    script_hash    text NOT NULL,
    language       text NOT NULL,
    args           jsonb NOT NULL DEFAULT '{}',
    status         text NOT NULL DEFAULT 'queued' CHECK (status IN ('queued', 'running')),
    tag            text NOT NULL DEFAULT 'default',
    priority       integer NOT NULL DEFAULT 0,
    scheduled_for  timestamptz NOT NULL DEFAULT now(),
    timeout_s      integer,
    attempts       integer NOT NULL DEFAULT 0,
    max_attempts   integer NOT NULL DEFAULT 3,
    created_by     text NOT NULL,
    parent_job     uuid,
    schedule_path  text,
    created_at     timestamptz NOT NULL DEFAULT now(),
    started_at     timestamptz,
    worker         text,
    heartbeat_at   timestamptz,
    canceled_by    text,
    cancel_reason  text
);
CREATE INDEX queue_lease ON queue (tag, priority DESC, scheduled_for) WHERE status = 'queued';
CREATE INDEX queue_running ON queue (heartbeat_at) WHERE status = 'running';

CREATE TABLE completed (
    id             uuid PRIMARY KEY,
    workspace      text NOT NULL,
    kind           text NOT NULL,
    script_path    text NOT NULL,
    script_hash    text NOT NULL,
    language       text NOT NULL,
    args           jsonb NOT NULL,
    status         text NOT NULL CHECK (status IN ('success', 'failure', 'canceled')),
    tag            text NOT NULL,
    priority       integer NOT NULL,
    scheduled_for  timestamptz NOT NULL,
    timeout_s      integer,
    attempts       integer NOT NULL,
    max_attempts   integer NOT NULL,
    created_by     text NOT NULL,
    parent_job     uuid,
    schedule_path  text,
    created_at     timestamptz NOT NULL,
    started_at     timestamptz,
    completed_at   timestamptz NOT NULL DEFAULT now(),
    worker         text,
    result         jsonb,
    error          jsonb,
    canceled_by    text,
    cancel_reason  text
);
CREATE INDEX completed_list ON completed (workspace, created_at DESC);
CREATE INDEX completed_path ON completed (workspace, script_path, created_at DESC);

CREATE TABLE job_logs (
    id          bigserial PRIMARY KEY,
    job_id      uuid NOT NULL,
    content     text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX job_logs_job ON job_logs (job_id, id);

CREATE TABLE workers (
    name            text PRIMARY KEY,
    hostname        text NOT NULL,
    pid             integer NOT NULL,
    tags            text[] NOT NULL,
    started_at      timestamptz NOT NULL DEFAULT now(),
    last_ping       timestamptz NOT NULL DEFAULT now(),
    current_job_id  uuid
);
