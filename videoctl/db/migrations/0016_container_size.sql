-- Each container sized to its video (issue 23). The video's frame rate joins its probe facts
-- (duration × width × height × fps is the work a container is sized for), and each job keeps
-- the size its current attempt asked Batch for (SubmitJob's containerOverrides), NULL when it
-- asked for none: the job definition's size, or a local process, which has no size.
ALTER TABLE video ADD COLUMN fps double precision CHECK (fps > 0);

ALTER TABLE video_transcode_job
    ADD COLUMN size_vcpus      double precision CHECK (size_vcpus > 0),
    ADD COLUMN size_memory_mib integer CHECK (size_memory_mib > 0),
    ADD CONSTRAINT video_transcode_job_size_whole CHECK ((size_vcpus IS NULL) = (size_memory_mib IS NULL));
