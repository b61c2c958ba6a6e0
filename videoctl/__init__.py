"""videoctl: run a video-transcoding pipeline on AWS Batch with Postgres as the source of truth."""

__version__ = "0.1.0"
