"""The judgements of the console paths' checks, on answers shaped as AWS gives them.

Key grants (tests/storage/test_key_grants.py), the task role's ECS Exec channels
(tests/compute/test_ecs_exec.py) and bucket ACL grants (tests/storage/test_bucket_acl.py).
"""

from __future__ import annotations

from typing import Any

from tests.compute.test_ecs_exec import exec_channel_actions
from tests.storage.test_bucket_acl import foreign_grants
from tests.storage.test_key_grants import grant_problem

ACCOUNT, STACK = "123456789012", "payments-dev-main"
ISSUER = f"arn:aws:iam::{ACCOUNT}:root"


def _grant(grantee: str, *operations: str, **extra: Any) -> Any:
    return {"GrantId": "g", "GranteePrincipal": grantee, "IssuingAccount": ISSUER,
            "Operations": list(operations or ("Decrypt",)), **extra}  # fmt: skip


def test_grants_the_platforms_services_make_are_admitted():
    rds = _grant("rds.us-east-1.amazonaws.com", "Decrypt", "CreateGrant", "RetireGrant",
                 RetiringPrincipal="rds.us-east-1.amazonaws.com")  # fmt: skip
    assert grant_problem(rds, ACCOUNT, STACK) == ""
    assert grant_problem(_grant("rds.amazonaws.com"), ACCOUNT, STACK) == ""
    linked = f"arn:aws:iam::{ACCOUNT}:role/aws-service-role/rds.amazonaws.com/AWSServiceRoleForRDS"
    assert grant_problem(_grant(linked, "Decrypt", "CreateGrant"), ACCOUNT, STACK) == ""
    ours = f"arn:aws:iam::{ACCOUNT}:role/{STACK}-task-role"
    assert grant_problem(_grant(ours, "Decrypt", "GenerateDataKey"), ACCOUNT, STACK) == ""


def test_grants_beyond_the_platform_are_named():
    assert "outside account" in grant_problem(_grant("arn:aws:iam::111122223333:root"), ACCOUNT, STACK)
    assert "outside account" in grant_problem(_grant("arn:aws:iam::111122223333:role/x"), ACCOUNT, STACK)
    stray = f"arn:aws:iam::{ACCOUNT}:role/debug"
    assert "not a role of the stack" in grant_problem(_grant(stray), ACCOUNT, STACK)
    user = f"arn:aws:iam::{ACCOUNT}:user/alice"
    assert "not a role of the stack" in grant_problem(_grant(user), ACCOUNT, STACK)
    assert "neither" in grant_problem(_grant("someone@example.com"), ACCOUNT, STACK)
    ours = f"arn:aws:iam::{ACCOUNT}:role/{STACK}-task-role"
    assert "CreateGrant" in grant_problem(_grant(ours, "Decrypt", "CreateGrant"), ACCOUNT, STACK)
    other_issuer: Any = {**_grant("rds.amazonaws.com"), "IssuingAccount": "arn:aws:iam::111122223333:root"}
    assert grant_problem(other_issuer, ACCOUNT, STACK).startswith("issued by")
    retiring = _grant("rds.amazonaws.com", RetiringPrincipal="arn:aws:iam::111122223333:root")
    assert "RetiringPrincipal" in grant_problem(retiring, ACCOUNT, STACK)


def _policy(**statement: Any) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Resource": "*", **statement}]}


def test_the_exec_channels_are_found_however_they_are_written():
    assert exec_channel_actions(_policy(Action="s3:GetObject")) == []
    assert exec_channel_actions(_policy(Action="ssmmessages:*")) == ["ssmmessages:*"]
    assert exec_channel_actions(_policy(Action=["SSMMessages:create*"])) == ["SSMMessages:create*"]
    assert exec_channel_actions(_policy(Action="*")) == ["*"]
    assert exec_channel_actions(_policy(NotAction="s3:*")) == ["NotAction s3:*"]
    assert exec_channel_actions(_policy(NotAction="ssmmessages:*")) == []
    deny = {"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Action": "ssmmessages:*", "Resource": "*"}]}
    assert exec_channel_actions(deny) == []


def test_an_acl_grant_to_anyone_but_the_owner_is_named():
    owner = {"ID": "a" * 64}
    mine = {"Grantee": {"Type": "CanonicalUser", "ID": "a" * 64}, "Permission": "FULL_CONTROL"}
    assert foreign_grants({"Owner": owner, "Grants": [mine]}) == []  # type: ignore[typeddict-item]
    everyone = {"Grantee": {"Type": "Group", "URI": "http://acs.amazonaws.com/groups/global/AllUsers"},
                "Permission": "READ"}  # fmt: skip
    other = {"Grantee": {"Type": "CanonicalUser", "ID": "b" * 64}, "Permission": "WRITE"}
    assert foreign_grants({"Owner": owner, "Grants": [mine, everyone, other]}) == [  # type: ignore[typeddict-item]
        "READ to Group http://acs.amazonaws.com/groups/global/AllUsers",
        f"WRITE to CanonicalUser {'b' * 64}",
    ]
