-- Schedules and their fires. Definitions are written by server.schedules; the
-- leader's state (next_fire, last_fire, error, last_failure) and schedule_fires by
-- server.scheduler. Jobs themselves are queued through server.queue only.

-- name: insert_schedule
-- Save a new schedule; answers nothing when the path is taken.
-- $1 workspace, $2 path, $3 schedule, $4 timezone, $5 script_path, $6 args, $7 enabled,
-- $8 summary, $9 on_failure, $10 on_failure_extra_args, $11 on_recovery,
-- $12 on_recovery_extra_args, $13 edited_by, $14 next_fire, $15 retry, $16 is_flow.
INSERT INTO schedules (workspace, path, schedule, timezone, script_path, args, enabled, summary,
                       on_failure, on_failure_extra_args, on_recovery, on_recovery_extra_args,
                       edited_by, next_fire, retry, is_flow)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)
ON CONFLICT (workspace, path) DO NOTHING
RETURNING workspace, path, schedule, timezone, script_path, is_flow, args, enabled, summary,
          on_failure, on_failure_extra_args, on_recovery, on_recovery_extra_args, retry,
          edited_by, edited_at, next_fire, last_fire, error

-- name: update_schedule
-- Replace a schedule's definition; `enabled` NULL keeps it as it is, and the next fire
-- is $14 while enabled. Clears the last error: the definition is new.
-- $1 workspace, $2 path, $3 schedule, $4 timezone, $5 script_path, $6 args, $7 enabled,
-- $8 summary, $9 on_failure, $10 on_failure_extra_args, $11 on_recovery,
-- $12 on_recovery_extra_args, $13 edited_by, $14 next_fire, $15 retry, $16 is_flow.
UPDATE schedules
SET schedule = $3, timezone = $4, script_path = $5, args = $6, retry = $15, is_flow = $16,
    enabled = coalesce($7, enabled), summary = $8,
    on_failure = $9, on_failure_extra_args = $10,
    on_recovery = $11, on_recovery_extra_args = $12,
    edited_by = $13, edited_at = now(),
    next_fire = CASE WHEN coalesce($7, enabled) THEN $14::timestamptz END,
    error = NULL
WHERE workspace = $1 AND path = $2
RETURNING workspace, path, schedule, timezone, script_path, is_flow, args, enabled, summary,
          on_failure, on_failure_extra_args, on_recovery, on_recovery_extra_args, retry,
          edited_by, edited_at, next_fire, last_fire, error

-- name: set_schedule_enabled
-- Turn a schedule on or off. Turning on starts at $4 (no catch-up for the time it was
-- off); an already enabled schedule keeps its next fire.
-- $1 workspace, $2 path, $3 enabled, $4 next_fire, $5 edited_by.
UPDATE schedules
SET enabled = $3,
    next_fire = CASE WHEN NOT $3 THEN NULL WHEN enabled THEN next_fire ELSE $4 END,
    edited_by = $5, edited_at = now()
WHERE workspace = $1 AND path = $2
RETURNING workspace, path, schedule, timezone, script_path, is_flow, args, enabled, summary,
          on_failure, on_failure_extra_args, on_recovery, on_recovery_extra_args, retry,
          edited_by, edited_at, next_fire, last_fire, error

-- name: get_schedule
-- One schedule. $1 workspace, $2 path.
SELECT workspace, path, schedule, timezone, script_path, is_flow, args, enabled, summary,
       on_failure, on_failure_extra_args, on_recovery, on_recovery_extra_args, retry,
       edited_by, edited_at, next_fire, last_fire, error
FROM schedules WHERE workspace = $1 AND path = $2

-- name: list_schedules
-- Every schedule of a workspace, by path. $1 workspace.
SELECT workspace, path, schedule, timezone, script_path, is_flow, args, enabled, summary,
       on_failure, on_failure_extra_args, on_recovery, on_recovery_extra_args, retry,
       edited_by, edited_at, next_fire, last_fire, error
FROM schedules WHERE workspace = $1
ORDER BY path

-- name: delete_schedule
-- Remove a schedule; its queued and running jobs carry on. $1 workspace, $2 path.
DELETE FROM schedules WHERE workspace = $1 AND path = $2 RETURNING path

-- name: try_scheduler_lock
-- Become the leader if nobody is: a session lock, released when the connection closes.
-- $1 lock key.
SELECT pg_try_advisory_lock($1)

-- name: scheduler_clock
-- The database's clock: every server and worker judges "due" by the same one.
SELECT clock_timestamp()

-- name: due_schedules
-- Enabled schedules whose next fire has come, most overdue first. $1 now, $2 limit.
SELECT workspace, path, schedule, timezone, script_path, is_flow, args, enabled, summary,
       on_failure, on_failure_extra_args, on_recovery, on_recovery_extra_args, retry,
       edited_by, edited_at, next_fire, last_fire, error
FROM schedules
WHERE enabled AND next_fire <= $1
ORDER BY next_fire
LIMIT $2

-- name: advance_schedule
-- Record what the leader did for a due schedule, unless it was edited meanwhile.
-- $1 workspace, $2 path, $3 the next_fire acted on, $4 the new next_fire, $5 last fire,
-- $6 error (NULL when the fires were queued).
UPDATE schedules SET next_fire = $4, last_fire = $5, error = $6
WHERE workspace = $1 AND path = $2 AND next_fire = $3

-- name: seconds_to_next_fire
-- How long the leader may sleep: seconds until the earliest next fire (NULL: none).
SELECT extract(epoch FROM min(next_fire) - clock_timestamp())::float8
FROM schedules WHERE enabled

-- name: finished_fires
-- Fires whose run has finished but whose outcome the leader has not acted on yet, in
-- the order they finished. $1 limit.
SELECT f.workspace, f.schedule_path, f.fire_at, f.job_id, c.script_path, c.status, c.error
FROM schedule_fires f
JOIN completed c ON c.id = f.job_id
WHERE f.outcome IS NULL
ORDER BY c.completed_at, f.fire_at
LIMIT $1

-- name: settle_fire
-- Mark a finished fire as acted on and lock its schedule; answers the schedule's hooks
-- and its last failure, or nothing when the fire was settled already or the schedule
-- is gone. $1 workspace, $2 schedule path, $3 fire_at, $4 outcome.
WITH fire AS (
    UPDATE schedule_fires SET outcome = $4
    WHERE workspace = $1 AND schedule_path = $2 AND fire_at = $3 AND outcome IS NULL
    RETURNING workspace, schedule_path
)
SELECT s.on_failure, s.on_failure_extra_args, s.on_recovery, s.on_recovery_extra_args,
       s.last_failure, s.edited_by
FROM schedules s
JOIN fire f ON s.workspace = f.workspace AND s.path = f.schedule_path
FOR UPDATE OF s

-- name: record_run_outcome
-- Remember whether the last finished run failed, and why a hook could not run.
-- $1 workspace, $2 path, $3 last_failure ({job_id, error} or NULL), $4 hook error or NULL.
UPDATE schedules SET last_failure = $3, error = coalesce($4, error)
WHERE workspace = $1 AND path = $2

-- name: prune_fires
-- Forget settled fires older than $1: the leader never goes back that far.
DELETE FROM schedule_fires WHERE outcome IS NOT NULL AND fire_at < $1
