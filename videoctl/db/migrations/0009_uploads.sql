-- Direct uploads and auto-submit (docs/api.md).
--
-- A video created by `upload create` is PENDING until `upload complete` finds its
-- object: content_type is what the browser must send, upload_id the S3 multipart
-- upload while one is open, upload_expires_at when scan-stuck gives up on it
-- (FAILED, error_code 'upload_expired', its partial objects deleted).
-- auto_submit_at: the video became UPLOADED with VIDEOCTL_AUTO_SUBMIT on and still
-- waits for its job; creating the job clears it in the same statement, and a scan
-- pass submits any video left waiting (the submit after the commit failed).
ALTER TABLE video
    ADD COLUMN content_type      text,
    ADD COLUMN upload_id         text,
    ADD COLUMN upload_expires_at timestamptz,
    ADD COLUMN auto_submit_at    timestamptz,
    ADD COLUMN error_code        text,
    ADD COLUMN error_message     text;

-- What a scan pass reads: a few rows each, however many videos there are.
CREATE INDEX video_pending_upload_idx ON video (upload_expires_at) WHERE status = 'PENDING';
CREATE INDEX video_auto_submit_idx ON video (auto_submit_at) WHERE auto_submit_at IS NOT NULL;
