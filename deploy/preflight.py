"""Preflight before CreateStack: does the region have room for the stack's Elastic IPs?

The original platform's first deployment failed in two regions on ``AddressLimitExceeded``
an hour into a create (the NAT gateways' EIPs come late). This compares, before any
CreateStack, what the template needs in this environment (``AWS::EC2::EIP`` and
``AWS::EC2::NatGateway`` resources whose Condition holds for the environment's parameters)
with the region's quota (Service Quotas, ec2 / L-0263D0A3 "EC2-VPC Elastic IPs"; AWS's
default of 5 when the quota API cannot be read, said so) and its usage (DescribeAddresses),
and its NAT gateways (one per AZ in the template) with vpc / L-FE5A380F "NAT gateways per
Availability Zone" (default 5) and the busiest AZ's usage (DescribeNatGateways, DescribeSubnets).

It runs only when the stack is to be created: an update of an existing stack already holds
its addresses. With ``--region auto`` it picks the first of the environment's
``candidate_regions`` with room.

Before a create or an update it also asks ACM whether the environment file's ``certificate_arn``
is an issued certificate of the account in the stack's region (:func:`check_certificate`): Elastic
Load Balancing refuses any other with ``CertificateNotFound`` and the stack would roll back after
its load balancer was made.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import botocore.exceptions

from core.aws import AwsSession, error_code
from core.errors import InfrastructureError, UsageError
from core.spec import TEMPLATE_PATH, EnvironmentSpec, _shown, environment_path
from core.template import load_template

EIP_QUOTA = ("ec2", "L-0263D0A3")  # "EC2-VPC Elastic IPs", per region
AWS_DEFAULT_EIP_QUOTA = 5
NAT_QUOTA = ("vpc", "L-FE5A380F")  # "NAT gateways per Availability Zone"
AWS_DEFAULT_NAT_QUOTA = 5
LIVE_NAT_STATES = ["pending", "available", "deleting"]  # what still counts against the quota
AUTO = "auto"


class QuotaExhausted(InfrastructureError):
    """The region cannot hold the stack's Elastic IPs: nothing was created (exit 3)."""


class CertificateMissing(UsageError):
    """The environment file's certificate_arn is not a usable certificate: nothing was created (exit 4)."""


def check_certificate(spec: EnvironmentSpec, aws: AwsSession, *, out: Callable[[str], None] = print) -> None:
    """Stop (exit 4, nothing created) unless ``spec.certificate_arn`` is an ISSUED ACM certificate of
    the account in ``aws.region``: the one thing a load balancer listener accepts (else
    ``CertificateNotFound``, an hour into a create)."""
    arn = spec.certificate_arn
    shown = _shown(environment_path(spec.name))
    fix = (
        f"request or import the certificate in ACM in {aws.region} and set certificate_arn in {shown} "
        "to its ARN, then run again; nothing was created."
    )
    arn_region = arn.split(":")[3] if arn.count(":") >= 5 else ""
    if arn_region != aws.region:
        raise CertificateMissing(
            f"{shown}: certificate_arn {arn} is in {arn_region or 'no region'} but {spec.stack_name} deploys "
            f"in {aws.region}, and a load balancer takes only a certificate of its own region; {fix}"
        )
    try:
        cert = aws.client("acm").describe_certificate(CertificateArn=arn)["Certificate"]
    except botocore.exceptions.ClientError as exc:
        code = error_code(exc)
        if code in ("AccessDenied", "AccessDeniedException"):
            out(f"preflight: certificate_arn {arn} not checked (ACM DescribeCertificate denied)")
            return
        if code not in ("ResourceNotFoundException", "InvalidArnException", "ValidationException"):
            raise
        raise CertificateMissing(
            f"{shown}: certificate_arn {arn} does not exist in ACM of this account in {aws.region} ({code}); {fix}"
        ) from None
    status = str(cert.get("Status", ""))
    if status != "ISSUED":
        raise CertificateMissing(
            f"{shown}: certificate_arn {arn} is {status or 'of no status'} in ACM, not ISSUED, "
            f"and a load balancer takes only an issued certificate; {fix}"
        )


@dataclass(frozen=True)
class Need:
    eips: int
    nat_gateways: int


@dataclass(frozen=True)
class Room:
    region: str
    needed: int
    in_use: int
    quota: int
    quota_source: str  # "Service Quotas" or "AWS default (...)"
    nat_needed_per_az: int = 0
    nat_in_busiest_az: int = 0
    nat_quota: int = AWS_DEFAULT_NAT_QUOTA
    nat_quota_source: str = "Service Quotas"

    @property
    def fits(self) -> bool:
        eips = self.in_use + self.needed <= self.quota
        return eips and self.nat_in_busiest_az + self.nat_needed_per_az <= self.nat_quota

    def numbers(self) -> str:
        text = f"needs {self.needed} Elastic IPs, {self.in_use} in use, quota {self.quota} ({self.quota_source})"
        if self.nat_needed_per_az:
            text += (
                f"; needs {self.nat_needed_per_az} NAT gateway per AZ, {self.nat_in_busiest_az} in its busiest AZ, "
                f"quota {self.nat_quota} per AZ ({self.nat_quota_source})"
            )
        return text


def _truth(expr: Any, params: dict[str, str], conditions: dict[str, Any], seen: frozenset[str]) -> Any:
    """Evaluate a condition expression; None when it cannot be known offline (counted as true)."""
    if isinstance(expr, dict) and len(expr) == 1:
        ((key, value),) = expr.items()
        if key == "Ref":
            return params.get(value)
        if key == "Condition":
            return condition_holds(value, params, conditions, seen)
        args = [_truth(v, params, conditions, seen) for v in value] if isinstance(value, list) else []
        if key == "Fn::Equals" and len(args) == 2:
            return None if None in args else str(args[0]) == str(args[1])
        if key == "Fn::Not" and len(args) == 1:
            return None if args[0] is None else not args[0]
        if key == "Fn::And":
            return False if False in args else (None if None in args else True)
        if key == "Fn::Or":
            return True if True in args else (None if None in args else False)
        return None
    return expr


def condition_holds(
    name: str, params: dict[str, str], conditions: dict[str, Any], seen: frozenset[str] = frozenset()
) -> bool:
    if name in seen or name not in conditions:
        return True
    value = _truth(conditions[name], params, conditions, seen | {name})
    return value is not False


def template_needs(spec: EnvironmentSpec, template_path: Path = TEMPLATE_PATH) -> Need:
    doc = load_template(template_path)
    declared = doc.get("Parameters") or {}
    params = {k: str((v or {}).get("Default", "")) for k, v in declared.items()}
    params.update({p["ParameterKey"]: p["ParameterValue"] for p in spec.template_parameters()})
    params["AWS::Region"] = spec.region
    conditions = doc.get("Conditions") or {}
    counts = {"AWS::EC2::EIP": 0, "AWS::EC2::NatGateway": 0}
    for resource in (doc.get("Resources") or {}).values():
        resource = resource or {}
        rtype = resource.get("Type")
        if rtype in counts and condition_holds(resource.get("Condition", ""), params, conditions):
            counts[rtype] += 1
    return Need(eips=counts["AWS::EC2::EIP"], nat_gateways=counts["AWS::EC2::NatGateway"])


def _quota(aws: AwsSession, code: tuple[str, str], default: int) -> tuple[int, str]:
    try:
        doc = aws.client("service-quotas").get_service_quota(ServiceCode=code[0], QuotaCode=code[1])
        return int(doc["Quota"]["Value"]), "Service Quotas"
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError, KeyError, ValueError) as exc:
        why = error_code(exc) or type(exc).__name__
        return default, f"AWS default; the quota API was unavailable: {why}"


def _nat_in_busiest_az(aws: AwsSession) -> int:
    """The most NAT gateways (pending, available or deleting) in any one AZ of the region."""
    ec2 = aws.client("ec2")
    subnets: list[str] = []
    for page in ec2.get_paginator("describe_nat_gateways").paginate(
        Filters=[{"Name": "state", "Values": LIVE_NAT_STATES}]
    ):
        subnets += [g["SubnetId"] for g in page.get("NatGateways", []) if g.get("SubnetId")]
    if not subnets:
        return 0
    zone_of = {
        s["SubnetId"]: s.get("AvailabilityZone", "?")
        for s in ec2.describe_subnets(SubnetIds=sorted(set(subnets))).get("Subnets", [])
    }
    per_az: dict[str, int] = {}
    for subnet in subnets:
        zone = zone_of.get(subnet, "?")
        per_az[zone] = per_az.get(zone, 0) + 1
    return max(per_az.values())


def region_room(aws: AwsSession, needed: int, nat_needed_per_az: int = 0) -> Room:
    """Quota and usage of Elastic IPs (and NAT gateways per AZ, when the stack has any) in the session's region."""
    quota, source = _quota(aws, EIP_QUOTA, AWS_DEFAULT_EIP_QUOTA)
    nat_quota, nat_source, nat_used = AWS_DEFAULT_NAT_QUOTA, "Service Quotas", 0
    try:
        in_use = len(aws.client("ec2").describe_addresses().get("Addresses", []))
        if nat_needed_per_az:
            nat_quota, nat_source = _quota(aws, NAT_QUOTA, AWS_DEFAULT_NAT_QUOTA)
            nat_used = _nat_in_busiest_az(aws)
    except botocore.exceptions.ClientError as exc:
        raise InfrastructureError(
            f"cannot read the Elastic IPs or NAT gateways in use in {aws.region} ({error_code(exc)}); "
            "grant ec2:DescribeAddresses, ec2:DescribeNatGateways and ec2:DescribeSubnets or run again."
        ) from None
    return Room(aws.region, needed, in_use, quota, source, nat_needed_per_az, nat_used, nat_quota, nat_source)


SessionFactory = Callable[[str], AwsSession]


def choose_region(
    spec: EnvironmentSpec,
    aws: AwsSession,
    session_for: SessionFactory,
    *,
    auto: bool,
    out: Callable[[str], None] = print,
    template_path: Path = TEMPLATE_PATH,
) -> str:
    """The region to create the stack in; raise :class:`QuotaExhausted` (nothing created) when there is no room.

    ``aws`` is bound to the spec's region; ``session_for(region)`` gives a session for another one.
    """
    need = template_needs(spec, template_path)
    needed = max(need.eips, need.nat_gateways)  # each NAT gateway holds an Elastic IP
    nat_per_az = 1 if need.nat_gateways else 0  # the template puts one NAT gateway in each AZ
    if needed == 0:
        return spec.region
    order = [spec.region, *[r for r in spec.candidate_regions if r != spec.region]]
    if auto:
        order = list(spec.candidate_regions)
    rooms: list[Room] = []
    for region in order:
        room = region_room(aws if region == aws.region else session_for(region), needed, nat_per_az)
        rooms.append(room)
        if room.quota_source != "Service Quotas":
            out(f"preflight: {region}: Elastic IP quota unreadable, assuming {room.quota_source}")
        if room.nat_quota_source != "Service Quotas":
            out(f"preflight: {region}: NAT gateway quota unreadable, assuming {room.nat_quota_source}")
        if room.fits and (auto or region == spec.region):
            if auto:
                out(f"preflight: --region auto chose {region} ({room.numbers()})")
            return region
        if not auto and region == spec.region:
            continue  # look for a candidate to name
        if not auto and room.fits:
            break
    first = rooms[0]
    elsewhere = next((r for r in rooms[1:] if r.fits), None)
    if auto:
        tried = "; ".join(f"{r.region} {r.numbers()}" for r in rooms)
        raise QuotaExhausted(
            f"no candidate region of {spec.name} has room for the stack's {needed} Elastic IPs ({tried}); "
            "release unused addresses or NAT gateways, or request a quota increase (Service Quotas, L-0263D0A3 / "
            "L-FE5A380F); nothing was created."
        )
    hint = (
        f"{elsewhere.region} has room ({elsewhere.in_use} in use of {elsewhere.quota}): deploy there with "
        f"--region {elsewhere.region} or --region auto"
        if elsewhere
        else "no candidate region has room: release unused addresses or NAT gateways, or request a quota "
        "increase (L-0263D0A3 / L-FE5A380F)"
    )
    raise QuotaExhausted(
        f"{spec.stack_name} would exhaust the Elastic IPs of {first.region}: it {first.numbers()}; "
        f"{hint}; nothing was created."
    )


def session_factory(aws: AwsSession) -> SessionFactory:
    """Sessions for other regions, with the same endpoint, profile and call log as ``aws``."""

    def make(region: str) -> AwsSession:
        return AwsSession(region=region, endpoint_url=aws.endpoint_url, profile=aws.profile, call_log=aws.call_log)

    return make


def stack_exists(aws: AwsSession, stack_name: str) -> bool:
    try:
        stacks = aws.client("cloudformation").describe_stacks(StackName=stack_name)["Stacks"]
    except botocore.exceptions.ClientError as exc:
        if error_code(exc) == "ValidationError" and "does not exist" in str(exc):
            return False
        raise
    return any(s.get("StackStatus") != "DELETE_COMPLETE" for s in stacks)


def resolve_auto_region(
    spec: EnvironmentSpec, aws: AwsSession, *, out: Callable[[str], None] = print, template_path: Path = TEMPLATE_PATH
) -> str:
    """``--region auto``: the candidate region where the stack already is, else the first with room."""
    make = session_factory(aws)
    for region in spec.candidate_regions:
        if stack_exists(aws if region == aws.region else make(region), spec.stack_name):
            out(f"preflight: --region auto: {spec.stack_name} already exists in {region}; using it")
            return region
    return choose_region(spec, aws, make, auto=True, out=out, template_path=template_path)
