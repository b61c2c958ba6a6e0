-- All of videoctl's SQL, one named block each (after procrastinate's
-- sql/queries.sql). Parameters are always bound (%(name)s), never formatted.
-- Every job state change is guarded: WHERE state = ANY(%(from)s), plus the
-- attempt and runner for writes made by a container (fencing). Zero rows
-- back means the change was refused; the repository reports it.

-- name: next_video_id
-- The id comes first because the source key contains it. Ids a registered key took
-- (`video add --key`, which leaves the sequence alone) are passed over: the sequence is
-- drawn again while the id drawn has a row, so ids stay dense and one registration, even
-- of 2^63-1, can never exhaust them. (Bounding how far a registered id may sit above the
-- sequence would work too, but would refuse ids an app already uses, and still spend the
-- ids between.) Each draw is a nextval, so two concurrent draws never get the same id; a
-- run of taken ids costs one loop step each, within this one statement.
WITH RECURSIVE drawn (id) AS (
    SELECT nextval(pg_get_serial_sequence('video', 'id'))
    UNION ALL
    SELECT nextval(pg_get_serial_sequence('video', 'id')) FROM drawn
    WHERE EXISTS (SELECT 1 FROM video WHERE video.id = drawn.id)
)
SELECT id FROM drawn WHERE NOT EXISTS (SELECT 1 FROM video WHERE video.id = drawn.id);

-- name: insert_video
INSERT INTO video (id, title, source_key, status, size_bytes, content_type, upload_id, upload_expires_at,
                   auto_submit_at)
VALUES (%(id)s, %(title)s, %(source_key)s, %(status)s, %(size_bytes)s, %(content_type)s, %(upload_id)s,
        CASE WHEN %(expires_in_s)s::double precision IS NULL THEN NULL
             ELSE now() + make_interval(secs => %(expires_in_s)s) END,
        CASE WHEN %(auto_submit)s AND %(status)s = 'UPLOADED' THEN now() END)
RETURNING *;

-- name: mark_uploaded
-- `upload complete`: PENDING → UPLOADED with the size found, the upload's bookkeeping cleared.
UPDATE video
SET status = 'UPLOADED', size_bytes = %(size_bytes)s, upload_id = NULL, upload_expires_at = NULL,
    auto_submit_at = CASE WHEN %(auto_submit)s THEN now() END, updated_at = now()
WHERE id = %(id)s AND status = 'PENDING'
RETURNING *;

-- name: expired_uploads
-- PENDING videos whose upload window has passed, oldest first (video_pending_upload_idx).
SELECT * FROM video
WHERE status = 'PENDING' AND upload_expires_at <= now()
ORDER BY upload_expires_at, id
LIMIT %(limit)s;

-- name: expire_upload
-- Guarded: a concurrent scan pass, or an `upload complete` that won, leaves no row.
UPDATE video
SET status = 'FAILED', error_code = %(error_code)s, error_message = %(error_message)s,
    upload_id = NULL, updated_at = now()
WHERE id = %(id)s AND status = 'PENDING' AND upload_expires_at <= now()
RETURNING *;

-- name: auto_submit_due
-- UPLOADED videos still waiting for the job their auto-submit should have created.
SELECT v.* FROM video AS v
WHERE v.auto_submit_at <= now() - make_interval(secs => %(older_than_s)s)
  AND v.status = 'UPLOADED'
ORDER BY v.auto_submit_at, v.id
LIMIT %(limit)s;

-- name: clear_auto_submit
UPDATE video SET auto_submit_at = NULL WHERE id = %(id)s RETURNING id;

-- name: get_video
SELECT * FROM video WHERE id = %(id)s;

-- name: list_videos
-- DELETED videos only when asked for by status.
SELECT * FROM video
WHERE (%(status)s::text IS NULL AND status <> 'DELETED') OR status = %(status)s
ORDER BY id DESC
LIMIT %(limit)s;

-- name: set_video_status
UPDATE video SET status = %(to)s, updated_at = now()
WHERE id = %(id)s AND status = ANY(%(from)s)
RETURNING *;

-- name: set_video_media_info
-- A frame rate not given keeps the one known (it sizes the container, domain/sizing.py).
UPDATE video
SET duration_s = %(duration_s)s, width = %(width)s, height = %(height)s,
    has_audio = %(has_audio)s, fps = coalesce(%(fps)s, fps), updated_at = now()
WHERE id = %(id)s
RETURNING *;

-- name: video_source_facts
-- What sizes an attempt's container: the source's probe facts (NULL until probed).
SELECT duration_s, width, height, fps FROM video WHERE id = %(id)s;

-- name: set_video_ready
-- Returns the ladder this one replaces, so its prefix can be deleted.
UPDATE video AS v
SET status = 'READY', hls_path = %(hls_path)s, mpd_path = %(mpd_path)s, poster_path = %(poster_path)s,
    poster_small_path = %(poster_small_path)s, storyboard_path = %(storyboard_path)s,
    download_path = %(download_path)s, caption_languages = %(caption_languages)s, updated_at = now()
FROM (SELECT id, hls_path FROM video WHERE id = %(id)s FOR UPDATE) AS old
WHERE v.id = old.id AND v.status = ANY(%(from)s)
RETURNING v.*, old.hls_path AS previous_hls_path;

-- name: mark_video_deleted
-- `video delete`: terminal, and the ladder and every other output go with it (a
-- DELETED video points at nothing). The row lock this takes makes a concurrent insert_job or requeue_job
-- wait, then find the video DELETED. Returns what the video was, for the record.
UPDATE video AS v
SET status = 'DELETED', hls_path = NULL, mpd_path = NULL, poster_path = NULL, poster_small_path = NULL,
    storyboard_path = NULL, download_path = NULL, caption_languages = ARRAY[]::text[], upload_id = NULL,
    upload_expires_at = NULL, auto_submit_at = NULL, updated_at = now()
FROM (SELECT id, status FROM video WHERE id = %(id)s FOR UPDATE) AS old
WHERE v.id = old.id AND v.status = ANY(%(from)s)
RETURNING v.*, old.status AS previous_status;

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

-- name: videos_without_job
-- What bulk submit takes: UPLOADED videos, or READY ones for a re-encode.
SELECT v.* FROM video AS v
WHERE v.status = %(status)s
  AND NOT EXISTS (
      SELECT 1 FROM video_transcode_job AS j
      WHERE j.video_id = v.id
        AND j.state IN ('QUEUED', 'SUBMITTED', 'RUNNING', 'FAILED', 'RETRY_WAIT'))
ORDER BY v.id
LIMIT %(limit)s;

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
    started_at = NULL, finished_at = NULL, size_vcpus = NULL, size_memory_mib = NULL, updated_at = now()
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
-- heartbeat, Batch said FAILED): it fences on the attempt alone.
UPDATE video_transcode_job
SET state = 'FAILED', error_code = %(error_code)s, error_message = %(error_message)s,
    failure_repeats = CASE WHEN failure_code = %(error_code)s THEN failure_repeats + 1 ELSE 1 END,
    failure_code = %(error_code)s, finished_at = now(), updated_at = now()
WHERE id = %(id)s AND state = ANY(%(from)s) AND attempt = %(attempt)s
  AND (%(runner_id)s::text IS NULL OR runner_id = %(runner_id)s)
RETURNING *;

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
UPDATE video_transcode_job
SET state = 'CANCELLED', finished_at = now(), error_code = 'cancelled',
    error_message = %(reason)s, updated_at = now()
WHERE id = %(id)s AND state = ANY(%(from)s)
RETURNING *;

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

-- name: insert_delete_request
INSERT INTO r2_delete_request (prefix, reason, video_id)
VALUES (%(prefix)s, %(reason)s, %(video_id)s)
RETURNING *;

-- name: pending_delete_requests
SELECT * FROM r2_delete_request WHERE sent_at IS NULL AND discarded_at IS NULL ORDER BY id LIMIT %(limit)s
FOR UPDATE SKIP LOCKED;

-- name: mark_delete_request_sent
UPDATE r2_delete_request SET sent_at = now() WHERE id = %(id)s AND sent_at IS NULL
RETURNING *;

-- name: list_pending_delete_requests
-- For people (`videoctl r2 pending`): no row locks, and the total beside the page.
SELECT *, count(*) OVER () AS total FROM r2_delete_request
WHERE sent_at IS NULL AND discarded_at IS NULL ORDER BY id LIMIT %(limit)s;

-- name: discard_delete_request
-- Waits for a drain that holds the row, so a request is never both sent and discarded.
UPDATE r2_delete_request SET discarded_at = now(), discard_reason = %(reason)s
WHERE id = %(id)s AND sent_at IS NULL AND discarded_at IS NULL
RETURNING *;

-- name: get_delete_request
SELECT * FROM r2_delete_request WHERE id = %(id)s;

-- name: prunable_jobs
-- Retention (`jobs prune`): finished jobs older than the cut-off, in id order after
-- %(after_id)s, except what must stay: each video's last SUCCEEDED job (it names the
-- live ladder's prefix) and a job whose prefix a pending delete request still names.
-- `jobs prune` appends claim_rows_skip_locked, so two pruners never fight over rows.
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
SELECT id, executor_job_id FROM video_transcode_job
WHERE state IN ('SUBMITTED', 'RUNNING') AND executor_job_id IS NOT NULL
ORDER BY id;

-- name: stuck_jobs
-- Rows a scan pass acts on; only non-terminal rows are read (partial index),
-- so the cost follows the active jobs, not the millions that finished. A real
-- pass runs it with FOR UPDATE OF job SKIP LOCKED (see JobRepository.stuck), so
-- concurrent scanners skip each other's rows; --dry-run locks nothing.
-- The flagged ids (the executor's word) come in as a joined set: `id = ANY(array)`
-- would compare every row with every id, and `IN (SELECT unnest(…))` keeps the
-- plan from going parallel when it must scan the table.
-- The columns are domain.scan.Candidate's, in its order.
SELECT job.id, video_id, state, attempt, max_attempts, executor_job_id, heartbeat_at, next_attempt_at,
       error_code, updated_at, submitted_at, failure_code, failure_repeats
FROM video_transcode_job AS job
LEFT JOIN unnest(%(flagged_ids)s::bigint[]) AS flagged (id) ON flagged.id = job.id
WHERE state IN ('QUEUED', 'SUBMITTED', 'RUNNING', 'FAILED', 'RETRY_WAIT')
  AND (state = 'FAILED'
       OR (state = 'RETRY_WAIT' AND next_attempt_at <= now())
       OR (state IN ('QUEUED', 'RETRY_WAIT') AND next_attempt_at IS NULL
           AND updated_at < now() - make_interval(secs => %(queued_after_s)s))
       OR (state = 'RUNNING' AND heartbeat_at < now() - make_interval(secs => %(stale_after_s)s))
       OR flagged.id IS NOT NULL)
ORDER BY job.id
LIMIT %(limit)s;

-- name: claim_rows_skip_locked
-- Appended to stuck_jobs by a real pass (JobRepository.stuck): the rows are claimed
-- until the transaction ends, and a concurrent scanner skips them.
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

-- name: migrations_lock
-- migrate.py's own bookkeeping, from here on; the migrations themselves are
-- migrations/*.sql. The lock is transaction-scoped: a second migrator waits
-- here, then finds nothing to do.
SELECT pg_advisory_xact_lock(%(key)s);

-- name: migrations_table_exists
SELECT to_regclass('schema_migrations') IS NOT NULL AS present;

-- name: create_migrations_table
CREATE TABLE IF NOT EXISTS schema_migrations (
    version    text PRIMARY KEY,
    name       text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
);

-- name: applied_migrations
SELECT version, applied_at FROM schema_migrations;

-- name: record_migration
INSERT INTO schema_migrations (version, name) VALUES (%(version)s, %(name)s);

-- name: reconcile_videos
-- reconcile: the videos with %(after_id)s < id <= %(last_id)s in id order, each with its
-- active job if it has one. One keyset page of the ids of one length: among those, id
-- order is the byte order of their folders, which domain.reconcile.in_key_order merges
-- across lengths. A primary-key range scan, so each page costs its own rows only.
SELECT v.id, v.status, v.hls_path, v.source_key, j.id AS job_id, j.attempt AS job_attempt,
       j.reencode AS job_reencode
FROM video AS v
LEFT JOIN video_transcode_job AS j
       ON j.video_id = v.id AND j.state IN ('QUEUED', 'SUBMITTED', 'RUNNING', 'FAILED', 'RETRY_WAIT')
WHERE v.id > %(after_id)s AND v.id <= %(last_id)s
ORDER BY v.id
LIMIT %(limit)s;

-- name: processing_without_job
-- reconcile (d): videos left PROCESSING with no active job, in id order after %(after_id)s.
SELECT v.* FROM video AS v
WHERE v.status = 'PROCESSING' AND v.id > %(after_id)s
  AND NOT EXISTS (
      SELECT 1 FROM video_transcode_job AS j
      WHERE j.video_id = v.id AND j.state IN ('QUEUED', 'SUBMITTED', 'RUNNING', 'FAILED', 'RETRY_WAIT'))
ORDER BY v.id
LIMIT %(limit)s;

-- name: job_attempts
-- reconcile (c): the state and current attempt of the jobs the executor's containers are named after.
SELECT id, video_id, state, attempt FROM video_transcode_job WHERE id = ANY(%(ids)s::bigint[]);

-- name: pending_delete_covering
-- reconcile (b): the oldest pending delete request for this prefix or a folder above it
-- (%(prefixes)s lists them all), which will delete it anyway.
SELECT * FROM r2_delete_request
WHERE sent_at IS NULL AND discarded_at IS NULL AND prefix = ANY(%(prefixes)s::text[])
ORDER BY id
LIMIT 1;

-- name: video_using_prefix
-- reconcile (b), just before a delete: a video whose source or ladder lies under the prefix
-- after all (a key written outside the video's own folder). left() = is exact where LIKE
-- would read '_' and '%%' in a key as wildcards.
SELECT id FROM video
WHERE left(source_key, length(%(prefix)s)) = %(prefix)s OR left(hls_path, length(%(prefix)s)) = %(prefix)s
ORDER BY id
LIMIT 1;

-- name: record_attempt_usage
-- The runner's measurement of its attempt, once; a replay (the reply was lost) changes nothing.
INSERT INTO job_attempt_usage (job_id, attempt, capacity, executor_job_id, vcpus, memory_mib, runtime_s,
                               runtime_source, source_duration_s, hd_renditions, sd_renditions)
VALUES (%(job_id)s, %(attempt)s, %(capacity)s, %(executor_job_id)s, %(vcpus)s, %(memory_mib)s, %(runtime_s)s,
        'runner', %(source_duration_s)s, %(hd_renditions)s, %(sd_renditions)s)
ON CONFLICT (job_id, attempt) DO NOTHING
RETURNING job_id;

-- name: usage_unconfirmed
-- Batch attempts whose usage Batch has not confirmed yet, ended a while ago (their container
-- has stopped) and not so long ago that Batch has forgotten them (it keeps about a week).
SELECT job_id, attempt, executor_job_id, vcpus, memory_mib FROM job_attempt_usage
WHERE runtime_source = 'runner' AND capacity <> 'local' AND executor_job_id IS NOT NULL
  AND finished_at < now() - make_interval(secs => %(settled_s)s)
  AND finished_at > now() - interval '6 days'
ORDER BY finished_at
LIMIT %(limit)s;

-- name: confirm_usage
UPDATE job_attempt_usage
SET capacity = %(capacity)s, vcpus = %(vcpus)s, memory_mib = %(memory_mib)s, runtime_s = %(runtime_s)s,
    runtime_source = 'executor'
WHERE job_id = %(job_id)s AND attempt = %(attempt)s
RETURNING job_id;

-- name: usage_of_jobs
SELECT job_id, capacity, vcpus, memory_mib, runtime_s FROM job_attempt_usage
WHERE job_id = ANY(%(job_ids)s)
ORDER BY job_id, attempt;

-- name: stats_usage_by_day
-- Per day and capacity: vCPU- and GB-seconds, and the completed encodes' source seconds and
-- rendition minutes (MediaConvert's units), within the stats window.
SELECT date_trunc('day', finished_at) AS day, capacity,
       count(*) AS attempts,
       sum(vcpus * runtime_s)::float8 AS vcpu_s,
       sum(memory_mib / 1024.0 * runtime_s)::float8 AS gb_s,
       coalesce(sum(source_duration_s), 0)::float8 AS source_s,
       coalesce(sum(source_duration_s * hd_renditions), 0)::float8 / 60 AS hd_minutes,
       coalesce(sum(source_duration_s * sd_renditions), 0)::float8 / 60 AS sd_minutes
FROM job_attempt_usage
WHERE finished_at > now() - make_interval(hours => %(hours)s)
GROUP BY 1, 2
ORDER BY 1, 2;

-- name: insert_event
-- Events (docs/events.md), the outbox of events: written by the repositories in the
-- transaction of the transition they report, sent after the commit by the drains
-- (services/events.py).
INSERT INTO event (type, video_id, job_id, data)
VALUES (%(type)s, %(video_id)s, %(job_id)s, %(data)s)
RETURNING *;

-- name: next_pending_event
-- One drain step: the oldest pending event after %(after_id)s, locked until its delivery is
-- recorded; a concurrent drain skips it (and takes the next), so no two send it at once.
SELECT * FROM event
WHERE delivered_at IS NULL AND discarded_at IS NULL AND id > %(after_id)s
ORDER BY id
LIMIT 1
FOR UPDATE SKIP LOCKED;

-- name: mark_event_delivered
UPDATE event
SET delivered_at = now(), delivered_to = %(target)s, receipt = %(receipt)s, attempts = attempts + 1,
    last_attempt_at = now(), last_error = NULL
WHERE id = %(id)s AND delivered_at IS NULL
RETURNING *;

-- name: note_event_failure
UPDATE event
SET attempts = attempts + 1, last_attempt_at = now(), last_error = %(error)s
WHERE id = %(id)s
RETURNING *;

-- name: list_events
-- For people (`videoctl events list`): newest first, no row locks, the total beside the page.
SELECT *, count(*) OVER () AS total FROM event
WHERE (NOT %(pending_only)s OR (delivered_at IS NULL AND discarded_at IS NULL))
  AND (%(video_id)s::bigint IS NULL OR video_id = %(video_id)s)
  AND (%(type)s::text IS NULL OR type = %(type)s)
ORDER BY id DESC
LIMIT %(limit)s;

-- name: count_pending_events
SELECT count(*) AS pending FROM event WHERE delivered_at IS NULL AND discarded_at IS NULL;

-- name: get_event
-- By its number or by its UUID, whichever the operator gave.
SELECT * FROM event WHERE id = %(id)s OR event_id = %(event_id)s;

-- name: discard_event
-- Waits for a drain that holds the row, so an event is never both delivered and discarded.
UPDATE event SET discarded_at = now(), discard_reason = %(reason)s
WHERE (id = %(id)s OR event_id = %(event_id)s) AND delivered_at IS NULL AND discarded_at IS NULL
RETURNING *;

-- name: prune_events
-- Retention (`jobs prune`): delivered or discarded events older than the cut-off, one batch.
-- Pending events always stay, whatever their age.
DELETE FROM event WHERE id IN (
    SELECT id FROM event
    WHERE coalesce(delivered_at, discarded_at) < now() - make_interval(secs => %(older_than_s)s)
    ORDER BY id
    LIMIT %(limit)s
    FOR UPDATE SKIP LOCKED)
RETURNING id;

-- name: count_prunable_events
-- `jobs prune --dry-run`: how many events prune_events would delete.
SELECT count(*) AS events FROM event
WHERE coalesce(delivered_at, discarded_at) < now() - make_interval(secs => %(older_than_s)s);
