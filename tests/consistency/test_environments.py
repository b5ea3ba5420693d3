"""Consistency suite: the environments of the run compared with each other.

Every check reads the inventories the controller collected (``inventories``: environment →
Inventory) and the environment files (``specs``); none makes an API call. Settings that must be
identical everywhere are compared as a *normalised view*: the environment's name, suffix, ids,
ARNs and addresses replaced by placeholders, so only what the template configures remains. What
differs by Region is the Region itself (in ARNs, service names such as ``com.amazonaws.<region>.s3``,
zone names, settings) and AWS's per-Region constants the environment observed: S3's managed prefix
list id stands as its name (``pl-63a5400a`` in us-east-1 and ``pl-7ba54012`` in us-east-2 both
read ``<com.amazonaws.<region>.s3>``); any other prefix list stays as its id.
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Iterable
from itertools import combinations
from pathlib import Path
from typing import TYPE_CHECKING, Any

from conformance.checks import check, primary, supporting
from conformance.evidence import Evidence
from conformance.inventory import Inventory, ProbeError
from conformance.inventory.base import tags_of
from conformance.inventory.shapes import EcsService, IpPermission, SecurityGroup
from conformance.inventory.tags import LOGICAL_ID_TAG
from core.spec import EnvironmentSpec
from core.template import load_template

if TYPE_CHECKING:
    from types_boto3_ecs.type_defs import NetworkConfigurationOutputTypeDef


@check(
    severity="low",
    operational="addressing plan: environments can be peered later",
    rationale="Environment address spaces never overlap, so they stay separable and can be peered.",
)
def test_environment_cidrs_are_disjoint(inventories: dict[str, Inventory], evidence: Evidence) -> None:
    cidrs = {env: inv.network.cidr for env, inv in inventories.items()}
    evidence.attach("VPC CIDRs", cidrs)
    assert all(cidrs.values()), f"some environments have no VPC CIDR observed: {cidrs}"
    overlaps = [
        f"{a} ({cidrs[a]}) and {b} ({cidrs[b]})"
        for a, b in combinations(sorted(cidrs), 2)
        if ipaddress.ip_network(cidrs[a]).overlaps(ipaddress.ip_network(cidrs[b]))
    ]
    assert not overlaps, f"VPC CIDRs overlap: {'; '.join(overlaps)}"


# ---------------------------------------------------------------- helpers


def _odd_ones(values: dict[str, Any]) -> tuple[Any, list[str]]:
    """The value most environments share (on a tie: the first environment's) and the environments that differ."""
    groups: dict[str, list[str]] = {}
    for env, value in values.items():
        groups.setdefault(json.dumps(value, sort_keys=True, default=str), []).append(env)
    first = next(iter(values))
    reference = max(groups, key=lambda k: (len(groups[k]), first in groups[k]))
    return json.loads(reference), sorted(
        env for env, value in values.items() if json.dumps(value, sort_keys=True, default=str) != reference
    )


def _differences(views: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """attribute → {env: value} for every attribute of the (flat) views that is not the same everywhere."""
    keys = sorted({k for view in views.values() for k in view})
    out: dict[str, dict[str, Any]] = {}
    for key in keys:
        values = {env: view.get(key, "<absent>") for env, view in views.items()}
        if len({json.dumps(v, sort_keys=True, default=str) for v in values.values()}) > 1:
            out[key] = values
    return out


def _flat(view: Any, prefix: str = "") -> dict[str, Any]:
    """A nested view flattened to attribute paths (lists of scalars and rule lists stay whole)."""
    if isinstance(view, dict):
        out: dict[str, Any] = {}
        for key, value in view.items():
            out.update(_flat(value, f"{prefix}.{key}" if prefix else str(key)))
        return out
    return {prefix: view}


class _Normaliser:
    """Replaces what legitimately differs per environment by placeholders."""

    ID_RE = re.compile(r"\b(vpc|subnet|sg|sgr|rtb|rtbassoc|igw|nat|eipalloc|eipassoc|eni|fl|acl)-[0-9a-f]{8,17}\b")
    UUID_RE = re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b")
    CIDR_RE = re.compile(r"\b\d{1,3}(?:\.\d{1,3}){3}(?:/\d{1,2})?\b")
    ACCOUNT_RE = re.compile(r"(arn:aws[\w-]*:[\w-]+:[\w-]*:)\d{12}(:)")

    def __init__(self, inv: Inventory, spec: EnvironmentSpec) -> None:
        self.prefix = f"payments-{spec.tier}-{spec.suffix}"
        self.region = inv.region
        self.bucket = inv.storage.bucket
        self.network = spec.vpc_network
        self.key_arn = str(inv.storage.key.get("Arn", ""))
        self.key_id = str(inv.storage.key.get("KeyId", ""))
        self.tier = spec.tier
        # AWS's managed prefix list of S3 in the environment's Region (com.amazonaws.<region>.s3, as
        # DescribePrefixLists names it): a per-Region constant, so its id stands as its name
        s3_list = inv.network.s3_prefix_list
        self.s3_prefix_list = str(s3_list.get("PrefixListId", "")), str(s3_list.get("PrefixListName", ""))

    def _address(self, match: re.Match[str]) -> str:
        text = match.group(0)
        try:
            net = ipaddress.ip_network(text, strict=False)
        except ValueError:
            return text
        if net == self.network:
            return "<vpc-cidr>"
        if net.subnet_of(self.network) if net.version == 4 else False:
            return "<cidr-in-vpc>"
        return text

    def text(self, value: str) -> str:
        list_id, list_name = self.s3_prefix_list
        if list_id and list_name:
            value = re.sub(rf"\b{re.escape(list_id)}\b", f"<{list_name}>", value)
        for own in (self.key_arn, self.key_id):
            if own:
                value = value.replace(own, "<environment-key>")
        if self.bucket:
            value = value.replace(self.bucket, "<bucket>")
        value = value.replace(self.prefix, "payments-<env>-<suffix>")
        value = self.ACCOUNT_RE.sub(r"\1<account>\2", value)
        # the region each environment file declares, in ARNs, settings (awslogs-region) and zone names
        value = re.sub(rf"\b{re.escape(self.region)}", "<region>", value) if self.region else value
        value = self.ID_RE.sub(lambda m: f"<{m.group(1)}-id>", value)
        value = self.UUID_RE.sub("<uuid>", value)
        return self.CIDR_RE.sub(self._address, value)

    def __call__(self, value: Any) -> Any:
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            return {k: self(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self(v) for v in value]
        return value


def _key_ref(inv: Inventory, norm: _Normaliser, reported: Any) -> str:
    """A key reference as the environment's key when it names it in any form (ARN, id, alias), else as text."""
    if inv.storage.is_environment_key(str(reported) if reported else None):
        return "<environment-key>"
    return norm.text(str(reported or "<none>"))


def _component(name: str, prefix: str) -> str:
    return name[len(prefix) + 1 :] if name.startswith(prefix + "-") else name


def _stack_ids(inv: Inventory) -> set[str]:
    return {str(r.get("PhysicalResourceId", "")) for r in inv.stack.resources}


def _public_ip(svc: EcsService) -> str | None:
    network: NetworkConfigurationOutputTypeDef = svc.get("networkConfiguration") or {}
    awsvpc = network.get("awsvpcConfiguration")
    return awsvpc.get("assignPublicIp") if awsvpc else None


def _stack_security_groups(inv: Inventory) -> list[SecurityGroup]:
    """The groups the stack declares (AWS::EC2::SecurityGroup): not the VPC's default group, which a
    custom resource of the stack names as its physical id (the network suite judges that one)."""
    ids = set(inv.stack.physical_ids("AWS::EC2::SecurityGroup"))
    return [sg for sg in inv.network.security_groups if sg.get("GroupId") in ids]


def _sg_rules(inv: Inventory, spec: EnvironmentSpec, norm: _Normaliser) -> dict[str, Any]:
    """Security group role (its name without the environment prefix) → its rules, sources by role."""
    prefix = f"payments-{spec.tier}-{spec.suffix}"
    groups = _stack_security_groups(inv)
    role_of = {sg["GroupId"]: _component(str(sg.get("GroupName", "")), prefix) for sg in groups}

    def rules(perms: Iterable[IpPermission]) -> list[str]:
        out = []
        for p in perms:
            ports = f"{p.get('IpProtocol')}:{p.get('FromPort', 'all')}-{p.get('ToPort', 'all')}"
            sources = [norm.text(r.get("CidrIp", "")) for r in p.get("IpRanges", [])]
            sources += [f"ipv6 {r.get('CidrIpv6', '')}" for r in p.get("Ipv6Ranges", [])]
            sources += [f"prefix-list {norm.text(r.get('PrefixListId', ''))}" for r in p.get("PrefixListIds", [])]
            sources += [
                f"sg {role_of.get(g.get('GroupId', ''), norm.text(g.get('GroupId', '')))}"
                for g in p.get("UserIdGroupPairs", [])
            ]
            out += [f"{ports} {source}" for source in sources] or [f"{ports} (no source)"]
        return sorted(out)

    return {
        role_of[sg["GroupId"]]: {
            "ingress": rules(sg.get("IpPermissions", [])),
            "egress": rules(sg.get("IpPermissionsEgress", [])),
        }
        for sg in groups
    }


def _same_everywhere_view(inv: Inventory, spec: EnvironmentSpec) -> dict[str, Any]:
    """Encryption, logging, network rules and engine: what must be identical in every environment."""
    norm = _Normaliser(inv, spec)
    prefix = norm.prefix
    storage, db, network = inv.storage, inv.database.cluster, inv.network
    vpc_id = network.vpc.get("VpcId")
    return {
        "security_groups": _sg_rules(inv, spec, norm),
        "bucket": {
            "encryption": norm(storage.encryption),
            "versioning": storage.versioning.get("Status", "<off>"),
            "mfa_delete": storage.versioning.get("MFADelete", "<off>"),
            "public_access_block": storage.public_access_block,
        },
        "kms": {
            "rotation": storage.key_rotation,
            "state": storage.key.get("KeyState"),
            "spec": storage.key.get("KeySpec"),
        },
        "log_groups": {
            _component(str(g.get("logGroupName", "")), prefix): {"kms": _key_ref(inv, norm, g.get("kmsKeyId"))}
            for g in storage.log_groups
            if str(g.get("logGroupName", "")).startswith(prefix)
        },
        "flow_logs": sorted(
            json.dumps(
                norm(
                    {
                        "resource": f.get("ResourceId"),
                        "traffic": f.get("TrafficType"),
                        "destination_type": f.get("LogDestinationType"),
                        "destination": f.get("LogDestination"),
                        "format": f.get("LogFormat"),
                        "aggregation": f.get("MaxAggregationInterval"),
                        "role": f.get("DeliverLogsPermissionArn"),
                    }
                ),
                sort_keys=True,
            )
            for f in network.flow_logs
            if f.get("ResourceId") == vpc_id
        ),
        "aurora": {
            "engine": db.get("Engine"),
            "engine_version": db.get("EngineVersion"),
            "storage_encrypted": db.get("StorageEncrypted"),
            "kms_key": _key_ref(inv, norm, db.get("KmsKeyId")),
            "log_exports": sorted(db.get("EnabledCloudwatchLogsExports") or []),
            "iam_auth": db.get("IAMDatabaseAuthenticationEnabled"),
            "instance_engines": sorted(
                {f"{i.get('Engine')} {i.get('EngineVersion', '')}".strip() for i in inv.database.instances}
            ),
            "instances_public": sorted({bool(i.get("PubliclyAccessible")) for i in inv.database.instances}),
            "cluster_parameters": {
                name: p.get("ParameterValue") for name, p in sorted(inv.database.cluster_parameters.items())
            },
        },
        "secret_kms": _key_ref(inv, norm, inv.database.secret.get("KmsKeyId")),
        "secret_rotation": {
            "owner": inv.database.secret.get("OwningService") or "<none>",
            "enabled": inv.database.secret.get("RotationEnabled"),
            "rules": inv.database.secret.get("RotationRules") or {},
        },
    }


# ---------------------------------------------------------------- checks


@check(
    severity="medium",
    links=[
        primary(
            "PCI-DSS-4.0:2.2.1",
            "One configuration standard, the reviewed template, is implemented in every environment.",
        ),
        supporting("PCI-DSS-4.0:6.5.1", "Production runs the change that staging ran first."),
    ],
    rationale="Every environment runs the very template that was reviewed, so what staging proves holds for prod.",
)
def test_every_environment_runs_the_same_template(inventories: dict[str, Inventory], evidence: Evidence) -> None:
    digests = {env: inv.stack.template_sha256 for env, inv in inventories.items()}
    evidence.attach("template sha256 (GetTemplate, Original) by environment", digests)
    missing = sorted(env for env, d in digests.items() if not d)
    if missing:  # e.g. an inventory saved before the suite read the template (--from-run)
        raise ProbeError(f"no deployed template body observed for {', '.join(missing)}")
    reference, odd = _odd_ones(digests)
    assert not odd, (
        f"environment(s) {', '.join(odd)} run a different template ("
        + ", ".join(f"{env} sha256 {digests[env][:12]}" for env in odd)
        + f") than the others (sha256 {reference[:12]})"
    )


@check(
    severity="medium",
    operational="completeness: no environment lacks or adds a component",
    rationale="Each environment holds the same kinds and numbers of resources, so none lacks or adds a component.",
)
def test_every_environment_has_the_same_resources(inventories: dict[str, Inventory], evidence: Evidence) -> None:
    counts = {env: inv.stack.resource_counts() for env, inv in inventories.items()}
    evidence.attach("resource counts by type and environment", counts)
    problems = []
    for rtype, values in sorted(_differences(counts).items()):
        numbers = {env: (v if v != "<absent>" else 0) for env, v in values.items()}
        reference, odd = _odd_ones(numbers)
        problems += [f"{env} has {numbers[env]} {rtype} (the others {reference})" for env in odd]
    assert not problems, f"the environments hold different resources: {'; '.join(problems)}"


# EC2 resources named by their Name tag: inventory field → the id the stack lists as physical id
NAME_TAGGED = {
    "vpc": "VpcId",
    "subnets": "SubnetId",
    "route_tables": "RouteTableId",
    "internet_gateways": "InternetGatewayId",
    "nat_gateways": "NatGatewayId",
    "addresses": "PublicIp",
    "flow_logs": "FlowLogId",
}


def _named_resources(inv: Inventory) -> dict[str, str]:
    """Every name the inventory holds for a resource of the stack: what → name."""
    ids = _stack_ids(inv)
    c, d, s, n = inv.compute, inv.database, inv.storage, inv.network
    names: dict[str, str] = {
        "ECS cluster": str(c.cluster.get("clusterName", "")),
        "ECS service": str(c.service.get("serviceName", "")),
        "task definition family": str(c.task_definition.get("family", "")),
        "load balancer": str(c.load_balancer.get("LoadBalancerName", "")),
        "target group": str(c.target_group.get("TargetGroupName", "")),
        "S3 bucket": s.bucket,
        "SNS topic": str(s.topic.get("TopicArn", "")).rsplit(":", 1)[-1],
        "DB cluster": str(d.cluster.get("DBClusterIdentifier", "")),
        "DB subnet group": str(d.subnet_group.get("DBSubnetGroupName", "")),
        "DB cluster parameter group": str(d.cluster.get("DBClusterParameterGroup", "")),
    }
    if d.secret and not d.secret.get("OwningService"):  # a secret RDS manages is named by RDS (rds!cluster-<id>)
        names["secret"] = str(d.secret.get("Name", ""))
    names.update(
        {f"DB instance {i.get('DBInstanceIdentifier')}": str(i.get("DBInstanceIdentifier", "")) for i in d.instances}
    )
    names.update(
        {
            # WAF logs only to a group named aws-waf-logs-...: AWS's prefix, the convention after it
            f"log group {g.get('logGroupName')}": str(g.get("logGroupName", "")).removeprefix("aws-waf-logs-")
            for g in s.log_groups
            if g.get("logGroupName") in ids
        }
    )
    names.update({f"alarm {a.get('AlarmName')}": str(a.get("AlarmName", "")) for a in c.alarms})
    names.update({f"KMS alias {a}": a.removeprefix("alias/") for a in s.key_aliases})
    names.update({f"IAM role {r}": r for r in c.role_policies})
    names.update({f"scaling policy {p.get('PolicyName')}": str(p.get("PolicyName", "")) for p in c.scaling_policies})
    for sg in _stack_security_groups(inv):
        names[f"security group {sg['GroupId']} GroupName"] = str(sg.get("GroupName", ""))
        names[f"security group {sg['GroupId']} Name tag"] = tags_of(sg).get("Name", "<no Name tag>")
    for field, id_key in NAME_TAGGED.items():
        items = getattr(n, field)
        for item in [items] if isinstance(items, dict) else items:
            rid = str(item.get(id_key, ""))
            if rid in ids:
                names[f"{field.rstrip('s').replace('_', ' ')} {rid} Name tag"] = tags_of(item).get(
                    "Name", "<no Name tag>"
                )
    return {what: name for what, name in names.items() if name != ""}


@check(
    severity="low",
    operational="naming: each resource's environment shows in its name",
    rationale="Every resource is named payments-<env>-<suffix>-<component>, so its environment shows wherever it does.",
)
def test_resource_names_follow_the_convention(inventories: dict[str, Inventory], specs, evidence: Evidence) -> None:
    problems, seen = [], {}
    for env, inv in inventories.items():
        spec = specs[env]
        pattern = re.compile(rf"^payments-{re.escape(spec.tier)}-{re.escape(spec.suffix)}-[a-z0-9][a-z0-9-]*$")
        names = _named_resources(inv)
        seen[env] = names
        problems += [
            f"{env}: {what} is named {name!r}" for what, name in sorted(names.items()) if not pattern.match(name)
        ]
    evidence.attach("names checked (payments-<env>-<suffix>-<component>)", seen)
    assert not problems, f"resource names break payments-<env>-<suffix>-<component>: {'; '.join(problems)}"


def _tagged_resources(inv: Inventory) -> dict[str, dict[str, str]]:
    """Every resource of the stack the tags section holds (tag:GetResources narrowed to the stack, and the
    stack's IAM roles): "<logical id> (<ARN or role name>)" → tags."""
    out = {f"{tags.get(LOGICAL_ID_TAG, '?')} ({arn})": tags for arn, tags in inv.tags.resources.items()}
    out.update({f"IAM role ({name})": tags for name, tags in inv.tags.roles.items()})
    return out


@check(
    severity="low",
    operational="ownership and cost: the five platform tags",
    rationale="Every taggable resource carries the five platform tags with its environment's values (owner, cost).",
)
def test_every_resource_carries_the_platform_tags(inventories: dict[str, Inventory], specs, evidence: Evidence) -> None:
    problems, covered, unlisted = [], {}, {}
    for env, inv in inventories.items():
        expected = specs[env].platform_tags
        resources = _tagged_resources(inv)
        covered[env] = sorted(resources)
        listed = {tags.get(LOGICAL_ID_TAG) for tags in inv.tags.resources.values()} | set(inv.tags.roles)
        unlisted[env] = sorted(
            f"{r['LogicalResourceId']} ({r['ResourceType']})"
            for r in inv.stack.resources
            if r["LogicalResourceId"] not in listed and r.get("PhysicalResourceId") not in listed
        )
        for what, tags in sorted(resources.items()):
            wrong = [f"{k}={tags.get(k, '<missing>')}" for k, v in expected.items() if tags.get(k) != v]
            if wrong:
                want = ", ".join(f"{k}={v}" for k, v in expected.items() if tags.get(k) != v)
                problems.append(f"{env}: {what} has {', '.join(wrong)} (expected {want})")
    evidence.attach("resources whose tags were judged (tag:GetResources narrowed to the stack; IAM roles)", covered)
    evidence.attach("stack resources GetResources does not list (types without tags, or not listed)", unlisted)
    assert not problems, f"resources without the platform tags: {'; '.join(problems)}"


@check(
    severity="medium",
    links=[
        primary(
            "PCI-DSS-4.0:2.2.1",
            "Encryption, logging, network rules and engine are the same in every environment: the standard is applied"
            " everywhere, weaker nowhere.",
        ),
    ],
    rationale="Encryption, logging, network rules and the database engine are identical everywhere, so none is weaker.",
)
def test_security_settings_are_identical_everywhere(
    inventories: dict[str, Inventory], specs, evidence: Evidence
) -> None:
    views = {env: _flat(_same_everywhere_view(inv, specs[env])) for env, inv in inventories.items()}
    evidence.attach("normalised view by environment", views)
    problems = []
    for attribute, values in _differences(views).items():
        reference, odd = _odd_ones(values)
        problems += [f"{env} {attribute} is {values[env]} (the others {reference})" for env in odd]
    assert not problems, f"security settings differ between environments: {'; '.join(problems)}"


DB_CONNECTIONS_ALARM = "db-connections"


def _declared(spec: EnvironmentSpec, template: dict[str, Any]) -> dict[str, Any]:
    """What the environment file declares, and what the run's template's EnvironmentConfig mapping declares per tier."""
    p, e = spec.parameters, spec.expectations
    mapping = (template.get("Mappings") or {}).get("EnvironmentConfig", {}).get(spec.tier, {})
    return {
        "DB connections alarm threshold": float(mapping.get("DBConnectionsAlarmThreshold", 0)),
        "task cpu": p.TaskCpu,
        "task memory": p.TaskMemory,
        "service desired count": p.DesiredCount,
        "scaling min capacity": p.MinCapacity,
        "scaling max capacity": p.MaxCapacity,
        "DB instance class": p.DBInstanceClass,
        "DB backup retention days": p.BackupRetentionDays,
        "DB deletion protection": p.DeletionProtection == "true",
        "log retention days": e.log_retention_days,
        "stack termination protection": e.termination_protection,
    }


def _observed_sizes(inv: Inventory, spec: EnvironmentSpec) -> dict[str, Any]:
    c, d = inv.compute, inv.database
    prefix = f"payments-{spec.tier}-{spec.suffix}"

    def one(values: set[Any]) -> Any:
        return next(iter(values)) if len(values) == 1 else sorted(values, key=str)

    return {
        "DB connections alarm threshold": one(
            {float(a.get("Threshold", 0)) for a in c.alarms if a.get("AlarmName") == f"{prefix}-{DB_CONNECTIONS_ALARM}"}
        ),
        "task cpu": int(c.task_definition.get("cpu", 0) or 0),
        "task memory": int(c.task_definition.get("memory", 0) or 0),
        "service desired count": c.service.get("desiredCount"),
        "scaling min capacity": one({t.get("MinCapacity") for t in c.scalable_targets}),
        "scaling max capacity": one({t.get("MaxCapacity") for t in c.scalable_targets}),
        "DB instance class": one({i.get("DBInstanceClass") for i in d.instances}),
        "DB backup retention days": d.cluster.get("BackupRetentionPeriod"),
        "DB deletion protection": bool(d.cluster.get("DeletionProtection")),
        "log retention days": one(
            {
                g.get("retentionInDays")
                for g in inv.storage.log_groups
                if str(g.get("logGroupName", "")).startswith(prefix)
            }
        ),
        "stack termination protection": inv.stack.termination_protection,
    }


def _configuration_view(inv: Inventory, spec: EnvironmentSpec) -> dict[str, Any]:
    """More of the configuration that no environment file varies (beyond the security view)."""
    norm = _Normaliser(inv, spec)
    c, s = inv.compute, inv.storage
    tg, svc, td = c.target_group, c.service, c.task_definition
    return {
        "target group": norm(
            {
                k: tg.get(k)
                for k in (
                    "Protocol",
                    "Port",
                    "TargetType",
                    "HealthCheckProtocol",
                    "HealthCheckPath",
                    "HealthCheckIntervalSeconds",
                    "HealthyThresholdCount",
                    "UnhealthyThresholdCount",
                    "Matcher",
                )
            }
        ),
        "listeners": sorted(f"{x.get('Protocol')}:{x.get('Port')}" for x in c.listeners),
        "load balancer": {k: c.load_balancer.get(k) for k in ("Scheme", "Type", "IpAddressType")},
        "service": {
            "launch type": svc.get("launchType"),
            "grace period": svc.get("healthCheckGracePeriodSeconds"),
            "propagate tags": svc.get("propagateTags"),
            "deployment": norm(svc.get("deploymentConfiguration")),
            "public ip": _public_ip(svc),
        },
        "task definition": {
            "network mode": td.get("networkMode"),
            "compatibilities": td.get("requiresCompatibilities"),
            "containers": norm(
                [
                    {
                        k: x.get(k)
                        for k in (
                            "name",
                            "image",
                            "portMappings",
                            "essential",
                            "readonlyRootFilesystem",
                            "logConfiguration",
                        )
                    }
                    for x in td.get("containerDefinitions", [])
                ]
            ),
        },
        "alarms": {
            _component(str(a.get("AlarmName", "")), norm.prefix): {
                k: (
                    "<declared>"
                    if k == "Threshold" and a.get("AlarmName") == f"{norm.prefix}-{DB_CONNECTIONS_ALARM}"
                    else norm(a.get(k))
                )
                for k in (
                    "MetricName",
                    "Namespace",
                    "Statistic",
                    "Period",
                    "EvaluationPeriods",
                    "Threshold",
                    "ComparisonOperator",
                    "TreatMissingData",
                    "ActionsEnabled",
                    "AlarmActions",
                )
            }
            for a in c.alarms
        },
        "bucket lifecycle": norm(s.lifecycle),
        "bucket ownership": norm(s.ownership),
        "bucket policy": norm(s.policy),
    }


def _which_log_groups(inv: Inventory, spec: EnvironmentSpec, attribute: str, declared: Any) -> str:
    """For the log retention: the log groups that keep another number of days."""
    if attribute != "log retention days":
        return ""
    prefix = f"payments-{spec.tier}-{spec.suffix}"
    odd = [
        f"{g.get('logGroupName')} keeps {g.get('retentionInDays', 'forever')}"
        for g in inv.storage.log_groups
        if str(g.get("logGroupName", "")).startswith(prefix) and g.get("retentionInDays") != declared
    ]
    return f" ({', '.join(odd)})" if odd else ""


@check(
    severity="medium",
    links=[
        primary(
            "PCI-DSS-4.0:2.2.1",
            "Environments differ only where their files declare it; any other difference is configuration outside the"
            " standard.",
        ),
    ],
    rationale="Environments differ only where their files declare it (sizes, retention, protection); else it is drift.",
)
def test_environments_differ_only_as_declared(
    inventories: dict[str, Inventory], specs, template_path: Path, evidence: Evidence
) -> None:
    template = load_template(template_path)  # the template this run deploys (--template), as the template suite reads
    problems = []
    declared_differences: dict[str, dict[str, Any]] = {}
    views: dict[str, dict[str, Any]] = {}
    for env, inv in inventories.items():
        spec = specs[env]
        declared, observed = _declared(spec, template), _observed_sizes(inv, spec)
        problems += [
            f"{env} {attribute} is {observed[attribute]}, its environment file declares {declared[attribute]}"
            + _which_log_groups(inv, spec, attribute, declared[attribute])
            for attribute in declared
            if observed[attribute] != declared[attribute]
        ]
        for attribute, value in declared.items():
            declared_differences.setdefault(attribute, {})[env] = value
        views[env] = _flat(
            {"security": _same_everywhere_view(inv, spec), "configuration": _configuration_view(inv, spec)}
        )
    for attribute, values in _differences(views).items():
        reference, odd = _odd_ones(values)
        problems += [f"{env} {attribute} is {values[env]} (the others {reference}), not declared" for env in odd]
    declared_differences = {
        a: v for a, v in declared_differences.items() if len({json.dumps(x) for x in v.values()}) > 1
    }
    evidence.attach("declared differences (environment files)", declared_differences)
    evidence.attach("compared view by environment", views)
    assert not problems, f"undeclared differences between environments: {'; '.join(problems)}"
