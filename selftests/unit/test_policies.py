"""Unit tests of ``conformance/policies.py``: what a resource policy grants outside the account."""

from __future__ import annotations

import json

import pytest

from conformance.policies import PolicyError, account_of, endpoint_outside_grants, outside_grants

ACCOUNT = "123456789012"
OTHER = "111122223333"


def _policy(*statements: dict) -> dict:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def _allow(principal, action="kms:*", **extra) -> dict:
    return {"Effect": "Allow", "Principal": principal, "Action": action, "Resource": "*", **extra}


@pytest.mark.parametrize(
    "principal",
    [
        {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
        {"AWS": ACCOUNT},
        {"AWS": [f"arn:aws:iam::{ACCOUNT}:role/payments-task", f"arn:aws:sts::{ACCOUNT}:assumed-role/x/session"]},
        {"AWS": f"arn:aws-us-gov:iam::{ACCOUNT}:user/ops"},
    ],
)
def test_principals_of_the_account_are_inside(principal):
    assert outside_grants(_policy(_allow(principal)), ACCOUNT) == []


@pytest.mark.parametrize(
    ("principal", "shown"),
    [
        ("*", "AWS:*"),
        ({"AWS": "*"}, "AWS:*"),
        ({"AWS": ["*"]}, "AWS:*"),
        ({"AWS": OTHER}, f"AWS:{OTHER}"),
        ({"AWS": f"arn:aws:iam::{OTHER}:root"}, f"AWS:arn:aws:iam::{OTHER}:root"),
        ({"AWS": [f"arn:aws:iam::{ACCOUNT}:root", f"arn:aws:iam::{OTHER}:role/r"]}, f"AWS:arn:aws:iam::{OTHER}:role/r"),
        ({"AWS": "arn:aws:iam::*:root"}, "AWS:arn:aws:iam::*:root"),
        ({"AWS": "AROAEXAMPLEDELETEDROLE"}, "AWS:AROAEXAMPLEDELETEDROLE"),
        ({"CanonicalUser": "79a59df900b949e55d96a1e698fbaced"}, "CanonicalUser:79a59df900b949e55d96a1e698fbaced"),
        ({"Federated": "cognito-identity.amazonaws.com"}, "Federated:cognito-identity.amazonaws.com"),
    ],
)
def test_everyone_and_other_accounts_are_outside(principal, shown):
    grants = outside_grants(_policy(_allow(principal, Sid="Open")), ACCOUNT)
    assert [g.principal for g in grants] == [shown]
    assert grants[0].statement == "Open" and grants[0].actions == ("kms:*",)
    assert "Open allows kms:* to " in str(grants[0])


def test_everyone_with_an_account_condition_is_still_outside():
    """An account-wide grant is written with the root principal; ``*`` is flagged under a source condition."""
    st = _allow({"AWS": "*"}, Condition={"StringEquals": {"kms:CallerAccount": ACCOUNT}})
    assert [g.principal for g in outside_grants(_policy(st), ACCOUNT)] == ["AWS:*"]


def test_everyone_bound_to_the_account_by_principal_account_is_inside():
    """``*`` under ``aws:PrincipalAccount`` = the account admits only its principals (VPC endpoint policies)."""
    st = _allow("*", Condition={"StringEquals": {"aws:PrincipalAccount": ACCOUNT}})
    assert outside_grants(_policy(st), ACCOUNT) == []


@pytest.mark.parametrize(
    "condition",
    [
        {"StringEquals": {"aws:PrincipalAccount": OTHER}},
        {"StringEquals": {"aws:PrincipalAccount": [ACCOUNT, OTHER]}},
        {"StringNotEquals": {"aws:PrincipalAccount": ACCOUNT}},
        {"StringEqualsIfExists": {"aws:PrincipalAccount": ACCOUNT}},
        {"StringEquals": {"aws:ResourceAccount": ACCOUNT}},
    ],
)
def test_everyone_not_bound_to_the_account_is_outside(condition):
    st = _allow("*", Condition=condition)
    assert [g.principal for g in outside_grants(_policy(st), ACCOUNT)] == ["AWS:*"]


def test_endpoint_policy_admits_only_ecrs_layer_bucket_without_a_principal_condition():
    layers = _allow("*", action="s3:GetObject", Sid="Layers")
    layers["Resource"] = "arn:aws:s3:::prod-us-east-1-starport-layer-bucket/*"
    assert endpoint_outside_grants(_policy(layers), ACCOUNT, "us-east-1") == []
    wider = {**layers, "Action": ["s3:GetObject", "s3:PutObject"]}
    other_bucket = {**layers, "Resource": "arn:aws:s3:::someone-elses-bucket/*"}
    other_region = {**layers, "Resource": "arn:aws:s3:::prod-eu-west-1-starport-layer-bucket/*"}
    for st in (wider, other_bucket, other_region, _allow("*", action="s3:*", Sid="Layers")):
        assert [g.principal for g in endpoint_outside_grants(_policy(st), ACCOUNT, "us-east-1")] == ["AWS:*"]


@pytest.mark.parametrize(
    "condition",
    [
        {"StringEquals": {"aws:SourceAccount": ACCOUNT}},
        {"StringEquals": {"AWS:SourceOwner": ACCOUNT}},
        {"ArnLike": {"aws:SourceArn": f"arn:aws:cloudwatch:us-east-1:{ACCOUNT}:alarm:payments-*"}},
        {"ArnLike": {"kms:EncryptionContext:aws:logs:arn": f"arn:aws:logs:us-east-1:{ACCOUNT}:log-group:p-*"}},
        {"StringEquals": {"kms:ViaService": ["rds.us-east-1.amazonaws.com", "s3.us-east-1.amazonaws.com"]}},
        {"StringEquals": {"kms:CallerAccount": ACCOUNT}, "Bool": {"kms:GrantIsForAWSResource": "true"}},
    ],
)
def test_service_principal_with_a_source_condition_is_inside(condition):
    st = _allow({"Service": "logs.us-east-1.amazonaws.com"}, Condition=condition)
    assert outside_grants(_policy(st), ACCOUNT) == []


@pytest.mark.parametrize(
    "condition",
    [
        None,
        {"StringEquals": {"aws:SourceAccount": OTHER}},
        {"StringNotEquals": {"aws:SourceAccount": ACCOUNT}},
        {"StringEqualsIfExists": {"aws:SourceAccount": ACCOUNT}},
        {"StringLike": {"aws:SourceAccount": "*"}},
        {"ArnLike": {"aws:SourceArn": "arn:aws:cloudwatch:us-east-1:*:alarm:*"}},
        {"StringEquals": {"aws:SourceAccount": [ACCOUNT, OTHER]}},
        {"Bool": {"aws:SecureTransport": "true"}},
        {"StringLike": {"kms:ViaService": "*"}},
        # a bucket ARN names no account, so it cannot bind the source to this one
        {"ArnEquals": {"aws:SourceArn": ["arn:aws:s3:::b", f"arn:aws:sns:us-east-1:{ACCOUNT}:t"]}},
    ],
)
def test_service_principal_without_a_binding_condition_is_outside(condition):
    st = _allow({"Service": ["cloudwatch.amazonaws.com"]}, Condition=condition)
    grants = outside_grants(_policy(st), ACCOUNT)
    assert [g.principal for g in grants] == ["Service:cloudwatch.amazonaws.com"]
    assert "no condition binding it" in grants[0].reason


def test_deny_statements_and_not_principal_in_deny_are_fine():
    deny = {"Effect": "Deny", "Principal": "*", "Action": "s3:*", "Resource": "*"}
    deny_np = {"Effect": "Deny", "NotPrincipal": {"AWS": f"arn:aws:iam::{OTHER}:root"}, "Action": "*"}
    assert outside_grants(_policy(deny, deny_np), ACCOUNT) == []


def test_not_principal_in_an_allow_is_outside():
    st = {"Effect": "Allow", "NotPrincipal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}, "NotAction": "kms:Delete*"}
    (grant,) = outside_grants(_policy(st), ACCOUNT)
    assert grant.principal.startswith("everyone but AWS:arn:aws:iam::")
    assert grant.actions == ("everything but kms:Delete*",)


def test_json_string_single_statement_and_empty_policies():
    one = json.dumps({"Version": "2012-10-17", "Statement": _allow("*", action="sns:Publish")})
    assert [g.actions for g in outside_grants(one, ACCOUNT)] == [("sns:Publish",)]
    assert outside_grants(None, ACCOUNT) == outside_grants("", ACCOUNT) == outside_grants({}, ACCOUNT) == []


@pytest.mark.parametrize("bad", ["{not json", "[1, 2]", json.dumps({"Statement": "x"}), json.dumps({"Id": "x"})])
def test_a_document_that_is_not_a_policy_is_an_error(bad):
    with pytest.raises(PolicyError):
        outside_grants(bad, ACCOUNT)


def test_account_of():
    assert account_of(ACCOUNT) == ACCOUNT
    assert account_of(f"arn:aws:iam::{OTHER}:role/a/b") == OTHER
    assert account_of(f"arn:aws-cn:sts::{OTHER}:assumed-role/r/s") == OTHER
    assert account_of("arn:aws:s3:::bucket") is None
    assert account_of("AROAEXAMPLE") is None


# ---- Elastic Load Balancing's access-log delivery account (Regions opened before August 2022)

ELB_US_EAST_1 = "127311923021"
LOG_FOLDER = f"arn:aws:s3:::payments-dev-x-accesslogs-1a2b/alb/AWSLogs/{ACCOUNT}/*"


def _elb_delivery(principal=f"arn:aws:iam::{ELB_US_EAST_1}:root", **changes) -> dict:
    st = {"Sid": "AllowLoadBalancerAccessLogDelivery", "Effect": "Allow", "Principal": {"AWS": principal},
          "Action": "s3:PutObject", "Resource": LOG_FOLDER}  # fmt: skip
    return {**st, **changes}


@pytest.mark.parametrize(
    "statement",
    [
        _elb_delivery(),
        _elb_delivery(ELB_US_EAST_1, Action=["s3:PutObject"]),
        _elb_delivery(Resource=[f"arn:aws:s3:::logs-bucket/AWSLogs/{ACCOUNT}/*"]),  # no prefix
    ],
)
def test_the_region_s_elb_delivery_account_on_its_statement_is_admitted(statement):
    assert outside_grants(_policy(statement), ACCOUNT, "us-east-1") == []


@pytest.mark.parametrize(
    ("statement", "region"),
    [
        (_elb_delivery(), None),  # the Region unknown
        (_elb_delivery(), "us-west-2"),  # us-east-1's ELB account in another Region
        (_elb_delivery(), "ap-southeast-5"),  # a Region whose ELB delivers as the service principal
        (_elb_delivery(f"arn:aws:iam::{OTHER}:root"), "us-east-1"),  # any other account on that shape
        (_elb_delivery(f"arn:aws:iam::{ELB_US_EAST_1}:role/any"), "us-east-1"),  # not the account itself
        (_elb_delivery(Action="s3:*"), "us-east-1"),
        (_elb_delivery(Action=["s3:PutObject", "s3:GetObject"]), "us-east-1"),
        (_elb_delivery(Resource="arn:aws:s3:::payments-dev-x-accesslogs-1a2b/*"), "us-east-1"),
        (_elb_delivery(Resource="arn:aws:s3:::payments-dev-x-accesslogs-1a2b/alb/AWSLogs/*"), "us-east-1"),
        (
            _elb_delivery(Resource=f"arn:aws:s3:::logs-bucket/alb/AWSLogs/{OTHER}/*"),
            "us-east-1",
        ),  # another account's logs
        (_elb_delivery(Resource=f"arn:aws:s3:::logs-bucket/*/AWSLogs/{ACCOUNT}/*"), "us-east-1"),  # wildcard before
        (_elb_delivery(Resource=[LOG_FOLDER, "arn:aws:s3:::logs-bucket/*"]), "us-east-1"),
        (_elb_delivery(Resource="*"), "us-east-1"),
        ({k: v for k, v in _elb_delivery(NotAction="s3:GetObject").items() if k != "Action"}, "us-east-1"),
        (
            {k: v for k, v in _elb_delivery(NotResource="arn:aws:s3:::logs-bucket/x").items() if k != "Resource"},
            "us-east-1",
        ),
    ],
)
def test_any_other_grant_to_an_elb_or_other_account_stays_outside(statement, region):
    (grant,) = outside_grants(_policy(statement), ACCOUNT, region)
    assert grant.statement == "AllowLoadBalancerAccessLogDelivery" and "account " in grant.reason
