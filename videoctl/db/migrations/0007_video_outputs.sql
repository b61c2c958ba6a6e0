-- Where a READY video's outputs are, beside its master playlist: the DASH manifest,
-- the poster (full and 320 px), the storyboard's WebVTT, the MP4 download and the
-- caption languages. All of them lie under the same attempt prefix as hls_path.
ALTER TABLE video
    ADD COLUMN mpd_path          text,
    ADD COLUMN poster_path       text,
    ADD COLUMN poster_small_path text,
    ADD COLUMN storyboard_path   text,
    ADD COLUMN download_path     text,
    ADD COLUMN caption_languages text[] NOT NULL DEFAULT '{}';
