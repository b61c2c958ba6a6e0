-- `videoctl video delete` retires a video: status DELETED, terminal. A deleted
-- video serves no ladder, so its hls_path is cleared in the same UPDATE and the
-- database never points at objects that are being deleted. source_key stays as
-- the record of where the source was; nothing reads it once the video is DELETED.
ALTER TABLE video DROP CONSTRAINT video_status_check;
ALTER TABLE video ADD CONSTRAINT video_status_check
    CHECK (status IN ('PENDING', 'UPLOADED', 'PROCESSING', 'READY', 'FAILED', 'DELETED'));
ALTER TABLE video ADD CONSTRAINT video_deleted_serves_nothing
    CHECK (status <> 'DELETED' OR hls_path IS NULL);
