-- The job queue, completed jobs, logs and workers. Owned by server.queue:
-- no other module writes these tables.

-- name: enqueue_job
-- Queue a job and wake the workers of its tag. $1 id, $2 workspace, $3 script_path,
-- $4 script_hash, $5 language, $6 args, $7 tag, $8 priority, $9 scheduled_for,
-- $10 timeout_s, $11 max_attempts, $12 created_by, $13 parent_job, $14 kind,
-- $15 schedule_path, $16 retry policy, $17 concurrent_limit, $18 concurrency_window_s.
WITH job AS (
    INSERT INTO queue (id, workspace, script_path, script_hash, language, args, tag, priority,
                       scheduled_for, timeout_s, max_attempts, created_by, parent_job, kind,
                       schedule_path, retry, concurrent_limit, concurrency_window_s)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, coalesce($9, now()), $10, $11, $12, $13, $14, $15,
            $16, $17, $18)
    RETURNING tag
)
SELECT pg_notify('tidemill_queued', tag) FROM job

-- name: lease_job
-- End the job in hand, if any, and claim the most urgent due job of these tags, with its
-- script, minting its job token: a busy worker's one statement (and one commit) per job,
-- and, with no tags, the statement that only ends a job. Without $5 it takes only jobs
-- with no concurrency limit; with $5, that job (one the caller has checked against its
-- limit and holds locked). The job in hand moves to `completed` with its last log chunk,
-- its token is revoked and sync waiters are woken; nothing happens to it if this worker
-- lost the lease, nor if it is a flow's step and $11 is false (a step ends only in the
-- transaction that advances its flow). Always one row: `ended` (whether the job in hand
-- was still this worker's), `ended_parent_job` (its flow, if a step) and the leased job,
-- NULLs if none.
-- $1 worker, $2 tags, $3 job token hash, $4 default timeout (s), $5 job id or NULL,
-- $6 id of the job in hand or NULL, $7 its status, $8 its result, $9 its error,
-- $10 its last log chunk, $11 whether it may be a flow's step.
WITH done AS (
    DELETE FROM queue WHERE id = $6 AND worker = $1 AND (parent_job IS NULL OR $11)
    RETURNING *
), moved AS (
    INSERT INTO completed (id, workspace, kind, script_path, script_hash, language, args, status,
                           tag, priority, scheduled_for, timeout_s, attempts, max_attempts,
                           created_by, parent_job, schedule_path, created_at, started_at,
                           worker, result, error, canceled_by, cancel_reason, retry, retries,
                           flow_step_id)
    SELECT id, workspace, kind, script_path, script_hash, language, args, $7,
           tag, priority, scheduled_for, timeout_s, attempts, max_attempts,
           created_by, parent_job, schedule_path, created_at, started_at,
           worker, $8, $9, canceled_by, cancel_reason, retry, retries, flow_step_id
    FROM done
    RETURNING id, parent_job
), logs AS (
    INSERT INTO job_logs (job_id, content) SELECT id, $10 FROM moved WHERE $10 <> ''
), revoked AS (
    DELETE FROM tokens t USING done WHERE t.job_id = done.id
), next AS (
    -- the first due job nobody holds: SKIP LOCKED lets workers pass each other. Per tag,
    -- so that each probe reads queue_lease in order and stops at its first row, however
    -- many jobs wait (`tag = ANY(...)` would sort them all on every lease)
    SELECT first.id FROM unnest($2::text[]) AS tags(tag)
    CROSS JOIN LATERAL (
        SELECT id, priority, scheduled_for FROM queue
        WHERE status = 'queued' AND queue.tag = tags.tag AND scheduled_for <= now()
          AND CASE WHEN $5::uuid IS NULL THEN concurrent_limit IS NULL ELSE id = $5 END
        ORDER BY priority DESC, scheduled_for
        LIMIT 1
        FOR UPDATE SKIP LOCKED
    ) first
    ORDER BY first.priority DESC, first.scheduled_for
    LIMIT 1
), leased AS (
    UPDATE queue q
    SET status = 'running', worker = $1, started_at = now(), heartbeat_at = now(),
        attempts = q.attempts + 1
    FROM next WHERE q.id = next.id
    RETURNING q.id, q.workspace, q.kind, q.script_path, q.script_hash, q.language, q.args,
              q.timeout_s, q.attempts, q.created_by, q.retry, q.retries, q.schedule_path,
              q.parent_job
), token AS (
    INSERT INTO tokens (token_hash, username, label, workspace, job_id, expires_at)
    SELECT $3, created_by, 'job ' || id, workspace, id,
           now() + make_interval(secs => coalesce(timeout_s, $4) + 60)
    FROM leased
), ping AS (
    UPDATE workers SET last_ping = now(), current_job_id = (SELECT id FROM leased)
    WHERE name = $1
)
SELECT (SELECT count(*) FROM moved WHERE pg_notify('tidemill_done', id::text) IS NOT NULL) > 0
           AS ended,
       (SELECT parent_job FROM moved) AS ended_parent_job,
       l.id, l.workspace, l.kind, l.script_path, l.script_hash, l.language, l.args,
       l.timeout_s, l.attempts, l.retry, l.retries, code.content, code.lock, code.lock_status,
       code.lock_error, l.created_by, l.schedule_path, l.parent_job, code.dedicated_worker
FROM (VALUES (1)) AS one
LEFT JOIN (
    leased l
    JOIN LATERAL (
        SELECT v.content, v.lock, v.lock_status, v.lock_error,
               coalesce((v.settings ->> 'dedicated_worker')::boolean, false) AS dedicated_worker
        FROM script_versions v
        WHERE l.kind <> 'preview'
          AND v.workspace = l.workspace AND v.path = l.script_path AND v.hash = l.script_hash
        UNION ALL
        -- a preview runs its own code, saved with the job rather than as a version; so does
        -- the job resolving a preview's lock (its script_hash is the requirements', no
        -- version's)
        SELECT p.content, p.lock, p.lock_status, p.lock_error, false FROM job_previews p
        WHERE l.kind IN ('preview', 'dependencies') AND p.job_id = l.id
    ) code ON true
) ON true

-- name: next_due
-- Seconds until the next waiting job of these tags that is not due yet becomes due (NULL:
-- none), so an idle worker wakes for it rather than at its next poll. $1 tags.
SELECT extract(epoch FROM min(scheduled_for) - now())::float8 FROM queue
WHERE status = 'queued' AND tag = ANY($1::text[]) AND scheduled_for > now()

-- name: heartbeat
-- Prove this worker and its job are alive; answers whether the job was canceled.
-- $1 worker, $2 job id (or NULL when idle).
WITH w AS (
    UPDATE workers SET last_ping = now() WHERE name = $1
)
UPDATE queue SET heartbeat_at = now()
WHERE id = $2 AND worker = $1
RETURNING canceled_by IS NOT NULL AS canceled

-- name: append_log
-- Add a chunk of a running job's output. $1 job id, $2 text.
INSERT INTO job_logs (job_id, content) VALUES ($1, $2)

-- name: cancel_job
-- Cancel a job: a queued one ends at once; a running one is flagged and its worker
-- told to kill it. $1 workspace, $2 id, $3 canceled_by, $4 reason.
WITH waiting AS (
    DELETE FROM queue WHERE id = $2 AND workspace = $1 AND status = 'queued' RETURNING *
), moved AS (
    INSERT INTO completed (id, workspace, kind, script_path, script_hash, language, args, status,
                           tag, priority, scheduled_for, timeout_s, attempts, max_attempts,
                           created_by, parent_job, schedule_path, created_at, started_at,
                           worker, result, error, canceled_by, cancel_reason, retry, retries,
                           flow_step_id)
    SELECT id, workspace, kind, script_path, script_hash, language, args, 'canceled',
           tag, priority, scheduled_for, timeout_s, attempts, max_attempts,
           created_by, parent_job, schedule_path, created_at, started_at,
           worker, NULL,
           jsonb_build_object('name', 'Canceled', 'message', 'canceled by ' || $3 || ': ' || $4),
           $3, $4, retry, retries, flow_step_id
    FROM waiting
    RETURNING id
), flagged AS (
    UPDATE queue SET canceled_by = $3, cancel_reason = $4
    WHERE id = $2 AND workspace = $1 AND status = 'running'
    RETURNING id
)
SELECT id, pg_notify('tidemill_done', id::text) IS NOT NULL AS ended FROM moved
UNION ALL
SELECT id, pg_notify('tidemill_cancel', id::text) IS NULL AS ended FROM flagged

-- name: recover_lost_jobs
-- Give back the jobs of workers that stopped heartbeating: re-queue those with attempts
-- left, fail (or cancel) the rest. Safe to run from every worker at once.
-- $1 seconds without a heartbeat after which a job is lost.
WITH lost AS (
    SELECT id FROM queue
    WHERE status = 'running' AND heartbeat_at < now() - make_interval(secs => $1)
    FOR UPDATE SKIP LOCKED
), requeued AS (
    UPDATE queue q
    SET status = 'queued', worker = NULL, started_at = NULL, heartbeat_at = NULL
    FROM lost
    WHERE q.id = lost.id AND q.attempts < q.max_attempts AND q.canceled_by IS NULL
    RETURNING q.id, q.tag
), given_up AS (
    DELETE FROM queue q USING lost
    WHERE q.id = lost.id AND (q.attempts >= q.max_attempts OR q.canceled_by IS NOT NULL)
    RETURNING q.*
), moved AS (
    INSERT INTO completed (id, workspace, kind, script_path, script_hash, language, args, status,
                           tag, priority, scheduled_for, timeout_s, attempts, max_attempts,
                           created_by, parent_job, schedule_path, created_at, started_at,
                           worker, result, error, canceled_by, cancel_reason, retry, retries,
                           flow_step_id)
    SELECT id, workspace, kind, script_path, script_hash, language, args,
           CASE WHEN canceled_by IS NULL THEN 'failure' ELSE 'canceled' END,
           tag, priority, scheduled_for, timeout_s, attempts, max_attempts,
           created_by, parent_job, schedule_path, created_at, started_at,
           worker, NULL,
           jsonb_build_object(
               'name', 'WorkerLost',
               'message', 'the worker running this job stopped responding (attempt '
                          || attempts || ' of ' || max_attempts || ')'),
           canceled_by, cancel_reason, retry, retries, flow_step_id
    FROM given_up
    RETURNING id, parent_job
), token AS (
    DELETE FROM tokens t USING lost WHERE t.job_id = lost.id
)
SELECT id, 'requeued' AS outcome, pg_notify('tidemill_queued', tag) IS NULL AS notified,
       NULL::uuid AS parent_job
FROM requeued
UNION ALL
SELECT id, 'failed' AS outcome, pg_notify('tidemill_done', id::text) IS NULL AS notified,
       parent_job
FROM moved

-- name: get_job
-- A job wherever it is, read in one snapshot so a job moving to `completed` is never
-- missed. $1 workspace, $2 id.
SELECT id, workspace, kind, script_path, script_hash, language, args, status, tag, priority,
       scheduled_for, timeout_s, attempts, max_attempts, created_by, parent_job, schedule_path,
       created_at, started_at, NULL::timestamptz AS completed_at, worker,
       NULL::jsonb AS result, NULL::jsonb AS error, canceled_by, cancel_reason, retries
FROM queue WHERE workspace = $1 AND id = $2
UNION ALL
SELECT id, workspace, kind, script_path, script_hash, language, args, status, tag, priority,
       scheduled_for, timeout_s, attempts, max_attempts, created_by, parent_job, schedule_path,
       created_at, started_at, completed_at, worker, result, error, canceled_by, cancel_reason,
       retries
FROM completed WHERE workspace = $1 AND id = $2

-- name: get_completed_job
-- A completed job only. $1 workspace, $2 id.
SELECT id, workspace, kind, script_path, script_hash, language, args, status, tag, priority,
       scheduled_for, timeout_s, attempts, max_attempts, created_by, parent_job, schedule_path,
       created_at, started_at, completed_at, worker, result, error, canceled_by, cancel_reason,
       retries
FROM completed WHERE workspace = $1 AND id = $2

-- name: list_jobs
-- Jobs newest first, with Windmill's filters (NULL: no filter).
-- $1 workspace, $2 script_path, $3 schedule_path, $4 success, $5 running, $6 limit, $7 offset,
-- $8 script path prefix, $9 created_by, $10 created after, $11 created before,
-- $12 statuses (any of), $13 job kinds (any of).
SELECT * FROM (
    SELECT id, workspace, kind, script_path, script_hash, language, args, status, tag, priority,
           scheduled_for, timeout_s, attempts, max_attempts, created_by, parent_job,
           schedule_path, created_at, started_at, NULL::timestamptz AS completed_at, worker,
           NULL::jsonb AS result, NULL::jsonb AS error, canceled_by, cancel_reason, retries
    FROM queue WHERE workspace = $1 AND $4::boolean IS NULL
    UNION ALL
    SELECT id, workspace, kind, script_path, script_hash, language, args, status, tag, priority,
           scheduled_for, timeout_s, attempts, max_attempts, created_by, parent_job,
           schedule_path, created_at, started_at, completed_at, worker, result, error,
           canceled_by, cancel_reason, retries
    FROM completed
    WHERE workspace = $1 AND ($5::boolean IS NULL OR NOT $5::boolean)
      AND ($4::boolean IS NULL OR (status = 'success') = $4::boolean)
) j
WHERE ($2::text IS NULL OR script_path = $2)
  AND ($3::text IS NULL OR schedule_path = $3)
  AND ($5::boolean IS NULL OR (status = 'running') = $5::boolean)
  AND ($8::text IS NULL OR starts_with(script_path, $8))
  AND ($9::text IS NULL OR created_by = $9)
  AND ($10::timestamptz IS NULL OR created_at > $10)
  AND ($11::timestamptz IS NULL OR created_at < $11)
  AND ($12::text[] IS NULL OR status = ANY($12))
  AND ($13::text[] IS NULL OR kind = ANY($13))
ORDER BY created_at DESC, id
LIMIT $6 OFFSET $7

-- name: get_logs
-- A job's output so far, in order. $1 job id.
SELECT coalesce(string_agg(content, '' ORDER BY id), '') FROM job_logs WHERE job_id = $1

-- name: log_chunks_after
-- A job's log chunks written after chunk $2, in order: what a live stream has not sent yet.
-- $1 job id, $2 the last chunk id already read (0: none).
SELECT id, content FROM job_logs WHERE job_id = $1 AND id > $2 ORDER BY id

-- name: log_chunks_from_offset
-- A job's log chunks that end after text offset $2 (characters), each with the offset it
-- ends at, plus always the last chunk (so a reader past the end still learns where it is).
-- $1 job id, $2 offset.
SELECT id, content, end_offset FROM (
    SELECT id, content, sum(length(content)) OVER (ORDER BY id) AS end_offset,
           max(id) OVER () AS last_id
    FROM job_logs WHERE job_id = $1
) c
WHERE end_offset > $2 OR id = last_id
ORDER BY id

-- name: register_worker
-- Announce a worker (a restarted one takes its row back). $1 name, $2 hostname, $3 pid, $4 tags.
INSERT INTO workers (name, hostname, pid, tags) VALUES ($1, $2, $3, $4)
ON CONFLICT (name) DO UPDATE
SET hostname = EXCLUDED.hostname, pid = EXCLUDED.pid, tags = EXCLUDED.tags,
    started_at = now(), last_ping = now(), current_job_id = NULL

-- name: unregister_worker
-- A worker leaving cleanly. $1 name.
DELETE FROM workers WHERE name = $1

-- name: list_workers
-- Workers that pinged recently. $1 seconds of silence after which a worker is gone.
SELECT name AS worker, hostname, pid, tags, started_at, last_ping, current_job_id
FROM workers
WHERE last_ping > now() - make_interval(secs => $1)
ORDER BY name

-- name: retry_job
-- A failed attempt with attempts left: record it, and queue the same job again after a
-- delay, in one statement. Nothing happens if this worker lost the lease.
-- $1 id, $2 worker, $3 delay (s), $4 error, $5 last log chunk.
WITH failed AS (
    SELECT id, retries, worker, started_at FROM queue
    WHERE id = $1 AND worker = $2 AND canceled_by IS NULL
    FOR UPDATE
), attempt AS (
    INSERT INTO job_attempts (job_id, attempt, worker, started_at, error)
    SELECT id, retries + 1, worker, started_at, $4 FROM failed
), requeued AS (
    UPDATE queue q
    SET status = 'queued', worker = NULL, started_at = NULL, heartbeat_at = NULL, attempts = 0,
        retries = q.retries + 1, scheduled_for = now() + make_interval(secs => $3)
    FROM failed WHERE q.id = failed.id
    RETURNING q.id, q.tag, q.retries
), logs AS (
    INSERT INTO job_logs (job_id, content) SELECT id, $5 FROM requeued
), token AS (
    DELETE FROM tokens WHERE job_id = $1 AND EXISTS (SELECT 1 FROM requeued)
), w AS (
    UPDATE workers SET current_job_id = NULL, last_ping = now() WHERE name = $2
)
SELECT retries, pg_notify('tidemill_queued', tag) IS NULL AS notified FROM requeued

-- name: job_attempts
-- The failed attempts of a job, in order. $1 job id.
SELECT attempt, worker, started_at, ended_at, error FROM job_attempts
WHERE job_id = $1 ORDER BY attempt

-- name: limited_candidates
-- Due jobs of scripts with a concurrency limit, most urgent first, locked for this
-- transaction (others skip them). $1 tags.
SELECT id, workspace, script_path, concurrent_limit, concurrency_window_s FROM queue
WHERE status = 'queued' AND tag = ANY($1::text[]) AND scheduled_for <= now()
  AND concurrent_limit IS NOT NULL
ORDER BY priority DESC, scheduled_for
LIMIT 20
FOR UPDATE SKIP LOCKED

-- name: lock_script_concurrency
-- Serialise the limit check of one script until this transaction ends. $1 key.
SELECT pg_advisory_xact_lock(hashtext($1))

-- name: script_runs_in_window
-- Runs of a script that count against its limit: running now, or started within the
-- window (resolving its dependencies is not a run). $1 workspace, $2 script_path,
-- $3 window (s) or NULL.
SELECT (SELECT count(*) FROM queue
        WHERE workspace = $1 AND script_path = $2 AND status = 'running'
          AND kind <> 'dependencies')
     + (SELECT count(*) FROM completed
        WHERE $3::integer IS NOT NULL AND workspace = $1 AND script_path = $2
          AND started_at > now() - make_interval(secs => $3) AND kind <> 'dependencies')

-- name: last_run_per_path
-- Each script's and each flow's newest job (waiting, running or ended), by one index probe
-- per path; a flow's runs are its jobs of kind `flow`, a script's the others (a script and
-- a flow may share a path). $1 workspace.
SELECT p.path AS script_path, p.is_flow, j.id, j.status, j.created_at
FROM (
    SELECT path, false AS is_flow FROM scripts WHERE workspace = $1
    UNION ALL
    SELECT path, true AS is_flow FROM flows WHERE workspace = $1
) p
CROSS JOIN LATERAL (
    SELECT id, status, created_at FROM (
        (SELECT id, status, created_at FROM queue
         WHERE workspace = $1 AND script_path = p.path AND (kind = 'flow') = p.is_flow
         ORDER BY created_at DESC LIMIT 1)
        UNION ALL
        (SELECT id, status, created_at FROM completed
         WHERE workspace = $1 AND script_path = p.path AND (kind = 'flow') = p.is_flow
         ORDER BY created_at DESC LIMIT 1)
    ) newest
    ORDER BY created_at DESC LIMIT 1
) j
ORDER BY p.path, p.is_flow

-- name: save_preview_code
-- Keep the code (and lock) of a preview job, or of the job resolving its lock, in the
-- transaction that queues it. $1 job id, $2 workspace, $3 language, $4 content, $5 lock,
-- $6 lock_status, $7 lock_error, $8 requirements hash (NULL: nothing to lock).
INSERT INTO job_previews (job_id, workspace, language, content, lock, lock_status, lock_error,
                          requirements_hash)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8)

-- name: get_preview_lock
-- A preview's lock as it stands. $1 workspace, $2 job id.
SELECT lock, lock_status, lock_error FROM job_previews WHERE workspace = $1 AND job_id = $2

-- name: store_preview_locks
-- Store what resolving these requirements gave on every preview (and preview resolver)
-- still waiting for it, and wake the runs that wait. $1 workspace, $2 requirements hash,
-- $3 lock, $4 lock_status, $5 lock_error.
WITH stored AS (
    UPDATE job_previews SET lock = $3, lock_status = $4, lock_error = $5
    WHERE workspace = $1 AND requirements_hash = $2 AND lock_status = 'pending'
    RETURNING job_id
)
SELECT count(*) AS stored, pg_notify('tidemill_locked', $2) IS NULL AS notified FROM stored

-- name: get_preview_code
-- The code a preview job ran. $1 workspace, $2 job id.
SELECT content FROM job_previews WHERE workspace = $1 AND job_id = $2

-- name: enqueue_dependencies
-- Queue the job that resolves a version's lock (kind `dependencies`), ahead of runs of its
-- tag, and wake the workers. $1 id, $2 workspace, $3 script_path, $4 script_hash,
-- $5 language, $6 tag, $7 priority, $8 created_by.
WITH job AS (
    INSERT INTO queue (id, workspace, kind, script_path, script_hash, language, tag, priority,
                       created_by)
    VALUES ($1, $2, 'dependencies', $3, $4, $5, $6, $7, $8)
    RETURNING tag
)
SELECT pg_notify('tidemill_queued', tag) FROM job

-- name: dependency_job_status
-- Whether a job resolving this version's lock is waiting or running (NULL: none).
-- $1 workspace, $2 script_hash.
SELECT status FROM queue
WHERE workspace = $1 AND script_hash = $2 AND kind = 'dependencies'
ORDER BY status = 'running' DESC
LIMIT 1
