-- Schedules: cron triggers of scripts, and one row per fire so each fires once.

CREATE TABLE schedules (
    workspace               text NOT NULL REFERENCES workspaces,
    path                    text NOT NULL,
    schedule                text NOT NULL,
    timezone                text NOT NULL DEFAULT 'UTC',
    script_path             text NOT NULL,
    args                    jsonb NOT NULL DEFAULT '{}',
    enabled                 boolean NOT NULL DEFAULT true,
    summary                 text NOT NULL DEFAULT '',
    on_failure              text,
    on_failure_extra_args   jsonb NOT NULL DEFAULT '{}',
    on_recovery             text,
    on_recovery_extra_args  jsonb NOT NULL DEFAULT '{}',
    edited_by               text NOT NULL,
    edited_at               timestamptz NOT NULL DEFAULT now(),
    -- the leader's state: the next fire to queue (NULL while disabled) and the last one
    next_fire               timestamptz,
    last_fire               timestamptz,
    -- why the last fire or hook could not be queued (shown to users as Windmill's `error`)
    error                   text,
    -- the failure of the last finished run, {job_id, error}; NULL after a success.
    -- A success that finds it set is a recovery.
    last_failure            jsonb,
    PRIMARY KEY (workspace, path)
);
CREATE INDEX schedules_due ON schedules (next_fire) WHERE enabled;

-- One row per fire: the primary key is what makes a fire run once. It is written by
-- the trigger below inside the statement that queues the job, so a second enqueue of
-- the same fire (a second leader, a retry after a crash) fails as a whole.
-- `outcome` is set once the leader has acted on the finished run (hooks).
CREATE TABLE schedule_fires (
    workspace      text NOT NULL,
    schedule_path  text NOT NULL,
    fire_at        timestamptz NOT NULL,
    job_id         uuid NOT NULL,
    outcome        text CHECK (outcome IN ('success', 'failure', 'canceled')),
    PRIMARY KEY (workspace, schedule_path, fire_at)
);
CREATE INDEX schedule_fires_unsettled ON schedule_fires (job_id) WHERE outcome IS NULL;
CREATE INDEX schedule_fires_settled ON schedule_fires (fire_at) WHERE outcome IS NOT NULL;

CREATE FUNCTION record_schedule_fire() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO schedule_fires (workspace, schedule_path, fire_at, job_id)
    VALUES (NEW.workspace, NEW.schedule_path, NEW.scheduled_for, NEW.id);
    RETURN NEW;
END
$$;

-- Only a schedule's own runs are fires: top-level jobs that carry a schedule path.
CREATE TRIGGER queue_schedule_fire BEFORE INSERT ON queue
FOR EACH ROW WHEN (NEW.schedule_path IS NOT NULL AND NEW.parent_job IS NULL)
EXECUTE FUNCTION record_schedule_fire();
