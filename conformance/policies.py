"""Read a resource-based policy for what it grants outside the account.

A resource policy (a KMS key policy, a secret's resource policy, a bucket policy, an SNS topic
policy) names its grantees itself, so it can open a resource to the world or to another
account without any IAM policy of ours saying so. :func:`outside_grants` lists every
``Allow`` statement whose grantee is not provably inside ``account``:

* ``"*"`` or ``{"AWS": "*"}`` (everyone: an account-wide grant is written with the account's
  root principal, which IAM policies then delegate), unless a condition binds the caller to the
  account (``aws:PrincipalAccount`` equal to it, the form VPC endpoint policies take, where no
  other principal can be named);
* an account id or an IAM/STS ARN of another account (``arn:<partition>:iam::<id>:...``,
  ``arn:<partition>:sts::<id>:...``); anything else in ``AWS`` (e.g. the unique id AWS leaves
  in place of a deleted role) cannot be placed in an account and counts as outside;
* ``Federated`` and ``CanonicalUser`` grantees (identities outside IAM's account model);
* an AWS service principal (``{"Service": "logs.<region>.amazonaws.com"}``) *without* a
  condition binding the request to this account: ``aws:SourceAccount`` / ``aws:SourceOwner``
  / ``kms:CallerAccount`` equal to the account, ``aws:SourceArn`` or
  ``kms:EncryptionContext:aws:logs:arn`` naming an ARN of the account, or ``kms:ViaService``
  (the request came through that service on behalf of a caller the key policy already
  admits), under a ``String*`` / ``Arn*`` operator that is neither negated nor ``IfExists``;
* ``NotPrincipal`` in an ``Allow`` (everyone but the listed principals).

One grant to another account is admitted, and only when the caller names the Region: Elastic
Load Balancing's access-log delivery account of that Region (``core.logdelivery``; AWS owns it
and documents it for the Regions opened before August 2022, where the bucket policy must grant
it), as ``arn:<partition>:iam::<that account>:root`` or its bare id, in an ``Allow`` of exactly
``s3:PutObject`` on ``arn:<partition>:s3:::<bucket>/[<prefix>/]AWSLogs/<account>/*`` only (no
``NotAction``/``NotResource``, no wildcard before the account's folder). The same account in any
other Region, any other account on that shape, and that account with any wider action or
resource stay findings.

``Deny`` statements take nothing away from the account's protection and are never findings.
The grammar follows the IAM JSON policy reference: ``Statement`` is one object or a list;
``Principal``, ``Action`` and condition values are a string or a list; condition keys are
case-insensitive, operators are not. This is a small reader of that grammar rather than a
third-party parser: the libraries that read resource policies for exposure (policyuniverse,
last released 2023) are no longer maintained, and parliament lints identity policies.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from core.logdelivery import elb_log_delivery_account

_ACCOUNT_RE = re.compile(r"^\d{12}$")
# arn:<partition>:iam::<account>:<root|user/..|role/..>  and  arn:<partition>:sts::<account>:assumed-role/..
_PRINCIPAL_ARN_RE = re.compile(r"^arn:aws[a-z-]*:(?:iam|sts)::(\d{12}):.+$")
_SERVICE_RE = re.compile(r"^[a-z0-9.-]+\.amazonaws\.com(?:\.cn)?$")
# operators whose match binds the key to the given values (no negation, no "absent is fine")
_BINDING_OPERATORS = {"StringEquals", "StringEqualsIgnoreCase", "StringLike", "ArnEquals", "ArnLike"}
_ACCOUNT_KEYS = ("aws:sourceaccount", "aws:sourceowner", "kms:calleraccount")
_PRINCIPAL_ACCOUNT = "aws:principalaccount"
_ARN_KEYS = ("aws:sourcearn", "kms:encryptioncontext:aws:logs:arn")
_VIA_SERVICE = "kms:viaservice"


@dataclass(frozen=True)
class Grant:
    """One grantee of one ``Allow`` statement that is not provably inside the account."""

    statement: str  # the Sid, or "statement <index>"
    principal: str  # as the policy names it, e.g. "AWS:*", "AWS:111122223333", "Service:sns.amazonaws.com"
    actions: tuple[str, ...]
    reason: str

    def __str__(self) -> str:
        return f"{self.statement} allows {', '.join(self.actions) or 'no action'} to {self.principal} ({self.reason})"


class PolicyError(ValueError):
    """The document is not a policy (not JSON, no Statement list of objects)."""


def parse(policy: str | dict[str, Any] | None) -> dict[str, Any]:
    """The policy document as a dict ({} for none); raises PolicyError when it is not a policy."""
    if policy in (None, "", {}):
        return {}
    if isinstance(policy, str):
        try:
            policy = json.loads(policy)
        except ValueError as exc:
            raise PolicyError(f"the policy is not JSON: {exc}") from None
    if not isinstance(policy, dict):
        raise PolicyError(f"the policy is a {type(policy).__name__}, not a JSON object")
    statements = policy.get("Statement")
    if not isinstance(statements, (dict, list)) or not all(isinstance(s, dict) for s in _as_list(statements)):
        raise PolicyError("the policy has no Statement object or list of objects")
    return policy


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, (list, tuple)) else [value]


def account_of(principal_arn_or_id: str) -> str | None:
    """The account an AWS principal (account id, IAM or STS ARN) belongs to; None when it names none."""
    value = principal_arn_or_id.strip()
    if _ACCOUNT_RE.match(value):
        return value
    match = _PRINCIPAL_ARN_RE.match(value)
    return match.group(1) if match else None


def _arn_account(arn: str) -> str | None:
    parts = str(arn).split(":")
    return parts[4] if len(parts) >= 6 and parts[0] == "arn" and _ACCOUNT_RE.match(parts[4]) else None


def _binds_to_account(condition: Any, account: str) -> bool:
    """True when one condition test pins the request's source to ``account`` (see the module docstring)."""
    if not isinstance(condition, dict):
        return False
    for operator, block in condition.items():
        if str(operator) not in _BINDING_OPERATORS or not isinstance(block, dict):
            continue
        for key, value in block.items():
            values = [str(v) for v in _as_list(value)]
            if not values:
                continue
            name = str(key).lower()
            if name in _ACCOUNT_KEYS and all(v == account for v in values):
                return True
            if name in _ARN_KEYS and all(_arn_account(v) == account for v in values):
                return True
            if name == _VIA_SERVICE and all(_SERVICE_RE.match(v) for v in values):
                return True
    return False


def _binds_caller_to_account(condition: Any, account: str) -> bool:
    """True when a condition test admits only callers of ``account`` (``aws:PrincipalAccount``)."""
    if not isinstance(condition, dict):
        return False
    for operator, block in condition.items():
        if str(operator) not in _BINDING_OPERATORS or not isinstance(block, dict):
            continue
        for key, value in block.items():
            values = [str(v) for v in _as_list(value)]
            if str(key).lower() == _PRINCIPAL_ACCOUNT and values and all(v == account for v in values):
                return True
    return False


def _elb_log_delivery(st: dict[str, Any], principal: str, account: str, region: str | None) -> bool:
    """True when ``principal`` is the Region's ELB log-delivery account on the one statement shape it needs."""
    elb = elb_log_delivery_account(region)
    if elb is None or any(k in st for k in ("NotAction", "NotResource", "NotPrincipal")):
        return False
    if principal != elb and not re.fullmatch(rf"arn:aws[a-z-]*:iam::{re.escape(elb)}:root", principal):
        return False
    actions = [str(a).lower() for a in _as_list(st.get("Action"))]
    resources = [str(r) for r in _as_list(st.get("Resource"))]
    log_folder = re.compile(rf"arn:aws[a-z-]*:s3:::[a-z0-9][a-z0-9.-]+/(?:[^*?]+/)?AWSLogs/{re.escape(account)}/\*")
    return actions == ["s3:putobject"] and bool(resources) and all(log_folder.fullmatch(r) for r in resources)


def _principals(principal: Any) -> list[tuple[str, str]]:
    """(kind, value) pairs of a Principal element; ``"*"`` is ("AWS", "*")."""
    if principal == "*":
        return [("AWS", "*")]
    if isinstance(principal, dict):
        return [(str(kind), str(v)) for kind, values in principal.items() for v in _as_list(values)]
    return [("?", str(principal))]


def outside_grants(policy: str | dict[str, Any] | None, account: str, region: str | None = None) -> list[Grant]:
    """Every grantee of an ``Allow`` statement of ``policy`` that is not provably inside ``account``.

    ``region``: where the resource is; only with it is ELB's access-log delivery account admitted.
    """
    found: list[Grant] = []
    for index, st in enumerate(_as_list(parse(policy).get("Statement"))):
        if st.get("Effect") != "Allow":
            continue  # Deny (or a malformed effect IAM rejects) grants nothing
        sid = str(st.get("Sid") or f"statement {index}")
        actions = tuple(str(a) for a in _as_list(st.get("Action"))) or tuple(
            f"everything but {a}" for a in _as_list(st.get("NotAction"))
        )
        if "NotPrincipal" in st:
            shown = ", ".join(f"{k}:{v}" for k, v in _principals(st["NotPrincipal"]))
            found.append(Grant(sid, f"everyone but {shown}", actions, "NotPrincipal in an Allow statement"))
            continue
        bound = _binds_to_account(st.get("Condition"), account)
        callers_bound = _binds_caller_to_account(st.get("Condition"), account)
        for kind, value in _principals(st.get("Principal")):
            label = f"{kind}:{value}"
            if kind == "AWS":
                if value == "*":
                    if callers_bound:
                        continue
                    found.append(Grant(sid, label, actions, "everyone; name the account's root principal instead"))
                    continue
                owner = account_of(value)
                if owner is None:
                    found.append(Grant(sid, label, actions, "a principal that names no account"))
                elif owner != account and not _elb_log_delivery(st, value, account, region):
                    found.append(Grant(sid, label, actions, f"account {owner}, not {account}"))
            elif kind == "Service":
                if not _SERVICE_RE.match(value):
                    found.append(Grant(sid, label, actions, "not an AWS service principal"))
                elif not bound:
                    found.append(
                        Grant(sid, label, actions, f"a service principal with no condition binding it to {account}")
                    )
            else:
                found.append(Grant(sid, label, actions, f"a {kind} principal, outside the account's IAM"))
    return found


def ecr_layer_bucket(region: str, partition: str = "aws") -> str:
    """The objects of the bucket ECR serves image layers from in ``region`` (AWS-owned)."""
    return f"arn:{partition}:s3:::prod-{region}-starport-layer-bucket/*"


def endpoint_outside_grants(policy: str | dict[str, Any] | None, account: str, region: str) -> list[Grant]:
    """What a VPC endpoint policy lets through for anyone but the account's principals.

    The judgement of :func:`outside_grants`, with the one exception AWS documents for an S3
    gateway endpoint that ECR pulls through: ``s3:GetObject`` on ECR's own layer bucket of the
    Region, which ECR's pre-signed URLs reach without a principal of the account. A statement
    granting anything more, or any other resource, is judged like any other.
    """
    layers = {ecr_layer_bucket(region, p) for p in ("aws", "aws-cn", "aws-us-gov")}
    found = []
    statements = _as_list(parse(policy).get("Statement"))
    for grant in outside_grants(policy, account):
        index = next(
            (i for i, st in enumerate(statements) if str(st.get("Sid") or f"statement {i}") == grant.statement), None
        )
        st = statements[index] if index is not None else {}
        resources = {str(r) for r in _as_list(st.get("Resource"))}
        if (
            grant.actions == ("s3:GetObject",)
            and resources
            and resources <= layers
            and "NotResource" not in st
            and "NotAction" not in st
        ):
            continue
        found.append(grant)
    return found
