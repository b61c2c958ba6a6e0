"""Field-level comparison of a document with what AWS returns. Pure.

AWS answers with more than we asked for (defaults such as ``volumes: []``,
ARNs, timestamps), so most comparisons are *subset* comparisons: every field
the document sets must match, fields it leaves out are AWS's business.
Policies and the retry strategy are compared *exactly*, because an extra
statement or an extra evaluateOnExit rule is precisely the drift we look for.
"""

from __future__ import annotations

import json
from typing import Any

from videoctl.infra.model import Diff


def diff(desired: Any, live: Any, path: str = "", *, exact: bool = False) -> list[Diff]:
    if isinstance(desired, dict) and isinstance(live, dict):
        out: list[Diff] = []
        keys = list(desired) + ([k for k in live if k not in desired] if exact else [])
        for key in keys:
            sub = f"{path}.{key}" if path else str(key)
            if key not in live:
                out.append(Diff(sub, None, desired[key]))
            elif key not in desired:
                out.append(Diff(sub, live[key], None))
            else:
                out.extend(diff(desired[key], live[key], sub, exact=exact))
        return out
    if isinstance(desired, list) and isinstance(live, list):
        if len(desired) == len(live) and all(isinstance(x, dict) for x in desired + live):
            out = []
            for i, (want, have) in enumerate(zip(desired, live, strict=True)):
                out.extend(diff(want, have, f"{path}[{i}]", exact=exact))
            return out
        return [] if len(desired) == len(live) and all(map(same, desired, live)) else [Diff(path, live, desired)]
    return [] if same(desired, live) else [Diff(path, live, desired)]


def same(a: Any, b: Any) -> bool:
    """Equal, treating 4 and "4" alike (AWS returns numbers as strings in some APIs), never True and "true"."""
    if a == b:
        return True
    if isinstance(a, bool) or isinstance(b, bool):
        return str(a).lower() == str(b).lower() if {type(a), type(b)} == {bool, str} else False
    if isinstance(a, int | float | str) and isinstance(b, int | float | str):
        return str(a) == str(b)
    return False


def as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def canonical_policy(document: Any) -> Any:
    """An IAM policy in one spelling: single values as sorted lists, statements in a stable order."""
    if not isinstance(document, dict):
        return document
    statements = []
    for raw in as_list(document.get("Statement")):
        statement = dict(raw)
        for key in ("Action", "NotAction", "Resource", "NotResource"):
            if key in statement:
                statement[key] = sorted(as_list(statement[key]))
        if isinstance(statement.get("Principal"), dict):
            statement["Principal"] = {k: sorted(as_list(v)) for k, v in statement["Principal"].items()}
        if isinstance(statement.get("Condition"), dict):
            statement["Condition"] = {
                op: {k: sorted(as_list(v)) for k, v in block.items()} if isinstance(block, dict) else block
                for op, block in statement["Condition"].items()
            }
        statements.append(statement)
    out = dict(document)
    out["Statement"] = sorted(statements, key=lambda s: (str(s.get("Sid", "")), json.dumps(s, sort_keys=True)))
    return out


def policy_diff(desired: Any, live: Any, path: str) -> list[Diff]:
    """Exact comparison of two policies, statements matched by Sid where they have one."""
    want, have = canonical_policy(desired), canonical_policy(live)
    if want == have:
        return []
    if not isinstance(want, dict) or not isinstance(have, dict):
        return [Diff(path, live, desired)]
    out = diff({k: v for k, v in want.items() if k != "Statement"},
               {k: v for k, v in have.items() if k != "Statement"}, path, exact=True)
    by_sid_want = {s.get("Sid") or f"#{i}": s for i, s in enumerate(want["Statement"])}
    by_sid_have = {s.get("Sid") or f"#{i}": s for i, s in enumerate(have["Statement"])}
    for sid in list(by_sid_want) + [s for s in by_sid_have if s not in by_sid_want]:
        sub = f"{path}.Statement[{sid}]"
        if sid not in by_sid_have:
            out.append(Diff(sub, None, "present"))
        elif sid not in by_sid_want:
            out.append(Diff(sub, "present", None, "not in infra/json"))
        else:
            out.extend(diff(by_sid_want[sid], by_sid_have[sid], sub, exact=True))
    return out or [Diff(path, live, desired)]
