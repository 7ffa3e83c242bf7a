-- Dependencies: each script version carries the lock of its requirements (uv's
-- `pip compile` output), or the resolver's message when they could not be resolved.

ALTER TABLE script_versions ADD COLUMN lock text;
ALTER TABLE script_versions ADD COLUMN lock_status text NOT NULL DEFAULT 'none'
    CHECK (lock_status IN ('none', 'pending', 'ready', 'failed'));
ALTER TABLE script_versions ADD COLUMN lock_error text;
