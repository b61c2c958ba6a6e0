-- The event outbox (docs/events.md): written by the repositories in the transaction of the
-- transition they report, sent after the commit by the drains (services/events.py).

-- name: insert_event
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
