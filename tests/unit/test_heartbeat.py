"""The heartbeat thread's failure modes, without a database."""

import logging
import time

import pytest

from tests.unit.test_scan_rules import JobState, job
from videoctl.domain.errors import DbError, Fenced, InvalidState
from videoctl.services.heartbeat import Heartbeat


class Jobs:
    def __init__(self, answer):
        self.answer, self.beats = answer, 0
        self.conn = self

    def heartbeat(self, job, progress):
        self.beats += 1
        if isinstance(self.answer, Exception):
            raise self.answer
        return progress

    def close(self):
        pass


def test_no_database_connection_never_stops_the_encode(caplog):
    def no_connection():
        raise DbError("could not connect")

    with caplog.at_level(logging.WARNING), Heartbeat(job(JobState.RUNNING), no_connection, interval_s=0.01) as hb:
        time.sleep(0.05)
        hb.update(50)  # does not raise
    assert "heartbeat has no database connection" in caplog.text


@pytest.mark.parametrize("refusal", [Fenced("attempt 2, not 1"), InvalidState("job 1 is CANCELLED")])
def test_a_refused_beat_fences_the_runner(refusal):
    jobs = Jobs(refusal)
    with Heartbeat(job(JobState.RUNNING), lambda: jobs, interval_s=0.01) as hb:
        deadline = time.monotonic() + 5
        while hb.fenced is None and time.monotonic() < deadline:
            time.sleep(0.01)
        with pytest.raises(Fenced):
            hb.update(60)
    assert jobs.beats == 1  # it stops beating once fenced


def test_a_database_blip_is_survived(caplog):
    jobs = Jobs(DbError("server closed the connection"))
    with caplog.at_level(logging.WARNING), Heartbeat(job(JobState.RUNNING), lambda: jobs, interval_s=0.01) as hb:
        deadline = time.monotonic() + 5  # a loaded machine may hold the beating thread back a while
        while jobs.beats < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
        hb.update(10)
    assert jobs.beats >= 2 and hb.fenced is None
