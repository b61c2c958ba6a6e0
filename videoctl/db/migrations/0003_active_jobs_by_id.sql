-- scan-stuck reads every non-terminal job its rules might act on, in id order, up
-- to --limit. The first partial index over those rows keyed them by (state,
-- next_attempt_at, heartbeat_at, submitted_at), which the rules' ORs never use:
-- the planner read them through the one-active-per-video index and sorted. Keyed
-- by id, the same rows come out already ordered, so the LIMIT stops the scan early
-- and the executor's flagged ids merge in without a hash or a sort.
DROP INDEX video_transcode_job_active_idx;
CREATE INDEX video_transcode_job_active_idx ON video_transcode_job (id)
    WHERE state IN ('QUEUED', 'SUBMITTED', 'RUNNING', 'FAILED', 'RETRY_WAIT');
