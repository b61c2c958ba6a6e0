-- What each attempt held and for how long (issue: cost). One row per attempt that
-- claimed its job: the runner writes its own measurement when it ends (runtime_source
-- 'runner'); for a Batch attempt scan-stuck later replaces it with what Batch says
-- (container vCPU and memory, startedAt → stoppedAt: what Fargate bills), 'executor'.
-- Rows go with their job (retention prunes jobs, never usage alone).
CREATE TABLE job_attempt_usage (
    job_id            bigint NOT NULL REFERENCES video_transcode_job (id) ON DELETE CASCADE,
    attempt           integer NOT NULL CHECK (attempt >= 1),
    -- fargate, fargate_spot (a Batch attempt: the compute environment's type) or local.
    capacity          text NOT NULL CHECK (capacity IN ('fargate', 'fargate_spot', 'local')),
    executor_job_id   text,
    vcpus             double precision NOT NULL CHECK (vcpus > 0),
    memory_mib        integer NOT NULL CHECK (memory_mib > 0),
    runtime_s         double precision NOT NULL CHECK (runtime_s >= 0),
    runtime_source    text NOT NULL CHECK (runtime_source IN ('runner', 'executor')),
    -- A completed encode's source length and renditions (MediaConvert's comparison).
    source_duration_s double precision,
    hd_renditions     integer NOT NULL DEFAULT 0,
    sd_renditions     integer NOT NULL DEFAULT 0,
    finished_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (job_id, attempt)
);

CREATE INDEX job_attempt_usage_finished_idx ON job_attempt_usage (finished_at);
-- scan-stuck's refinement reads only the Batch rows Batch has not confirmed yet.
CREATE INDEX job_attempt_usage_unconfirmed_idx ON job_attempt_usage (finished_at)
    WHERE runtime_source = 'runner' AND capacity <> 'local';
