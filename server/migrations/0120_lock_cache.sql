-- Locks by what they were resolved from. Every resolution (a version's or a preview's)
-- remembers its lock here under the hash of its requirements, per workspace (index
-- settings and a private index's login are per workspace); a preview whose requirements
-- have a lock here runs with it, with no resolver call. Failures are not remembered: the
-- index may have been down.

CREATE TABLE dependency_locks (
    workspace          text NOT NULL,
    requirements_hash  text NOT NULL,
    lock               text NOT NULL,
    resolved_at        timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (workspace, requirements_hash)
);

-- A preview's lock is resolved by a `dependencies` job like a version's: its pending row
-- (and its resolver's own row, which carries the code) are found by their requirements.
ALTER TABLE job_previews ADD COLUMN requirements_hash text;
CREATE INDEX job_previews_pending ON job_previews (workspace, requirements_hash)
    WHERE lock_status = 'pending';
