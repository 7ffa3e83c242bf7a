-- Retry policies: a failed run is queued again (same job id) after a delay, until its
-- policy's attempts are spent; each failed attempt is kept in job_attempts.

ALTER TABLE queue ADD COLUMN retry jsonb;
ALTER TABLE queue ADD COLUMN retries integer NOT NULL DEFAULT 0;
ALTER TABLE completed ADD COLUMN retry jsonb;
ALTER TABLE completed ADD COLUMN retries integer NOT NULL DEFAULT 0;

CREATE TABLE job_attempts (
    job_id      uuid NOT NULL,
    attempt     integer NOT NULL,
    worker      text,
    started_at  timestamptz,
    ended_at    timestamptz NOT NULL DEFAULT now(),
    error       jsonb,
    PRIMARY KEY (job_id, attempt)
);
