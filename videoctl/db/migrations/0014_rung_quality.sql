-- Quality of a ladder's rungs against their source (issue 22: `videoctl quality`, run-job's
-- VIDEOCTL_MEASURE_QUALITY). One row per rung of one ladder (its attempt prefix), replaced
-- whole when the ladder is measured again; or, for a measurement that failed inside run-job
-- (the job completed all the same), one row with the error and no rung.
-- Rows go with their job (retention prunes jobs; a pruned job's ladder is long replaced).
CREATE TABLE rung_quality (
    id            bigserial PRIMARY KEY,
    video_id      bigint NOT NULL REFERENCES video (id),
    job_id        bigint NOT NULL REFERENCES video_transcode_job (id) ON DELETE CASCADE,
    attempt       integer NOT NULL CHECK (attempt >= 0),
    output_prefix text NOT NULL,
    -- sample: N segments spread over the video; full: every frame.
    mode          text NOT NULL CHECK (mode IN ('sample', 'full')),
    rung          text,
    width         integer CHECK (width > 0),
    height        integer CHECK (height > 0),
    -- The rung's video, its mean over the whole rung (segment sizes / duration).
    bitrate_bps   bigint,
    segments      integer CHECK (segments > 0),
    vmaf_mean     double precision,
    vmaf_p5       double precision,
    psnr_y_mean   double precision,
    -- The ladder's top rung (domain.quality.top_rung): what `stats` follows.
    top_rung      boolean NOT NULL DEFAULT false,
    error_code    text,
    error_message text,
    measured_at   timestamptz NOT NULL DEFAULT now(),
    CHECK ((rung IS NOT NULL AND width IS NOT NULL AND height IS NOT NULL AND segments IS NOT NULL
            AND vmaf_mean IS NOT NULL AND vmaf_p5 IS NOT NULL AND error_code IS NULL)
        OR (rung IS NULL AND error_code IS NOT NULL AND NOT top_rung))
);

CREATE UNIQUE INDEX rung_quality_rung_idx ON rung_quality (output_prefix, rung) WHERE rung IS NOT NULL;
CREATE UNIQUE INDEX rung_quality_failure_idx ON rung_quality (output_prefix) WHERE rung IS NULL;
-- `stats`: the top rungs measured in its window.
CREATE INDEX rung_quality_top_idx ON rung_quality (measured_at) WHERE top_rung;
CREATE INDEX rung_quality_job_idx ON rung_quality (job_id);
