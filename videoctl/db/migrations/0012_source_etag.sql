-- What a video's encode must find (issue 21, point 3).
--
-- source_etag: the ETag of the source object when `upload complete` checked it or
-- `video add --key` registered it (R2's and S3's own; locally "sha256:…" of the
-- content), beside size_bytes. run-job downloads only that object (If-Match on every
-- GET) and fails the attempt `source_changed` otherwise, so a second PUT to a still
-- valid upload URL is never encoded. NULL for videos from before: they encode as ever.
-- upload_part_size: a multipart upload's part size, chosen at `upload create`; with
-- size_bytes it is the plan `upload complete` holds the parts to before joining them.
ALTER TABLE video
    ADD COLUMN source_etag      text,
    ADD COLUMN upload_part_size bigint;
