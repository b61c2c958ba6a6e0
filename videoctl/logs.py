"""Logging: readable lines on a terminal, one JSON object per line in containers.

CloudWatch (and the local executor's log files) get JSON so fields such as
job_id and attempt can be queried. The code logs ids, keys and error
messages, never settings or URLs with credentials; and as a last line of
defence every line is scrubbed of the secrets set in the environment (a
library's message quoting a password, say) before it is written.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time

from videoctl.domain.secrets import Scrubber
from videoctl.settings import environment_scrubber

_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    def __init__(self, scrub: Scrubber | None = None) -> None:
        super().__init__()
        self.scrub = scrub or Scrubber()

    def format(self, record: logging.LogRecord) -> str:
        document = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        document.update({k: v for k, v in vars(record).items() if k not in _STANDARD})
        if record.exc_info:
            document["exc"] = self.formatException(record.exc_info)
        # Each value, not the JSON text: scrubbing the text could cut into its syntax.
        return json.dumps(self.scrub.deep(document), default=str)


class TextFormatter(logging.Formatter):
    def __init__(self, scrub: Scrubber | None = None) -> None:
        super().__init__("%(asctime)s %(levelname)s %(message)s", "%H:%M:%S")
        self.scrub = scrub or Scrubber()

    def format(self, record: logging.LogRecord) -> str:
        return self.scrub(super().format(record))


def wants_json(environ=os.environ) -> bool:
    chosen = environ.get("VIDEOCTL_LOG_FORMAT", "").lower()
    if chosen in ("json", "text"):
        return chosen == "json"
    return bool(environ.get("AWS_BATCH_JOB_ID")) or not sys.stderr.isatty()


def configure(*, verbose: int = 0, json_lines: bool | None = None) -> None:
    handler = logging.StreamHandler(sys.stderr)
    scrub = environment_scrubber()
    if json_lines if json_lines is not None else wants_json():
        handler.setFormatter(JsonFormatter(scrub))
    else:
        handler.setFormatter(TextFormatter(scrub))
    handler.set_name("videoctl")
    root = logging.getLogger()
    # Replace only our own handler, so a host's handlers (pytest's, say) stay.
    root.handlers[:] = [h for h in root.handlers if h.get_name() != "videoctl"] + [handler]
    root.setLevel(logging.DEBUG if verbose > 1 else logging.INFO)
    for noisy in ("botocore", "boto3", "urllib3", "s3transfer", "pgserver"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
