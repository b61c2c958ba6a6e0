-- Chunked encoding of long videos (#23): an attempt whose source is long is encoded in K
-- chunks by K containers at once (a Batch array job, or local processes). The attempt's
-- first container (the lead) prepares: it probes, decides, encodes what covers the whole
-- video once (audio, captions, poster), then creates one job_chunk row per chunk and sends
-- them. Each chunk encodes its frames of every rung; the one whose success brings
-- chunks_done to chunks assembles the ladder and completes the job.
--
-- On the job, for the current attempt only (begin_attempt clears them):
--   chunks       K when the attempt is chunked, NULL for a one-pass attempt;
--   chunks_done  the fenced counter: chunks SUCCEEDED so far;
--   chunking     the plan and what the lead made for the whole video (domain/chunks.py,
--                services/chunked.py), which every chunk and the assembler read.
ALTER TABLE video_transcode_job
    ADD COLUMN chunks integer CHECK (chunks >= 2),
    ADD COLUMN chunks_done integer NOT NULL DEFAULT 0 CHECK (chunks_done >= 0),
    ADD COLUMN chunking jsonb;

-- One row per chunk of a chunked attempt. The attempt is part of the key: a chunk of an
-- abandoned attempt is fenced out by it, like a container of an abandoned attempt.
-- tries counts the sends of the chunk within its attempt (the array's child is the
-- first; scan-stuck resubmits a failed or stale chunk alone).
CREATE TABLE job_chunk (
    job_id          bigint NOT NULL REFERENCES video_transcode_job (id) ON DELETE CASCADE,
    attempt         integer NOT NULL CHECK (attempt >= 1),
    idx             integer NOT NULL CHECK (idx >= 0),
    state           text NOT NULL DEFAULT 'PENDING'
                    CHECK (state IN ('PENDING', 'SUBMITTED', 'RUNNING', 'SUCCEEDED', 'FAILED', 'RETRY_WAIT',
                                     'ABANDONED')),
    tries           integer NOT NULL DEFAULT 0 CHECK (tries >= 0),
    -- Where the chunk lies in the source, for the operator (the plan is the truth).
    start_s         double precision NOT NULL CHECK (start_s >= 0),
    duration_s      double precision,
    executor_job_id text,
    runner_id       text,
    heartbeat_at    timestamptz,
    progress        integer NOT NULL DEFAULT 0 CHECK (progress BETWEEN 0 AND 100),
    next_try_at     timestamptz,
    error_code      text,
    error_message   text,
    failure_code    text,
    failure_repeats integer NOT NULL DEFAULT 0,
    -- What the chunk made, for the assembler: each rendition's segments and their timing.
    result          jsonb,
    created_at      timestamptz NOT NULL DEFAULT now(),
    submitted_at    timestamptz,
    started_at      timestamptz,
    finished_at     timestamptz,
    updated_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (job_id, attempt, idx)
);

-- scan-stuck reads the chunks still in play, never the finished ones.
CREATE INDEX job_chunk_unfinished_idx ON job_chunk (job_id, attempt)
    WHERE state IN ('PENDING', 'SUBMITTED', 'RUNNING', 'FAILED', 'RETRY_WAIT');
