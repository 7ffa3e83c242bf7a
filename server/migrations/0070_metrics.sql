-- Metrics kept in PostgreSQL, because workers are other processes (and machines) than the
-- server that answers /metrics. Counters are per worker rows, each written only by its own
-- worker, so completions on different workers never wait on one another's row locks.

-- The duration histogram's upper bounds in seconds (one row): read by the trigger and by
-- the /metrics route, so the two cannot disagree.
CREATE TABLE metric_duration_bounds (
    only_row  boolean PRIMARY KEY DEFAULT true CHECK (only_row),
    bounds    double precision[] NOT NULL
);
INSERT INTO metric_duration_bounds (bounds)
VALUES ('{0.01,0.025,0.05,0.1,0.25,0.5,1,2.5,5,10,30,60,300,900,3600}');

-- Ended jobs per worker, language and status, with a histogram of their run time
-- (started_at to completed_at; jobs canceled before they started count in `total` only).
-- buckets[i] counts runs of at most bounds[i] seconds (not cumulative).
CREATE TABLE job_end_stats (
    worker    text NOT NULL,
    language  text NOT NULL,
    status    text NOT NULL,
    total     bigint NOT NULL DEFAULT 0,
    runs      bigint NOT NULL DEFAULT 0,
    sum_s     double precision NOT NULL DEFAULT 0,
    buckets   bigint[] NOT NULL,
    PRIMARY KEY (worker, language, status)
);

CREATE FUNCTION tidemill_count_job_end() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    bounds double precision[];
    took double precision;
    slot integer;
    zero bigint[];
BEGIN
    SELECT b.bounds INTO bounds FROM metric_duration_bounds b;
    zero := array_fill(0::bigint, ARRAY[cardinality(bounds)]);
    INSERT INTO job_end_stats (worker, language, status, buckets)
    VALUES (coalesce(NEW.worker, ''), NEW.language, NEW.status, zero)
    ON CONFLICT DO NOTHING;
    IF NEW.started_at IS NULL THEN
        UPDATE job_end_stats SET total = total + 1
        WHERE worker = coalesce(NEW.worker, '') AND language = NEW.language
          AND status = NEW.status;
        RETURN NULL;
    END IF;
    took := greatest(extract(epoch FROM NEW.completed_at - NEW.started_at), 0);
    -- the first bound at or above the run time; past the last one only +Inf counts it
    SELECT min(i) INTO slot FROM generate_subscripts(bounds, 1) i WHERE took <= bounds[i];
    UPDATE job_end_stats
    SET total = total + 1, runs = runs + 1, sum_s = sum_s + took,
        buckets = CASE WHEN slot IS NULL THEN buckets
                       ELSE buckets[:slot - 1] || (buckets[slot] + 1) || buckets[slot + 1:] END
    WHERE worker = coalesce(NEW.worker, '') AND language = NEW.language AND status = NEW.status;
    RETURN NULL;
END $$;

CREATE TRIGGER completed_count_job_end AFTER INSERT ON completed
FOR EACH ROW EXECUTE FUNCTION tidemill_count_job_end();

-- Event counters of each worker (dependency environment cache hits and misses).
CREATE TABLE worker_counters (
    worker  text NOT NULL,
    name    text NOT NULL,
    value   bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (worker, name)
);
