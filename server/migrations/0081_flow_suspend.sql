-- Approvals of suspended flow steps: one row per resume or cancel URL used. The primary
-- key makes a repeat of the same URL a no-op; events may arrive before the step ends.

CREATE TABLE flow_resume_events (
    job_id      uuid NOT NULL,
    resume_id   bigint NOT NULL,
    approved    boolean NOT NULL,
    approver    text,
    payload     jsonb,
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (job_id, resume_id)
);

-- Workers look for approval waits that ran out on every maintenance pass: keep that a
-- scan of the flow jobs only.
CREATE INDEX queue_flows ON queue (id) WHERE kind = 'flow';
