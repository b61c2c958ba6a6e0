-- An operator can discard a delete request that can never succeed (its prefix
-- now overlaps a live ladder, say), so that it stops failing every drain and
-- every scan-stuck pass. The row is kept, with who-knows-why, for the record.
ALTER TABLE r2_delete_request
    ADD COLUMN discarded_at   timestamptz,
    ADD COLUMN discard_reason text;

DROP INDEX r2_delete_request_pending_idx;
CREATE INDEX r2_delete_request_pending_idx ON r2_delete_request (id)
    WHERE sent_at IS NULL AND discarded_at IS NULL;
