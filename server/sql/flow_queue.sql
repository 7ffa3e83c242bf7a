-- Flow runs in the job tables. Owned by server.queue (no other module writes these
-- tables); the decisions come from server.flow_engine.

-- name: insert_flow_job
-- A flow job: `running` from the start, with no worker and no heartbeat, so no worker
-- leases it and no recovery touches it; its children do the work.
-- $1 id, $2 workspace, $3 script_path, $4 script_hash (the flow version), $5 args, $6 tag,
-- $7 created_by, $8 parent_job, $9 flow_step_id, $10 flow_status, $11 schedule_path,
-- $12 scheduled_for (a schedule's fire time; NULL: now).
INSERT INTO queue (id, workspace, kind, script_path, script_hash, language, args, status, tag,
                   created_by, parent_job, flow_step_id, flow_status, schedule_path,
                   scheduled_for, started_at, max_attempts)
VALUES ($1, $2, 'flow', $3, $4, 'flow', $5, 'running', coalesce($6, 'default'), $7, $8, $9,
        $10, $11, coalesce($12, now()), now(), 1)

-- name: enqueue_flow_step
-- Queue a script job that is a step of a flow and wake the workers of its tag; with $20,
-- also store the flow's advanced state (one round trip for the usual advance).
-- $1..$18 as enqueue_job ($13 the flow), $19 flow_step_id, $20 the flow's state or NULL.
WITH job AS (
    INSERT INTO queue (id, workspace, script_path, script_hash, language, args, tag, priority,
                       scheduled_for, timeout_s, max_attempts, created_by, parent_job, kind,
                       schedule_path, retry, concurrent_limit, concurrency_window_s,
                       flow_step_id)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, coalesce($9, now()), $10, $11, $12, $13, $14, $15,
            $16, $17, $18, $19)
    RETURNING tag
), saved AS (
    UPDATE queue SET flow_status = $20::jsonb WHERE id = $13 AND $20::jsonb IS NOT NULL
)
SELECT pg_notify('tidemill_queued', tag) FROM job

-- name: lock_flow_job
-- A waiting flow, locked until the transaction ends (its state is the join counter),
-- with its version's path and document as JSON text, read in the same round trip.
-- $1 id.
SELECT q.id, q.workspace, q.script_path, q.created_by, q.tag, q.parent_job, q.flow_status,
       v.path AS flow_path, v.value::text AS flow_value
FROM queue q
JOIN flow_versions v ON v.id = (q.flow_status ->> 'version')::bigint
WHERE q.id = $1 AND q.kind = 'flow'
FOR UPDATE OF q

-- name: save_flow_status
-- Store a flow's advanced state. $1 id, $2 flow_status.
UPDATE queue SET flow_status = $2 WHERE id = $1

-- name: complete_flow_job
-- End a flow: move it to `completed` with its final state and wake sync waiters.
-- $1 id, $2 status, $3 result, $4 error, $5 flow_status.
WITH done AS (
    DELETE FROM queue WHERE id = $1 AND kind = 'flow' RETURNING *
), moved AS (
    INSERT INTO completed (id, workspace, kind, script_path, script_hash, language, args, status,
                           tag, priority, scheduled_for, timeout_s, attempts, max_attempts,
                           created_by, parent_job, schedule_path, created_at, started_at,
                           worker, result, error, canceled_by, cancel_reason, retry, retries,
                           flow_step_id, flow_status)
    SELECT id, workspace, kind, script_path, script_hash, language, args, $2,
           tag, priority, scheduled_for, timeout_s, attempts, max_attempts,
           created_by, parent_job, schedule_path, created_at, started_at,
           worker, $3, $4, canceled_by, cancel_reason, retry, retries,
           flow_step_id, $5
    FROM done
    RETURNING id, parent_job
)
SELECT parent_job, pg_notify('tidemill_done', id::text) IS NULL AS notified FROM moved

-- name: completed_child
-- How a flow's child ended. $1 id.
SELECT status, result, error FROM completed WHERE id = $1

-- name: job_lineage
-- A job's kind and parent, wherever it is. $1 id.
SELECT kind, parent_job, status FROM queue WHERE id = $1
UNION ALL
SELECT kind, parent_job, status FROM completed WHERE id = $1

-- name: get_flow_status
-- The step id and flow state of a job, wherever it is. $1 workspace, $2 id.
SELECT flow_step_id, flow_status FROM queue WHERE workspace = $1 AND id = $2
UNION ALL
SELECT flow_step_id, flow_status FROM completed WHERE workspace = $1 AND id = $2

-- name: get_completed_flow
-- A finished top-level flow run, to restart. $1 workspace, $2 id.
SELECT id, workspace, script_path, created_by, tag, parent_job, flow_status
FROM completed WHERE workspace = $1 AND id = $2 AND kind = 'flow'

-- name: insert_resume_event
-- Record an approval or a cancel of a suspended step; nothing on a repeat of the same URL.
-- $1 step job id, $2 resume id, $3 approved, $4 approver, $5 payload.
INSERT INTO flow_resume_events (job_id, resume_id, approved, approver, payload)
VALUES ($1, $2, $3, $4, $5)
ON CONFLICT (job_id, resume_id) DO NOTHING
RETURNING true

-- name: resume_events
-- The approvals and cancels of one step's job, in order. $1 step job id.
SELECT resume_id, approved, approver, payload FROM flow_resume_events
WHERE job_id = $1 ORDER BY created_at, resume_id

-- name: flow_step_of
-- The flow and step a job belongs to, wherever the job is. $1 workspace, $2 id.
SELECT parent_job, flow_step_id FROM queue WHERE workspace = $1 AND id = $2
UNION ALL
SELECT parent_job, flow_step_id FROM completed WHERE workspace = $1 AND id = $2

-- name: expired_suspended_flows
-- Flows whose approval wait has run out, locked for this transaction (others skip them).
SELECT id, workspace, script_path, created_by, tag, parent_job, flow_status
FROM queue
WHERE kind = 'flow' AND (flow_status ->> 'suspended_until')::timestamptz < now()
FOR UPDATE SKIP LOCKED

-- name: resume_event_exists
-- Whether a resume or cancel URL was used already. $1 step job id, $2 resume id.
SELECT EXISTS (SELECT 1 FROM flow_resume_events WHERE job_id = $1 AND resume_id = $2)
