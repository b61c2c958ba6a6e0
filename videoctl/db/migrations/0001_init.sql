-- The two tables of DESIGN.md section 3. Job states are text with a CHECK so
-- that psql output stays readable; videoctl.domain.states is the authority.

CREATE TABLE video (
    id          bigserial PRIMARY KEY,
    title       text NOT NULL,
    source_key  text NOT NULL,
    status      text NOT NULL DEFAULT 'UPLOADED'
                CHECK (status IN ('PENDING', 'UPLOADED', 'PROCESSING', 'READY', 'FAILED')),
    hls_path    text,
    duration_s  double precision,
    width       integer,
    height      integer,
    has_audio   boolean,
    size_bytes  bigint,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    CHECK (status <> 'READY' OR hls_path IS NOT NULL)
);

CREATE INDEX video_status_idx ON video (status, id);

CREATE TABLE video_transcode_job (
    id               bigserial PRIMARY KEY,
    video_id         bigint NOT NULL REFERENCES video (id),
    state            text NOT NULL DEFAULT 'QUEUED'
                     CHECK (state IN ('QUEUED', 'SUBMITTED', 'RUNNING', 'SUCCEEDED', 'FAILED',
                                      'RETRY_WAIT', 'DEAD', 'CANCELLED')),
    -- Number of submissions so far; the fencing token of the current attempt.
    attempt          integer NOT NULL DEFAULT 0 CHECK (attempt >= 0),
    max_attempts     integer NOT NULL CHECK (max_attempts >= 1),
    -- A re-encode of a READY video: the READY guard must not short-circuit it.
    reencode         boolean NOT NULL DEFAULT false,
    priority         integer,
    aws_batch_job_id text,
    -- Who holds the claim of the current attempt (AWS_BATCH_JOB_ID or a local id).
    runner_id        text,
    heartbeat_at     timestamptz,
    progress         smallint NOT NULL DEFAULT 0 CHECK (progress BETWEEN 0 AND 100),
    next_attempt_at  timestamptz,
    error_code       text,
    error_message    text,
    -- The attempt prefix of the ladder the job completed with.
    output_prefix    text,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    submitted_at     timestamptz,
    started_at       timestamptz,
    finished_at      timestamptz
);

-- One active job per video.
CREATE UNIQUE INDEX video_transcode_job_one_active_idx
    ON video_transcode_job (video_id)
    WHERE state IN ('QUEUED', 'SUBMITTED', 'RUNNING', 'FAILED', 'RETRY_WAIT');

-- scan-stuck reads only non-terminal rows: its cost follows the number of
-- active jobs, not the millions that finished.
CREATE INDEX video_transcode_job_active_idx
    ON video_transcode_job (state, next_attempt_at, heartbeat_at, submitted_at)
    WHERE state IN ('QUEUED', 'SUBMITTED', 'RUNNING', 'FAILED', 'RETRY_WAIT');

CREATE INDEX video_transcode_job_video_idx ON video_transcode_job (video_id, id);

-- `videoctl stats`: completions and failures per hour.
CREATE INDEX video_transcode_job_finished_idx
    ON video_transcode_job (finished_at)
    WHERE finished_at IS NOT NULL;

-- Object prefixes waiting to be deleted (abandoned attempts, replaced ladders).
-- The delete-r2 path drains it; keeping the row until then means a crash
-- between "decided to delete" and "sent" loses nothing.
CREATE TABLE r2_delete_request (
    id            bigserial PRIMARY KEY,
    prefix        text NOT NULL,
    reason        text NOT NULL,
    video_id      bigint REFERENCES video (id),
    requested_at  timestamptz NOT NULL DEFAULT now(),
    sent_at       timestamptz
);

CREATE INDEX r2_delete_request_pending_idx ON r2_delete_request (id) WHERE sent_at IS NULL;
