"""The web page's Clients across threads: one request at a time each, a bounded number, and a
Client whose request failed on the database replaced by a fresh one (so the pages recover)."""

from __future__ import annotations

import threading

import pytest

from videoctl.api import Client
from videoctl.domain.errors import DbError, NotFound
from videoctl.settings import Settings
from videoctl.web.pool import Busy, ClientPool


@pytest.fixture
def pool():
    made: list[Client] = []

    def make() -> Client:  # a Client opens its connection at first use: none is opened here
        made.append(Client(Settings.from_env({})))
        return made[-1]

    built = ClientPool(make, size=2, wait_s=0.2)
    built.made = made
    yield built
    built.close()


def test_a_client_is_given_back_after_a_request_or_a_domain_answer(pool):
    with pool.client() as first:
        pass
    with pytest.raises(NotFound), pool.client() as again:
        assert again is first
        raise NotFound("video 9 not found")
    with pool.client() as third:
        assert third is first
    assert len(pool.made) == 1


@pytest.mark.parametrize("failure", [DbError("connection lost", transient=True), RuntimeError("midway")])
def test_a_client_whose_request_failed_midway_is_replaced(pool, failure):
    with pytest.raises(type(failure)), pool.client() as first:
        raise failure
    with pool.client() as second:
        assert second is not first
    assert len(pool.made) == 2


def test_no_more_clients_than_the_pool_size_and_a_wait_that_ends(pool):
    held, release = threading.Event(), threading.Event()

    def hold() -> None:
        with pool.client():
            held.set()
            release.wait(5)

    holders = [threading.Thread(target=hold) for _ in range(2)]
    for thread in holders:
        thread.start()
    try:
        held.wait(5)
        while len(pool.made) < 2:
            threading.Event().wait(0.01)
        with pytest.raises(Busy, match="all 2 database sessions"), pool.client():
            pass
    finally:
        release.set()
        for thread in holders:
            thread.join(5)
    with pool.client():
        pass
    assert len(pool.made) == 2
