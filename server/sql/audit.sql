-- The audit log. Owned by server.audit.

-- name: record_audit
-- $1 workspace, $2 username, $3 action, $4 target, $5 details.
INSERT INTO audit_log (workspace, username, action, target, details) VALUES ($1, $2, $3, $4, $5)

-- name: list_audit
-- Newest first, runs included (from the job tables), optionally for one user or action.
-- $1 username, $2 action, $3 limit, $4 offset.
SELECT * FROM (
    SELECT at, workspace, username, action, target, details FROM audit_log
    UNION ALL
    SELECT created_at, workspace, created_by, 'jobs.run', script_path,
           jsonb_build_object('job_id', id)
    FROM queue
    UNION ALL
    SELECT created_at, workspace, created_by, 'jobs.run', script_path,
           jsonb_build_object('job_id', id, 'status', status)
    FROM completed
) entries
WHERE ($1::text IS NULL OR username = $1) AND ($2::text IS NULL OR action = $2)
ORDER BY at DESC
LIMIT $3 OFFSET $4
