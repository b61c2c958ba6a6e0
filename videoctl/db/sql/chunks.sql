-- The job_chunk table (chunked encoding, #23): one row per chunk of a chunked attempt, its
-- tries fenced by job, attempt and runner; the job's fenced atomic counter (finish_chunk).
-- Changes to the job queries for chunked attempts are in jobs.sql.

-- name: create_chunks
-- The lead of a chunked attempt, fenced like every write of a runner: the job learns its
-- plan and chunk count, and one row per chunk is created with its first try begun.
WITH job AS (
    UPDATE video_transcode_job
    SET chunks = %(count)s, chunks_done = 0, chunking = %(chunking)s, heartbeat_at = now(), updated_at = now()
    WHERE id = %(id)s AND state = 'RUNNING' AND attempt = %(attempt)s AND runner_id = %(runner_id)s
      AND chunks IS NULL
    RETURNING *
), created AS (
    INSERT INTO job_chunk (job_id, attempt, idx, tries, start_s, duration_s)
    SELECT job.id, job.attempt, c.idx, 1, c.start_s, c.duration_s
    FROM job, unnest(%(idx)s::int[], %(start_s)s::float8[], %(duration_s)s::float8[]) AS c (idx, start_s, duration_s)
)
SELECT * FROM job;

-- name: finish_whole
-- The lead's whole-video outputs (audio, captions, poster), made while its chunks encode,
-- recorded for the assembler under the lead's claim. Serialised with finish_chunk on the job's
-- row lock: when every chunk has succeeded already, the lead holds the claim and assembles.
UPDATE video_transcode_job
SET chunking = chunking || %(whole)s, heartbeat_at = now(), updated_at = now()
WHERE id = %(id)s AND state = 'RUNNING' AND attempt = %(attempt)s AND runner_id = %(runner_id)s
  AND chunks IS NOT NULL AND NOT chunking ? 'whole'
RETURNING *;

-- name: chunks_of_attempt
SELECT * FROM job_chunk WHERE job_id = %(job_id)s AND attempt = %(attempt)s ORDER BY idx;

-- name: chunks_of_attempts
-- The chunks of several jobs' attempts at once (a listing of jobs, the jobs page), each
-- job's in index order.
SELECT chunk.* FROM job_chunk AS chunk
JOIN unnest(%(job_ids)s::bigint[], %(attempts)s::int[]) AS wanted (job_id, attempt)
  ON chunk.job_id = wanted.job_id AND chunk.attempt = wanted.attempt
ORDER BY chunk.job_id, chunk.idx;

-- name: get_chunk
SELECT * FROM job_chunk WHERE job_id = %(job_id)s AND attempt = %(attempt)s AND idx = %(idx)s;

-- name: mark_chunk_sent
-- Which container runs a chunk's try, and the size it asked for (NULL: none). A container that
-- claimed it already keeps RUNNING.
UPDATE job_chunk
SET state = CASE WHEN state = 'PENDING' THEN 'SUBMITTED' ELSE state END,
    executor_job_id = %(executor_job_id)s, size_vcpus = %(size_vcpus)s, size_memory_mib = %(size_memory_mib)s,
    submitted_at = COALESCE(submitted_at, now()), updated_at = now()
WHERE job_id = %(job_id)s AND attempt = %(attempt)s AND idx = %(idx)s AND tries = %(tries)s
  AND state IN ('PENDING', 'SUBMITTED', 'RUNNING') AND executor_job_id IS NULL
RETURNING *;

-- name: reserve_pending_chunk
-- The local executor starts chunks as CPUs come free: the next chunk nobody started yet,
-- taken by one starter only (its row locked, the others skip it).
UPDATE job_chunk AS chunk
SET state = 'SUBMITTED', submitted_at = now(), updated_at = now()
FROM (SELECT job_id, attempt, idx FROM job_chunk
      WHERE job_id = %(job_id)s AND attempt = %(attempt)s AND state = 'PENDING' AND executor_job_id IS NULL
      ORDER BY idx LIMIT 1 FOR UPDATE SKIP LOCKED) AS next
WHERE chunk.job_id = next.job_id AND chunk.attempt = next.attempt AND chunk.idx = next.idx
RETURNING chunk.*;

-- name: claim_chunk
-- A chunk's container claims its try while the attempt is the job's current one and runs;
-- inside Batch, only the container sent for this try (or any, before its id is recorded).
UPDATE job_chunk AS chunk
SET state = 'RUNNING', runner_id = %(runner_id)s, heartbeat_at = now(), started_at = now(), progress = 0,
    error_code = NULL, error_message = NULL, updated_at = now()
FROM video_transcode_job AS job
WHERE chunk.job_id = %(job_id)s AND chunk.attempt = %(attempt)s AND chunk.idx = %(idx)s
  AND chunk.state IN ('PENDING', 'SUBMITTED')
  AND (%(batch_job_id)s::text IS NULL OR chunk.executor_job_id IS NULL OR chunk.executor_job_id = %(batch_job_id)s)
  AND job.id = chunk.job_id AND job.attempt = chunk.attempt AND job.state = 'RUNNING'
RETURNING chunk.*;

-- name: chunk_heartbeat
UPDATE job_chunk AS chunk
SET heartbeat_at = now(), progress = GREATEST(chunk.progress, %(progress)s), updated_at = now()
FROM video_transcode_job AS job
WHERE chunk.job_id = %(job_id)s AND chunk.attempt = %(attempt)s AND chunk.idx = %(idx)s
  AND chunk.state = 'RUNNING' AND chunk.runner_id = %(runner_id)s
  AND job.id = chunk.job_id AND job.attempt = chunk.attempt AND job.state = 'RUNNING'
RETURNING chunk.idx, chunk.progress;

-- name: finish_chunk
-- The fenced atomic counter. The chunk succeeds with what it made, and the job counts it in
-- the same statement: concurrent finishers queue on the job's row lock, each adding one to
-- the count the one before it left. The chunk that makes it reach the chunk count takes
-- the job's claim (runner and heartbeat): it assembles the ladder and completes the job; unless
-- the lead has not recorded the whole-video outputs yet (no 'whole' in the job's chunking): then
-- the lead keeps its claim, and assembles when it records them (finish_whole).
WITH done AS (
    UPDATE job_chunk AS chunk
    SET state = 'SUCCEEDED', result = %(result)s, progress = 100, heartbeat_at = now(), finished_at = now(),
        error_code = NULL, error_message = NULL, updated_at = now()
    FROM video_transcode_job AS job
    WHERE chunk.job_id = %(job_id)s AND chunk.attempt = %(attempt)s AND chunk.idx = %(idx)s
      AND chunk.state = 'RUNNING' AND chunk.runner_id = %(runner_id)s
      AND job.id = chunk.job_id AND job.attempt = chunk.attempt AND job.state = 'RUNNING'
    RETURNING chunk.job_id, chunk.attempt
)
UPDATE video_transcode_job AS job
SET chunks_done = job.chunks_done + 1,
    progress = GREATEST(job.progress, %(progress_from)s
                        + (%(progress_to)s - %(progress_from)s) * (job.chunks_done + 1) / job.chunks),
    runner_id = CASE WHEN job.chunks_done + 1 = job.chunks AND job.chunking ? 'whole' THEN %(runner_id)s
                     ELSE job.runner_id END,
    heartbeat_at = CASE WHEN job.chunks_done + 1 = job.chunks AND job.chunking ? 'whole' THEN now()
                        ELSE job.heartbeat_at END,
    updated_at = now()
FROM done
WHERE job.id = done.job_id AND job.attempt = done.attempt AND job.state = 'RUNNING'
RETURNING job.*;

-- name: fail_chunk
-- A chunk's runner reports its failure; scan-stuck decides what follows.
UPDATE job_chunk
SET state = 'FAILED', error_code = %(error_code)s, error_message = %(error_message)s,
    failure_repeats = CASE WHEN failure_code = %(error_code)s THEN failure_repeats + 1 ELSE 1 END,
    failure_code = %(error_code)s, finished_at = now(), updated_at = now()
WHERE job_id = %(job_id)s AND attempt = %(attempt)s AND idx = %(idx)s AND tries = %(tries)s
  AND state IN ('PENDING', 'SUBMITTED', 'RUNNING')
  AND (%(runner_id)s::text IS NULL OR runner_id = %(runner_id)s)
RETURNING *;

-- name: stuck_chunks
-- What scan-stuck's chunk rules read: every chunk still in play of a running chunked
-- attempt (the partial index holds only those), with its job's policy. The columns are
-- domain.chunk_rules.ChunkCandidate's, in its order. A real pass runs claim_stuck_chunks instead.
SELECT chunk.job_id, job.video_id, chunk.attempt, chunk.idx, chunk.state, chunk.tries, chunk.executor_job_id,
       chunk.heartbeat_at, chunk.next_try_at, chunk.error_code, chunk.error_message, chunk.failure_code,
       chunk.failure_repeats, chunk.updated_at, chunk.submitted_at, job.max_attempts, job.priority
FROM job_chunk AS chunk
JOIN video_transcode_job AS job ON job.id = chunk.job_id AND job.attempt = chunk.attempt
WHERE chunk.state IN ('PENDING', 'SUBMITTED', 'RUNNING', 'FAILED', 'RETRY_WAIT') AND job.state = 'RUNNING'
ORDER BY chunk.job_id, chunk.idx
LIMIT %(limit)s;

-- name: claim_stuck_chunks
-- stuck_chunks, its rows claimed until the transaction ends: a concurrent scanner skips them.
-- The same statement but for the last line (tests/unit/test_keys_and_queries.py holds them
-- together).
SELECT chunk.job_id, job.video_id, chunk.attempt, chunk.idx, chunk.state, chunk.tries, chunk.executor_job_id,
       chunk.heartbeat_at, chunk.next_try_at, chunk.error_code, chunk.error_message, chunk.failure_code,
       chunk.failure_repeats, chunk.updated_at, chunk.submitted_at, job.max_attempts, job.priority
FROM job_chunk AS chunk
JOIN video_transcode_job AS job ON job.id = chunk.job_id AND job.attempt = chunk.attempt
WHERE chunk.state IN ('PENDING', 'SUBMITTED', 'RUNNING', 'FAILED', 'RETRY_WAIT') AND job.state = 'RUNNING'
ORDER BY chunk.job_id, chunk.idx
LIMIT %(limit)s
FOR UPDATE OF chunk SKIP LOCKED;

-- name: schedule_chunk_retry
UPDATE job_chunk
SET state = 'RETRY_WAIT', next_try_at = now() + make_interval(secs => %(delay_s)s), updated_at = now()
WHERE job_id = %(job_id)s AND attempt = %(attempt)s AND idx = %(idx)s AND tries = %(tries)s AND state = 'FAILED'
RETURNING *;

-- name: begin_chunk_try
-- The chunk's next try (try N → N + 1), before it is sent alone; only one caller wins a try.
UPDATE job_chunk
SET tries = tries + 1, state = 'SUBMITTED', executor_job_id = NULL, size_vcpus = NULL, size_memory_mib = NULL,
    runner_id = NULL, heartbeat_at = NULL,
    progress = 0, next_try_at = NULL, submitted_at = now(), started_at = NULL, finished_at = NULL, updated_at = now()
WHERE job_id = %(job_id)s AND attempt = %(attempt)s AND idx = %(idx)s AND tries = %(tries)s
  AND state IN ('FAILED', 'RETRY_WAIT')
RETURNING *;

-- name: reserve_chunk
-- A try begun and never sent, about to be sent by scan-stuck: taken out of the local queue
-- (reserve_pending_chunk passes over it) under the row lock of the pass.
UPDATE job_chunk
SET state = 'SUBMITTED', submitted_at = now(), updated_at = now()
WHERE job_id = %(job_id)s AND attempt = %(attempt)s AND idx = %(idx)s AND tries = %(tries)s
  AND state IN ('PENDING', 'SUBMITTED') AND executor_job_id IS NULL
RETURNING *;

-- name: chunk_executor_ids
-- The containers an attempt's chunks were sent to: what stopping the attempt stops.
SELECT DISTINCT executor_job_id FROM job_chunk
WHERE job_id = %(job_id)s AND attempt = %(attempt)s AND executor_job_id IS NOT NULL
ORDER BY executor_job_id;
