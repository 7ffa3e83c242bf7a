-- Dependencies jobs: a version's lock is resolved by a job of kind `dependencies` on a
-- worker; a run of a version whose lock is pending looks its resolving job up by hash.

CREATE INDEX queue_dependencies ON queue (workspace, script_hash) WHERE kind = 'dependencies';
