-- How many attempts in a row failed with the same code. A deterministic failure
-- (a ladder that does not verify) is DEAD at its second occurrence instead of
-- costing every attempt a full encode. error_code is cleared when the next attempt
-- is submitted, so the last failure's code is kept on its own.
ALTER TABLE video_transcode_job
    ADD COLUMN failure_code    text,
    ADD COLUMN failure_repeats integer NOT NULL DEFAULT 0;
