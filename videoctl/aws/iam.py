"""Read an IAM role as infra verify compares it: trust policy, inline policies, managed policies."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import unquote

from videoctl.aws.infra_call import call, paginate

NOT_FOUND = ("NoSuchEntity", "NoSuchEntityException")


def policy_document(value: Any) -> Any:
    """botocore decodes IAM policy documents to dicts; be safe if one arrives URL-encoded."""
    if isinstance(value, str):
        return json.loads(unquote(value))
    return value


def read_role(iam: Any, name: str) -> dict[str, Any] | None:
    got = call(iam, "get_role", missing=NOT_FOUND, RoleName=name)
    if got is None:
        return None
    role = got["Role"]
    names = paginate(iam, "list_role_policies", "PolicyNames", RoleName=name) or []
    inline = {}
    for policy_name in names:
        policy = call(iam, "get_role_policy", RoleName=name, PolicyName=policy_name)
        inline[policy_name] = policy_document(policy["PolicyDocument"])
    attached = paginate(iam, "list_attached_role_policies", "AttachedPolicies", RoleName=name) or []
    return {
        "Arn": role["Arn"],
        "Description": role.get("Description", ""),
        "AssumeRolePolicyDocument": policy_document(role.get("AssumeRolePolicyDocument")),
        "InlinePolicies": inline,
        "ManagedPolicyArns": sorted(p["PolicyArn"] for p in attached),
    }
