"""Check a JSON value against a declared Python type: the `--json` contract of the CLI.

A command declares the type of its ``data`` (videoctl.commands._render.document): a
record dataclass, a TypedDict, a list or dict of them, a union. ``problems(value, type)``
lists every place where the JSON differs from it — a missing or extra key, a value of
the wrong kind — so a test can print them all at once.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from datetime import date, datetime
from enum import Enum
from pathlib import Path
from typing import Any, Literal, Union, get_args, get_origin, get_type_hints, is_typeddict


def problems(value: Any, declared: Any, where: str = "data") -> list[str]:
    origin = get_origin(declared)
    if declared is Any:
        return []
    if declared is None or declared is type(None):
        return [] if value is None else [f"{where}: expected null, got {value!r}"]
    if origin in (Union, types.UnionType):
        found = [problems(value, member, where) for member in get_args(declared)]
        return [] if any(not p for p in found) else min(found, key=len)
    if origin is Literal:
        return [] if value in get_args(declared) else [f"{where}: {value!r} is not one of {get_args(declared)}"]
    if origin is typing.Annotated:
        return problems(value, get_args(declared)[0], where)
    if origin in (list, tuple) or declared in (list, tuple):
        if not isinstance(value, list):
            return [f"{where}: expected a list, got {type(value).__name__}"]
        (item,) = get_args(declared)[:1] or (Any,)
        return [p for i, v in enumerate(value) for p in problems(v, item, f"{where}[{i}]")]
    if origin is dict or declared is dict:
        if not isinstance(value, dict):
            return [f"{where}: expected an object, got {type(value).__name__}"]
        _, item = get_args(declared) or (str, Any)
        return [p for k, v in value.items() for p in problems(v, item, f"{where}.{k}")]
    if is_typeddict(declared):
        return _object(value, get_type_hints(declared), where)
    if dataclasses.is_dataclass(declared):
        hints = get_type_hints(declared)
        fields = {f.name: hints[f.name] for f in dataclasses.fields(declared)}
        for old, new in getattr(declared, "JSON_ALIASES", {}).items():
            fields[old] = fields[new]
        return _object(value, fields, where)
    if isinstance(declared, type) and issubclass(declared, Enum):
        allowed = {m.value for m in declared}
        return [] if value in allowed else [f"{where}: {value!r} is not a {declared.__name__}"]
    if declared in (datetime, date):
        try:
            declared.fromisoformat(value)
        except (TypeError, ValueError):
            return [f"{where}: {value!r} is not an ISO {declared.__name__}"]
        return []
    if declared is Path:
        declared = str
    if declared is float:
        ok = isinstance(value, int | float) and not isinstance(value, bool)
    elif declared is int:
        ok = isinstance(value, int) and not isinstance(value, bool)
    else:
        ok = isinstance(value, declared)
    return [] if ok else [f"{where}: expected {declared.__name__}, got {value!r}"]


def _object(value: Any, fields: dict[str, Any], where: str) -> list[str]:
    if not isinstance(value, dict):
        return [f"{where}: expected an object, got {type(value).__name__}"]
    found = [f"{where}: missing key {k!r}" for k in fields if k not in value]
    found += [f"{where}: undeclared key {k!r}" for k in value if k not in fields]
    for key, hint in fields.items():
        if key in value:
            found += problems(value[key], hint, f"{where}.{key}")
    return found


def leaf_commands() -> dict[str, object]:
    """'video show' → the function typer calls for it, for every leaf command of the CLI."""
    from typer.main import get_command

    from videoctl.cli import app

    found = {}

    def walk(command, path):
        children = getattr(command, "commands", None)
        if children is None:
            found[" ".join(path)] = command.callback
            return
        for name, child in children.items():
            walk(child, (*path, name))

    walk(get_command(app), ())
    return found


def document_problems(command: str, data: Any) -> list[str]:
    """What differs between *data* and the nearest of the types *command* declares ([] if one fits)."""
    from videoctl.commands._render import document_types

    found = [problems(data, declared) for declared in document_types(leaf_commands()[command])]
    assert found, f"{command} declares no --json document"
    return [] if any(not p for p in found) else min(found, key=len)
