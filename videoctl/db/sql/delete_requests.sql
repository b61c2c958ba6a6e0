-- The r2_delete_request outbox: prefixes waiting for the delete-r2 path.

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

-- name: pending_delete_covering
-- reconcile (b): the oldest pending delete request for this prefix or a folder above it
-- (%(prefixes)s lists them all), which will delete it anyway.
SELECT * FROM r2_delete_request
WHERE sent_at IS NULL AND discarded_at IS NULL AND prefix = ANY(%(prefixes)s::text[])
ORDER BY id
LIMIT 1;
