-- Retention keeps each video's last SUCCEEDED job: finding "a later SUCCEEDED job of
-- the same video" is an index probe with this, not a scan of every finished job.
CREATE INDEX video_transcode_job_succeeded_idx ON video_transcode_job (video_id, id) WHERE state = 'SUCCEEDED';
