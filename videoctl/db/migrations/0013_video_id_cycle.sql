-- Issue 21: registering a key (`video add --key videos/ID/source/NAME`) no longer moves the
-- video id sequence. A draw (`next_video_id` in queries.sql) passes over every id a
-- registration took instead, so a registered id costs later videos that one id and no more.
--
-- CYCLE repairs a sequence an earlier registration already moved to its maximum
-- (`--key videos/9223372036854775807/source/…`): its next draw starts again at 1 and passes
-- over the ids taken, instead of failing for good. A sequence that was moved below the
-- maximum simply goes on from where it is.
ALTER SEQUENCE video_id_seq CYCLE;
