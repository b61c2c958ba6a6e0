-- The video_transcode_job table: one row per job, its state and its current attempt.
-- Every job state change is guarded: WHERE state = ANY(%(from)s), plus the
-- attempt and runner for writes made by a container (fencing). Zero rows
-- back means the change was refused; the repository reports it.

-- name: insert_job
-- attempt 1 means "created with its first attempt begun" (one commit instead of two
-- on the submit path); attempt 0 leaves it for a later begin_attempt.
-- Only for a video that exists and is not DELETED: the row lock waits for a
-- `video delete` in flight and re-reads the status after it (no row: refused).
-- A video waiting for its auto-submit stops waiting in the same statement, so a scan
-- pass never submits it a second time.
WITH live AS (
    SELECT id FROM video WHERE id = %(video_id)s AND status <> 'DELETED'
    FOR UPDATE
), job AS (
    INSERT INTO video_transcode_job (video_id, max_attempts, reencode, priority, attempt)
    SELECT id, %(max_attempts)s, %(reencode)s, %(priority)s, %(attempt)s FROM live
    RETURNING *
), waited AS (
    UPDATE video SET auto_submit_at = NULL
    WHERE id IN (SELECT video_id FROM job) AND auto_submit_at IS NOT NULL
)
SELECT * FROM job;

-- name: get_job
SELECT * FROM video_transcode_job WHERE id = %(id)s;

-- name: get_active_job_for_video
SELECT * FROM video_transcode_job
WHERE video_id = %(video_id)s
  AND state IN ('QUEUED', 'SUBMITTED', 'RUNNING', 'FAILED', 'RETRY_WAIT');

-- name: list_jobs
SELECT * FROM video_transcode_job
WHERE (%(state)s::text IS NULL OR state = %(state)s)
  AND (%(video_id)s::bigint IS NULL OR video_id = %(video_id)s)
ORDER BY id DESC
LIMIT %(limit)s;

-- name: select_jobs
-- Bulk retry and cancel: the jobs an operator's filters name, oldest first.
SELECT * FROM video_transcode_job
WHERE state = ANY(%(states)s::text[])
  AND (%(error_codes)s::text[] IS NULL OR error_code = ANY(%(error_codes)s::text[]))
  AND (%(since_s)s::float8 IS NULL OR updated_at >= now() - make_interval(secs => %(since_s)s::float8))
  AND (%(video_ids)s::bigint[] IS NULL OR video_id = ANY(%(video_ids)s::bigint[]))
ORDER BY id
LIMIT %(limit)s;

-- name: begin_attempt
-- The one guard that makes "one Batch submission per attempt" hold: only one
-- caller can move attempt N to N + 1.
UPDATE video_transcode_job
SET attempt = attempt + 1, executor_job_id = NULL, runner_id = NULL,
    heartbeat_at = NULL, progress = 0, next_attempt_at = NULL, output_prefix = NULL,
    started_at = NULL, finished_at = NULL, size_vcpus = NULL, size_memory_mib = NULL,
    chunks = NULL, chunks_done = 0, chunking = NULL, updated_at = now()
WHERE id = %(id)s AND state = ANY(%(from)s) AND attempt = %(attempt)s
RETURNING *;

-- name: undo_attempt
-- SubmitJob definitely failed (AWS said no): no Batch job exists for this
-- attempt, so it does not count. The error stays for the operator.
UPDATE video_transcode_job
SET attempt = attempt - 1, error_code = %(error_code)s, error_message = %(error_message)s,
    updated_at = now()
WHERE id = %(id)s AND state = ANY(%(from)s) AND attempt = %(attempt)s
RETURNING *;

-- name: note_job_error
-- Keep what went wrong for the operator without changing state or attempt.
UPDATE video_transcode_job
SET error_code = %(error_code)s, error_message = %(error_message)s, updated_at = now()
WHERE id = %(id)s AND attempt = %(attempt)s
RETURNING *;

-- name: mark_submitted
-- The container may already have claimed the job (RUNNING): keep its state,
-- still record which Batch job runs this attempt.
-- When this UPDATE is its own transaction its commit does not wait for the WAL
-- flush (synchronous_commit off, for this transaction only): a crash that loses
-- it leaves the attempt begun but unsent, and scan-stuck adopts the container by
-- its name. Any later durable commit (the container's claim) flushes it anyway.
-- The size is what the attempt's SubmitJob asked for (NULL: the job definition's, or none).
UPDATE video_transcode_job
SET state = CASE WHEN state = ANY(%(from)s) THEN 'SUBMITTED' ELSE state END,
    executor_job_id = %(executor_job_id)s, submitted_at = now(),
    size_vcpus = %(size_vcpus)s, size_memory_mib = %(size_memory_mib)s,
    error_code = NULL, error_message = NULL, updated_at = now()
FROM (SELECT set_config('synchronous_commit', CASE WHEN %(own_transaction)s THEN 'off'
                        ELSE current_setting('synchronous_commit') END, true)) AS commit_mode
WHERE id = %(id)s AND attempt = %(attempt)s AND state = ANY(%(from)s::text[] || '{RUNNING}'::text[])
RETURNING video_transcode_job.*;

-- name: claim_job
-- Inside Batch a container claims only the attempt it was submitted for
-- (its AWS_BATCH_JOB_ID, or none recorded yet); a second container on the
-- same attempt finds it RUNNING and is refused.
UPDATE video_transcode_job
SET state = 'RUNNING', runner_id = %(runner_id)s, heartbeat_at = now(), started_at = now(),
    progress = 0, updated_at = now()
WHERE id = %(id)s AND state = ANY(%(from)s) AND attempt = %(attempt)s
  AND (%(batch_job_id)s::text IS NULL OR executor_job_id IS NULL
       OR executor_job_id = %(batch_job_id)s)
RETURNING *;

-- name: heartbeat
UPDATE video_transcode_job
SET heartbeat_at = now(), progress = GREATEST(progress, %(progress)s), updated_at = now()
WHERE id = %(id)s AND state = 'RUNNING' AND attempt = %(attempt)s AND runner_id = %(runner_id)s
RETURNING id, progress;

-- name: complete_job
UPDATE video_transcode_job
SET state = 'SUCCEEDED', progress = 100, finished_at = now(), heartbeat_at = now(),
    output_prefix = COALESCE(%(output_prefix)s, output_prefix),
    measurements = COALESCE(%(measurements)s, measurements),
    error_code = NULL, error_message = NULL, updated_at = now()
WHERE id = %(id)s AND state = ANY(%(from)s) AND attempt = %(attempt)s
  AND runner_id IS NOT DISTINCT FROM %(runner_id)s
RETURNING *;

-- name: record_decision
-- The running attempt's decision about its source, fenced like every write of a runner.
UPDATE video_transcode_job
SET decision = %(decision)s, updated_at = now()
WHERE id = %(id)s AND state = ANY(%(from)s) AND attempt = %(attempt)s
  AND runner_id IS NOT DISTINCT FROM %(runner_id)s
RETURNING *;

-- name: latest_decision_for_video
-- The newest decision any job of the video made: a re-encode reuses it for the same source.
SELECT decision FROM video_transcode_job
WHERE video_id = %(video_id)s AND decision IS NOT NULL
ORDER BY id DESC
LIMIT 1;

-- name: fail_job
-- A failed attempt. runner_id NULL means scan-stuck is failing it (stale
-- heartbeat, Batch said FAILED): it fences on the attempt alone. The chunks of a
-- chunked attempt still in play are abandoned with it.
WITH failed AS (
    UPDATE video_transcode_job
    SET state = 'FAILED', error_code = %(error_code)s, error_message = %(error_message)s,
        failure_repeats = CASE WHEN failure_code = %(error_code)s THEN failure_repeats + 1 ELSE 1 END,
        failure_code = %(error_code)s, finished_at = now(), updated_at = now()
    WHERE id = %(id)s AND state = ANY(%(from)s) AND attempt = %(attempt)s
      AND (%(runner_id)s::text IS NULL OR runner_id = %(runner_id)s)
    RETURNING *
), abandoned AS (
    UPDATE job_chunk AS chunk SET state = 'ABANDONED', updated_at = now()
    FROM failed
    WHERE chunk.job_id = failed.id AND chunk.attempt = failed.attempt
      AND chunk.state IN ('PENDING', 'SUBMITTED', 'RUNNING', 'FAILED', 'RETRY_WAIT')
)
SELECT * FROM failed;

-- name: schedule_retry
UPDATE video_transcode_job
SET state = 'RETRY_WAIT', next_attempt_at = now() + make_interval(secs => %(delay_s)s),
    updated_at = now()
WHERE id = %(id)s AND state = ANY(%(from)s) AND attempt = %(attempt)s
RETURNING *;

-- name: mark_dead
UPDATE video_transcode_job
SET state = 'DEAD', finished_at = COALESCE(finished_at, now()),
    error_code = COALESCE(%(error_code)s, error_code),
    error_message = COALESCE(%(error_message)s, error_message), updated_at = now()
WHERE id = %(id)s AND state = ANY(%(from)s) AND attempt = %(attempt)s
RETURNING *;

-- name: cancel_job
-- The chunks of a chunked attempt still in play are abandoned with it.
WITH cancelled AS (
    UPDATE video_transcode_job
    SET state = 'CANCELLED', finished_at = now(), error_code = 'cancelled',
        error_message = %(reason)s, updated_at = now()
    WHERE id = %(id)s AND state = ANY(%(from)s)
    RETURNING *
), abandoned AS (
    UPDATE job_chunk AS chunk SET state = 'ABANDONED', updated_at = now()
    FROM cancelled
    WHERE chunk.job_id = cancelled.id AND chunk.attempt = cancelled.attempt
      AND chunk.state IN ('PENDING', 'SUBMITTED', 'RUNNING', 'FAILED', 'RETRY_WAIT')
)
SELECT * FROM cancelled;

-- name: requeue_job
-- An operator's retry of a DEAD or CANCELLED job: one more attempt than it had.
-- Never for a DELETED video (its row locked, as insert_job does).
WITH live AS (
    SELECT v.id FROM video AS v
    WHERE v.id = (SELECT video_id FROM video_transcode_job WHERE id = %(id)s) AND v.status <> 'DELETED'
    FOR SHARE
)
UPDATE video_transcode_job
SET state = 'QUEUED', max_attempts = GREATEST(max_attempts, attempt + 1),
    next_attempt_at = NULL, finished_at = NULL, failure_code = NULL, failure_repeats = 0,
    updated_at = now()
WHERE id = %(id)s AND state = ANY(%(from)s) AND video_id IN (SELECT id FROM live)
RETURNING *;

-- name: prunable_jobs
-- Retention (`jobs prune`): finished jobs older than the cut-off, in id order after
-- %(after_id)s, except what must stay: each video's last SUCCEEDED job (it names the
-- live ladder's prefix) and a job whose prefix a pending delete request still names.
-- `jobs prune --dry-run` counts with it; `jobs prune` runs claim_prunable_jobs.
SELECT job.id FROM video_transcode_job AS job
WHERE job.state IN ('SUCCEEDED', 'DEAD', 'CANCELLED')
  AND job.id > %(after_id)s
  AND job.updated_at < now() - make_interval(secs => %(older_than_s)s)
  AND NOT (job.state = 'SUCCEEDED' AND NOT EXISTS (
      SELECT 1 FROM video_transcode_job AS later
      WHERE later.video_id = job.video_id AND later.state = 'SUCCEEDED' AND later.id > job.id))
  AND NOT EXISTS (
      SELECT 1 FROM r2_delete_request AS request
      WHERE request.video_id = job.video_id AND request.sent_at IS NULL AND request.discarded_at IS NULL
        AND request.prefix LIKE '%%/hls/' || job.id || '-%%')
ORDER BY job.id
LIMIT %(limit)s;

-- name: claim_prunable_jobs
-- prunable_jobs, its rows claimed until the transaction ends: a second pruner skips them
-- instead of waiting, so two pruners never fight over rows. The same statement but for
-- the last line (tests/unit/test_keys_and_queries.py holds them together).
SELECT job.id FROM video_transcode_job AS job
WHERE job.state IN ('SUCCEEDED', 'DEAD', 'CANCELLED')
  AND job.id > %(after_id)s
  AND job.updated_at < now() - make_interval(secs => %(older_than_s)s)
  AND NOT (job.state = 'SUCCEEDED' AND NOT EXISTS (
      SELECT 1 FROM video_transcode_job AS later
      WHERE later.video_id = job.video_id AND later.state = 'SUCCEEDED' AND later.id > job.id))
  AND NOT EXISTS (
      SELECT 1 FROM r2_delete_request AS request
      WHERE request.video_id = job.video_id AND request.sent_at IS NULL AND request.discarded_at IS NULL
        AND request.prefix LIKE '%%/hls/' || job.id || '-%%')
ORDER BY job.id
LIMIT %(limit)s
FOR UPDATE OF job SKIP LOCKED;

-- name: delete_jobs
DELETE FROM video_transcode_job WHERE id = ANY(%(ids)s::bigint[]) RETURNING id;

-- name: queue_positions
-- Where each waiting job stands: higher priority first (Batch's schedulingPriority), then
-- the order they were submitted in. Position 1 is next.
SELECT id, position FROM (
    SELECT id, row_number() OVER (ORDER BY coalesce(priority, 0) DESC, coalesce(submitted_at, created_at), id)
           AS position
    FROM video_transcode_job
    WHERE state IN ('QUEUED', 'SUBMITTED', 'RETRY_WAIT')
) AS line
WHERE id = ANY(%(ids)s::bigint[]);

-- name: encode_speed
-- Seconds of encode per second of source over the last week's successes (the median):
-- what an ETA falls back on before a job has made progress of its own.
SELECT percentile_cont(0.5) WITHIN GROUP (
           ORDER BY extract(epoch FROM job.finished_at - job.started_at) / video.duration_s)::float8 AS speed
FROM video_transcode_job AS job JOIN video ON video.id = job.video_id
WHERE job.state = 'SUCCEEDED' AND job.finished_at > now() - interval '7 days'
  AND job.started_at IS NOT NULL AND video.duration_s > 0;

-- name: jobs_on_executors
-- What scan-stuck asks the executor about: every job with a container out there.
-- A chunked attempt's lead ends once its chunks are sent and its whole-video outputs recorded:
-- from then on its chunks are asked about instead.
SELECT id, executor_job_id FROM video_transcode_job
WHERE state IN ('SUBMITTED', 'RUNNING') AND executor_job_id IS NOT NULL AND (chunks IS NULL OR NOT chunking ? 'whole')
ORDER BY id;

-- name: stuck_jobs
-- Rows a scan pass acts on; only non-terminal rows are read (partial index),
-- so the cost follows the active jobs, not the millions that finished. A real
-- pass runs claim_stuck_jobs instead, so concurrent scanners skip each other's rows;
-- --dry-run locks nothing.
-- The flagged ids (the executor's word) come in as a joined set: `id = ANY(array)`
-- would compare every row with every id, and `IN (SELECT unnest(…))` keeps the
-- plan from going parallel when it must scan the table.
-- The columns are domain.scan.Candidate's, in its order. While a chunked attempt's chunks run,
-- the job's own heartbeat is the lead's until it has recorded the whole-video outputs; then
-- nothing beats it: its chunks are watched instead (stuck_chunks); from the moment the last one
-- succeeds (and the lead is done), its assembler beats it.
SELECT job.id, video_id, state, attempt, max_attempts, executor_job_id, heartbeat_at, next_attempt_at,
       error_code, updated_at, submitted_at, failure_code, failure_repeats
FROM video_transcode_job AS job
LEFT JOIN unnest(%(flagged_ids)s::bigint[]) AS flagged (id) ON flagged.id = job.id
WHERE state IN ('QUEUED', 'SUBMITTED', 'RUNNING', 'FAILED', 'RETRY_WAIT')
  AND (state = 'FAILED'
       OR (state = 'RETRY_WAIT' AND next_attempt_at <= now())
       OR (state IN ('QUEUED', 'RETRY_WAIT') AND next_attempt_at IS NULL
           AND updated_at < now() - make_interval(secs => %(queued_after_s)s))
       OR (state = 'RUNNING' AND heartbeat_at < now() - make_interval(secs => %(stale_after_s)s)
           AND (chunks IS NULL OR chunks_done >= chunks OR NOT chunking ? 'whole'))
       OR flagged.id IS NOT NULL)
ORDER BY job.id
LIMIT %(limit)s;

-- name: claim_stuck_jobs
-- stuck_jobs, its rows claimed until the transaction ends: a concurrent scanner skips them.
-- The same statement but for the last line (tests/unit/test_keys_and_queries.py holds them
-- together).
SELECT job.id, video_id, state, attempt, max_attempts, executor_job_id, heartbeat_at, next_attempt_at,
       error_code, updated_at, submitted_at, failure_code, failure_repeats
FROM video_transcode_job AS job
LEFT JOIN unnest(%(flagged_ids)s::bigint[]) AS flagged (id) ON flagged.id = job.id
WHERE state IN ('QUEUED', 'SUBMITTED', 'RUNNING', 'FAILED', 'RETRY_WAIT')
  AND (state = 'FAILED'
       OR (state = 'RETRY_WAIT' AND next_attempt_at <= now())
       OR (state IN ('QUEUED', 'RETRY_WAIT') AND next_attempt_at IS NULL
           AND updated_at < now() - make_interval(secs => %(queued_after_s)s))
       OR (state = 'RUNNING' AND heartbeat_at < now() - make_interval(secs => %(stale_after_s)s)
           AND (chunks IS NULL OR chunks_done >= chunks OR NOT chunking ? 'whole'))
       OR flagged.id IS NOT NULL)
ORDER BY job.id
LIMIT %(limit)s
FOR UPDATE OF job SKIP LOCKED;

-- name: db_now
SELECT now() AS now;

-- name: stats_by_state
SELECT state, count(*) AS jobs FROM video_transcode_job GROUP BY state ORDER BY state;

-- name: stats_oldest_active
SELECT id, state, created_at, extract(epoch FROM now() - created_at)::float8 AS age_s
FROM video_transcode_job
WHERE state IN ('QUEUED', 'SUBMITTED', 'RUNNING', 'FAILED', 'RETRY_WAIT')
ORDER BY created_at
LIMIT 1;

-- name: stats_failure_reasons
SELECT error_code, count(*) AS jobs, max(error_message) AS example
FROM video_transcode_job
WHERE error_code IS NOT NULL AND updated_at > now() - make_interval(hours => %(hours)s)
GROUP BY error_code
ORDER BY jobs DESC, error_code
LIMIT 10;

-- name: stats_hourly
SELECT hours.hour,
       count(j.id) FILTER (WHERE j.state = 'SUCCEEDED') AS completed,
       count(j.id) FILTER (WHERE j.state IN ('FAILED', 'RETRY_WAIT', 'DEAD')) AS failed
FROM generate_series(date_trunc('hour', now()) - make_interval(hours => %(hours)s - 1),
                     date_trunc('hour', now()), interval '1 hour') AS hours(hour)
LEFT JOIN video_transcode_job AS j
       ON j.finished_at >= hours.hour AND j.finished_at < hours.hour + interval '1 hour'
GROUP BY hours.hour
ORDER BY hours.hour;

-- name: stats_encode_time
SELECT count(*) AS jobs, avg(extract(epoch FROM finished_at - started_at))::float8 AS mean_s
FROM video_transcode_job
WHERE state = 'SUCCEEDED' AND finished_at > now() - make_interval(hours => %(hours)s)
  AND started_at IS NOT NULL;

-- name: job_attempts
-- reconcile (c): the state and current attempt of the jobs the executor's containers are named after.
SELECT id, video_id, state, attempt FROM video_transcode_job WHERE id = ANY(%(ids)s::bigint[]);
