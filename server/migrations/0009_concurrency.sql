-- Concurrency limits per script: at most `concurrent_limit` runs of a script started
-- within `concurrency_window_s` (or running at once, without a window). Copied from the
-- script's settings when the job is queued; extra runs wait in the queue.

ALTER TABLE queue ADD COLUMN concurrent_limit integer;
ALTER TABLE queue ADD COLUMN concurrency_window_s integer;
