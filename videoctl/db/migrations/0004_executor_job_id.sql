-- The column holds a Batch job id or, on the local executor, `local:PID`: it names
-- the executor's job, whichever executor that is. Renaming keeps every index and
-- constraint that refers to it.
ALTER TABLE video_transcode_job RENAME COLUMN aws_batch_job_id TO executor_job_id;
