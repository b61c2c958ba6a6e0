-- Chunks sized and priced as the containers they are (issue 23).
--
-- Each chunk's container is sized to its own part of the video, not to the whole: the chunk
-- row keeps the size its current try asked Batch for (SubmitJob's containerOverrides), NULL
-- when it asked for none (the job definition's size, or a local process). An array's children
-- share one override, so every first try of an attempt records the same size: the longest
-- chunk's.
ALTER TABLE job_chunk
    ADD COLUMN size_vcpus      double precision CHECK (size_vcpus > 0),
    ADD COLUMN size_memory_mib integer CHECK (size_memory_mib > 0),
    ADD CONSTRAINT job_chunk_size_whole CHECK ((size_vcpus IS NULL) = (size_memory_mib IS NULL));

-- Every container an attempt ran is priced: the attempt's own (the one pass, or a chunked
-- attempt's lead) as before, and each try of each of its chunks. One table, so the per-job and
-- per-day sums stay plain sums over its rows. chunk = -1 and chunk_try = 0 name the attempt's
-- own container (a key column cannot be NULL); a chunk's row has its index and its try.
ALTER TABLE job_attempt_usage
    ADD COLUMN chunk     integer NOT NULL DEFAULT -1 CHECK (chunk >= -1),
    ADD COLUMN chunk_try integer NOT NULL DEFAULT 0 CHECK (chunk_try >= 0),
    ADD CONSTRAINT job_attempt_usage_chunk_try CHECK ((chunk = -1) = (chunk_try = 0));

ALTER TABLE job_attempt_usage DROP CONSTRAINT job_attempt_usage_pkey;
ALTER TABLE job_attempt_usage ADD PRIMARY KEY (job_id, attempt, chunk, chunk_try);
