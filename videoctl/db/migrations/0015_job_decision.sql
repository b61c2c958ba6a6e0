-- What a job decided about its source before encoding (loudness measured per audio track,
-- and the per-title ladder), stored when it is made so that later attempts, re-encodes of
-- the same source and the chunks of a long video reuse it (domain/decision.py); and what
-- the encode measured of its own outputs (each audio rendition's loudness).
ALTER TABLE video_transcode_job
    ADD COLUMN decision jsonb,
    ADD COLUMN measurements jsonb;
