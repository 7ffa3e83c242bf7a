-- name: add_worker_counts
-- Add to a worker's event counters, in one statement. $1 worker, $2 counter names,
-- $3 amounts (in the same order).
INSERT INTO worker_counters (worker, name, value)
SELECT $1, c.name, c.amount FROM unnest($2::text[], $3::bigint[]) AS c(name, amount)
ON CONFLICT (worker, name) DO UPDATE SET value = worker_counters.value + EXCLUDED.value

-- name: metric_queue
-- Waiting and running jobs per tag and status; `due` counts the queued ones that may start now.
SELECT tag, status, count(*) AS jobs,
       count(*) FILTER (WHERE status = 'queued' AND scheduled_for <= now()) AS due
FROM queue GROUP BY tag, status

-- name: metric_job_ends
-- Ended jobs and run-time histograms per language and status, summed over workers.
SELECT language, status, sum(total)::bigint AS total, sum(runs)::bigint AS runs,
       sum(sum_s) AS sum_s,
       ARRAY(SELECT sum(b)::bigint FROM job_end_stats s2, unnest(s2.buckets) WITH ORDINALITY u(b, i)
             WHERE s2.language = s.language AND s2.status = s.status
             GROUP BY i ORDER BY i) AS buckets
FROM job_end_stats s GROUP BY language, status ORDER BY language, status

-- name: metric_duration_bounds
-- The duration histogram's upper bounds, in seconds.
SELECT bounds FROM metric_duration_bounds

-- name: metric_workers_alive
-- Workers that pinged within $1 seconds.
SELECT count(*) FROM workers WHERE last_ping > now() - make_interval(secs => $1)

-- name: metric_worker_counters
-- Event counters summed over workers.
SELECT name, sum(value)::bigint AS value FROM worker_counters GROUP BY name
