"""What an IAM policy in infra/json may grant, statement by statement. Pure.

A ``Deny`` only takes permissions away, so the rules below judge ``Allow``
statements; an ``Effect`` that is neither is refused (IAM would reject it, and a
misspelt Allow must not slip past the rules). An Allow statement is refused when

- an action is ``*``, or its service part is a wildcard (``*:Get*``): actions of
  every service;
- it has ``NotAction`` and reaches every resource (``"Resource": "*"``, a
  service-wide ARN, or ``NotResource``): every action it does not list, everywhere;
- it has ``NotResource``: every resource but the listed ones, which is
  ``"Resource": "*"`` with exceptions;
- a *service-wide action* (``s3:*``: every action of one service) applies to
  ``"Resource": "*"`` or to a service-wide ARN;
- it uses ``"Resource": "*"`` for an action that has resource-level permissions
  (all but :data:`STAR_ONLY_ACTIONS`);
- a resource is a *service-wide ARN*: its service is a wildcard, or its resource
  part (after the fifth colon) is nothing but wildcards and separators (``*``, ``?``,
  ``/``, ``:``), e.g. ``arn:aws:s3:::*``, ``arn:aws:s3:::*/*``,
  ``arn:aws:sqs:eu-west-1:123456789012:*``. Such an ARN names a service, not a
  resource. A wildcard inside a named resource type or name
  (``…:parameter/academy/*``, ``…:log-group:NAME:*``) is allowed, and so is a
  service-wide action on named resources (``s3:*`` on ``arn:aws:s3:::bucket/*``).
"""

from __future__ import annotations

import json
from typing import Any

from videoctl.infra.compare import as_list

#: Actions that have no resource-level permissions, so ``"Resource": "*"`` is the only choice
#: (AWS's Service Authorization Reference lists no resource type for them).
STAR_ONLY_ACTIONS = frozenset({"ecr:GetAuthorizationToken", "batch:DescribeJobs", "batch:ListJobs"})
EFFECTS = ("Allow", "Deny")
_WILDCARDS_AND_SEPARATORS = frozenset("*?/:")


def policy_problems(policy: dict[str, Any]) -> list[str]:
    """Every refused statement of one policy, as "Statement[i] (Sid) <why>"."""
    out = []
    for i, statement in enumerate(as_list(policy.get("Statement"))):
        sid = statement.get("Sid") if isinstance(statement, dict) else None
        label = f"Statement[{i}]" + (f" ({sid})" if sid else "")
        out.extend(f"{label} {reason}" for reason in statement_problems(statement))
    return out


def statement_problems(statement: Any) -> list[str]:
    """Why one statement grants too much; empty when it does not."""
    if not isinstance(statement, dict):
        return ["must be an object"]
    effect = statement.get("Effect")
    if effect not in EFFECTS:
        return [f"has \"Effect\": {json.dumps(effect)}; IAM knows only \"Allow\" and \"Deny\""]
    if effect == "Deny":
        return []
    actions = [str(a) for a in as_list(statement.get("Action"))]
    resources = [str(r) for r in as_list(statement.get("Resource"))]
    broad = [r for r in resources if r == "*" or is_service_wide_arn(r)]
    problems = []
    for action in actions:
        if action == "*":
            problems.append("uses \"Action\": \"*\", every action of every service; list the actions it needs")
        elif any(c in action.split(":", 1)[0] for c in "*?"):
            problems.append(f"uses the action {action!r}, which is not bound to one service; list the actions it needs")
    if "NotAction" in statement and (broad or "NotResource" in statement):
        reach = f"\"Resource\": {json.dumps(broad[0])}" if broad else "NotResource"
        problems.append(f"combines NotAction with {reach}: it allows every action it does not list, on every "
                        "resource; list the actions under Action and name the ARNs")
    if "NotResource" in statement:
        problems.append("uses NotResource: it allows every resource but the listed ones, as \"Resource\": \"*\" "
                        "does; name the ARNs under Resource")
    whole_services = [a for a in actions if ":" in a and a.split(":", 1)[1] == "*"]
    if whole_services and broad:
        problems.append(f"allows {', '.join(whole_services)} on {', '.join(map(json.dumps, broad))}: a whole "
                        "service on every one of its resources; list the actions and name the ARNs")
    elif "*" in resources and set(actions) - STAR_ONLY_ACTIONS:
        problems.append(f"uses \"Resource\": \"*\" for {', '.join(sorted(set(actions) - STAR_ONLY_ACTIONS))}; "
                        "name the ARNs")
    elif wide := [r for r in broad if r != "*"]:
        problems.append(f"names {', '.join(map(json.dumps, wide))}: every resource of a service, not one; "
                        "name the ARNs")
    return problems


def is_service_wide_arn(resource: str) -> bool:
    """``arn:PARTITION:SERVICE:REGION:ACCOUNT:RESOURCE`` whose service or resource part names nothing in particular."""
    parts = resource.split(":", 5)
    if len(parts) < 6 or parts[0] != "arn":
        return False
    service, rest = parts[2], parts[5]
    return any(c in service for c in "*?") or (rest != "" and set(rest) <= _WILDCARDS_AND_SEPARATORS)
