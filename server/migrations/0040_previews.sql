-- Previews: a run of content that is not saved as a version (Windmill's
-- `jobs/run/preview`, `tidemill run ./file.py`). The job's code and lock live here,
-- keyed by the job, instead of in script_versions; the job's kind is 'preview' and its
-- script_hash is the content's hash (no version has it).

CREATE TABLE job_previews (
    job_id       uuid PRIMARY KEY,
    workspace    text NOT NULL,
    language     text NOT NULL,
    content      text NOT NULL,
    lock         text,
    lock_status  text NOT NULL DEFAULT 'none'
        CHECK (lock_status IN ('none', 'pending', 'ready', 'failed')),
    lock_error   text,
    created_at   timestamptz NOT NULL DEFAULT now()
);
