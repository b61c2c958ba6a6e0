"""The domain's repository Protocols and the database's repositories say the same thing: every
repository has its Protocol, and each Protocol lists every public method of its repository with the
same parameters (names, kinds, defaults). Services name the Protocols, so a method missing there
would be a method no service may call; one that differs would be a call that breaks only at run time."""

from __future__ import annotations

import inspect
from typing import Protocol

import pytest

import videoctl.db.repositories as db
import videoctl.domain.repositories as domain

REPOSITORIES = sorted(name for name in db.__all__ if name.endswith("Repository"))


def public_methods(cls: type) -> dict[str, object]:
    found: dict[str, object] = {}
    for base in reversed(cls.__mro__):
        if base in (object, Protocol) or base.__module__ == "typing":
            continue
        found.update({name: value for name, value in vars(base).items()
                      if callable(value) and not name.startswith("_")})
    return found


def parameters(function: object) -> list[tuple[str, object, object]]:
    return [(p.name, p.kind, p.default) for p in inspect.signature(function).parameters.values()]


def test_every_repository_has_its_protocol():
    assert {"VideoRepository", "JobRepository", "EventRepository"} <= set(REPOSITORIES)
    assert [name for name in REPOSITORIES if not hasattr(domain, name)] == []


@pytest.mark.parametrize("name", REPOSITORIES)
def test_the_protocol_lists_every_method_with_the_same_parameters(name):
    protocol, implementation = getattr(domain, name), getattr(db, name)
    assert getattr(protocol, "_is_protocol", False), f"domain.repositories.{name} is not a Protocol"
    wanted, offered = public_methods(protocol), public_methods(implementation)
    assert sorted(wanted) == sorted(offered)
    assert {method: parameters(wanted[method]) for method in wanted} == \
        {method: parameters(offered[method]) for method in wanted}


def test_a_method_that_differs_is_seen():
    class Narrower(Protocol):
        def get(self, video_id: int, *, deep: bool = True) -> object: ...

    assert parameters(Narrower.get) != parameters(db.VideoRepository.get)
