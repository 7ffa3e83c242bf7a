-- Schedules and custom HTTP routes may run a flow: with `is_flow`, `script_path` names a
-- flow (Windmill's fields). Schedule hooks that are flows are stored as `flow/<path>`.

ALTER TABLE schedules ADD COLUMN is_flow boolean NOT NULL DEFAULT false;
ALTER TABLE http_triggers ADD COLUMN is_flow boolean NOT NULL DEFAULT false;
