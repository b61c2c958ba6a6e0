-- The video table: one row per video, its status, its source and its outputs.

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
                   auto_submit_at, source_etag, upload_part_size)
VALUES (%(id)s, %(title)s, %(source_key)s, %(status)s, %(size_bytes)s, %(content_type)s, %(upload_id)s,
        CASE WHEN %(expires_in_s)s::double precision IS NULL THEN NULL
             ELSE now() + make_interval(secs => %(expires_in_s)s) END,
        CASE WHEN %(auto_submit)s AND %(status)s = 'UPLOADED' THEN now() END,
        %(source_etag)s, %(upload_part_size)s)
RETURNING *;

-- name: mark_uploaded
-- `upload complete`: PENDING → UPLOADED with the size and ETag found (what run-job must
-- find), the upload's bookkeeping cleared.
UPDATE video
SET status = 'UPLOADED', size_bytes = %(size_bytes)s, source_etag = %(source_etag)s, upload_id = NULL,
    upload_part_size = NULL, upload_expires_at = NULL,
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

-- name: video_using_prefix
-- reconcile (b), just before a delete: a video whose source or ladder lies under the prefix
-- after all (a key written outside the video's own folder). left() = is exact where LIKE
-- would read '_' and '%%' in a key as wildcards.
SELECT id FROM video
WHERE left(source_key, length(%(prefix)s)) = %(prefix)s OR left(hls_path, length(%(prefix)s)) = %(prefix)s
ORDER BY id
LIMIT 1;
