"""Network suite: VPC endpoints and the application's egress (PCI DSS 1.3.2: outbound from the CDE only as needed).

The tasks reach the AWS services they use (ECR for the image, CloudWatch Logs for their logs,
Secrets Manager for the database credentials, S3 for image layers and the transaction bucket)
through VPC endpoints, and their security group lets them reach nothing else but the database.
"""

from __future__ import annotations

from conformance.checks import check, primary, supporting
from conformance.evidence import Evidence
from conformance.inventory import Inventory, ProbeError
from conformance.inventory.network import describe_rule, rule_ports
from conformance.inventory.shapes import IpPermission, SecurityGroup, VpcEndpoint
from conformance.policies import PolicyError, endpoint_outside_grants

# The interface endpoints the Fargate tasks need (docs/platform.md, "Egress"): the image's registry
# API and Docker endpoint, the awslogs driver, and the task definition's secrets. KMS and STS are not
# called from the tasks (Secrets Manager and S3 call KMS for them; ECS hands out the role's credentials).
INTERFACE_SERVICES = ("ecr.api", "ecr.dkr", "logs", "secretsmanager")
HTTPS, MYSQL = 443, 3306


def _label(endpoint: VpcEndpoint) -> str:
    return f"{endpoint.get('VpcEndpointId')} ({endpoint.get('ServiceName')})"


def _group_label(group: SecurityGroup) -> str:
    return f"{group.get('GroupId')} ({group.get('GroupName')})"


def _application_groups(inv: Inventory) -> dict[str, str]:
    """Group id → where it was seen: the groups on the running tasks' ENIs, and those the service gives new tasks."""
    net, compute = inv.network, inv.compute
    net.require("ec2:DescribeNetworkInterfaces")
    compute.require("ecs:DescribeServices", "ecs:ListTasks", "ecs:DescribeTasks")
    seen: dict[str, str] = {}
    enis = {e.get("NetworkInterfaceId"): e for e in net.network_interfaces}
    for task, eni_id in sorted(compute.task_eni_ids.items()):
        eni = enis.get(eni_id)
        if not eni_id or eni is None:
            raise ProbeError(f"the network interface {eni_id or '(none)'} of task {task} is not among VPC "
                             f"{inv.outputs.VPCId}'s interfaces")  # fmt: skip
        for g in eni.get("Groups") or []:
            seen.setdefault(str(g.get("GroupId")), f"on task ENI {eni_id}")
    cfg = compute.service.get("networkConfiguration", {}).get("awsvpcConfiguration", {})
    for group_id in cfg.get("securityGroups") or []:
        seen.setdefault(group_id, f"in service {inv.outputs.ECSServiceName}'s network configuration")
    if not seen:
        raise ProbeError(f"service {inv.outputs.ECSServiceName} has no task and no security group to judge")
    return seen


@check(
    severity="high",
    operational=(
        "availability: with egress narrowed to the endpoints, a missing, unavailable or unresolvable endpoint in "
        "an AZ stops that AZ's tasks from pulling their image, reading their secret and shipping their logs"
    ),
    rationale=(
        "ECR (api and dkr), CloudWatch Logs and Secrets Manager each have an available interface endpoint in the "
        "VPC with private DNS on, in every private subnet (one per AZ)."
    ),
)
def test_interface_endpoints_in_every_private_subnet(env_name: str, inv: Inventory, evidence: Evidence) -> None:
    net = inv.network
    net.require("ec2:DescribeVpcEndpoints", "ec2:DescribeSubnets")
    private = net.private_subnet_ids
    evidence.attach("interface endpoints", {s: net.endpoints_for(s) for s in INTERFACE_SERVICES})
    problems = []
    for service in INTERFACE_SERVICES:
        name = f"com.amazonaws.{net.region}.{service}"
        found = [e for e in net.endpoints_for(service) if e.get("VpcEndpointType") == "Interface"]
        if not found:
            problems.append(f"no interface endpoint for {name}")
            continue
        for endpoint in found:
            missing = [f"{s} ({net.zone_of(s)})" for s in private if s not in (endpoint.get("SubnetIds") or [])]
            faults = [f"state {endpoint.get('State')}"] if str(endpoint.get("State", "")).lower() != "available" else []
            faults += ["private DNS off"] if not endpoint.get("PrivateDnsEnabled") else []
            faults += [f"not in private subnets {', '.join(missing)}"] if missing else []
            if faults:
                problems.append(f"{_label(endpoint)}: {'; '.join(faults)}")
    assert not problems, (
        f"VPC {inv.outputs.VPCId}'s interface endpoints fall short: {'; '.join(problems)}; expected for each of "
        f"{', '.join(INTERFACE_SERVICES)} an available endpoint with private DNS on in every private subnet "
        f"({', '.join(private)})"
    )


@check(
    severity="high",
    links=[
        primary(
            "PCI-DSS-4.0:1.3.2",
            "S3 traffic from the private subnets takes the gateway endpoint, whose policy admits only the account's "
            "buckets, instead of the NAT gateway to any bucket on the internet.",
        ),
    ],
    rationale=(
        "The S3 gateway endpoint is available and on every private subnet's route table, each with its route to "
        "S3's prefix list through the endpoint."
    ),
)
def test_s3_gateway_endpoint_on_every_private_route_table(env_name: str, inv: Inventory, evidence: Evidence) -> None:
    net = inv.network
    net.require("ec2:DescribeVpcEndpoints", "ec2:DescribeRouteTables", "ec2:DescribePrefixLists")
    prefix_list = net.s3_prefix_list.get("PrefixListId")
    if not prefix_list:
        raise ProbeError(f"EC2 named no prefix list com.amazonaws.{net.region}.s3 in {net.region}")
    gateways = [
        e for e in net.endpoints_for("s3")
        if e.get("VpcEndpointType") == "Gateway" and str(e.get("State", "")).lower() == "available"
    ]  # fmt: skip
    evidence.attach("S3 gateway endpoints", net.endpoints_for("s3"))
    assert gateways, (
        f"VPC {inv.outputs.VPCId} has no available gateway endpoint for com.amazonaws.{net.region}.s3; expected one "
        f"on every private route table"
    )
    problems = []
    for subnet in net.private_subnet_ids:
        table = net.route_table_for(subnet)
        table_id = table.get("RouteTableId")
        routed = {
            str(r.get("GatewayId")) for r in table.get("Routes", [])
            if r.get("DestinationPrefixListId") == prefix_list and str(r.get("State", "active")) == "active"
        }  # fmt: skip
        if not any(table_id in (e.get("RouteTableIds") or []) and e.get("VpcEndpointId") in routed for e in gateways):
            problems.append(f"route table {table_id} of private subnet {subnet}")
    assert not problems, (
        f"the S3 gateway endpoint {', '.join(str(e.get('VpcEndpointId')) for e in gateways)} of VPC "
        f"{inv.outputs.VPCId} is missing from {'; '.join(problems)}; expected it on each, with an active route to "
        f"{prefix_list} through it"
    )


@check(
    severity="medium",
    links=[
        primary(
            "PCI-DSS-4.0:1.2.5",
            "The one protocol and port the endpoints accept (HTTPS) from the one source that needs them (the tasks) "
            "is the identified one.",
        ),
        supporting("PCI-DSS-4.0:1.3.2", "Only the tasks can use the endpoints' path out of the VPC."),
    ],
    rationale="The interface endpoints' security groups admit only HTTPS, and only from the application's group.",
)
def test_endpoint_group_admits_only_https_from_application(env_name: str, inv: Inventory, evidence: Evidence) -> None:
    net = inv.network
    net.require("ec2:DescribeVpcEndpoints", "ec2:DescribeSecurityGroups")
    apps = _application_groups(inv)
    endpoints = [e for s in INTERFACE_SERVICES for e in net.endpoints_for(s)]
    groups = {str(g.get("GroupId")): e for e in endpoints for g in e.get("Groups") or []}
    evidence.attach("endpoint groups", {"application groups": apps, "endpoint groups": sorted(groups)})
    assert groups, f"the interface endpoints of VPC {inv.outputs.VPCId} carry no security group"
    bad = []
    for group_id, endpoint in sorted(groups.items()):
        group = net.security_group(group_id)
        if not group:
            raise ProbeError(f"security group {group_id} of endpoint {_label(endpoint)} was not among VPC "
                             f"{inv.outputs.VPCId}'s groups")  # fmt: skip
        rules = group.get("IpPermissions", [])
        wrong = [
            describe_rule(p) for p in rules
            if str(p.get("IpProtocol")) != "tcp" or rule_ports(p) != (HTTPS, HTTPS)
            or p.get("IpRanges") or p.get("Ipv6Ranges") or p.get("PrefixListIds")
            or not {str(g.get("GroupId")) for g in p.get("UserIdGroupPairs", [])} <= set(apps)
        ]  # fmt: skip
        if wrong or not rules:
            bad.append(f"{_group_label(group)} of {_label(endpoint)} admits {'; '.join(wrong) or 'nothing'}")
    assert not bad, (
        f"endpoint security groups in VPC {inv.outputs.VPCId}: {'; '.join(bad)}; expected only tcp 443 from the "
        f"application's groups {', '.join(sorted(apps))}"
    )


@check(
    severity="high",
    links=[
        primary(
            "PCI-DSS-4.0:1.3.2",
            "What leaves the CDE through the endpoints is limited to the account's principals acting on the "
            "account's resources: no copy of card data to another account's bucket or registry.",
        ),
        supporting("PCI-DSS-4.0:7.2.1", "The endpoints admit only the account's own identities."),
    ],
    rationale=(
        "No VPC endpoint policy lets anyone but the account's principals through (aws:PrincipalAccount), except "
        "the one statement AWS documents for ECR's image layers (s3:GetObject on ECR's layer bucket)."
    ),
)
def test_endpoint_policies_grant_nothing_outside_the_account(env_name: str, inv: Inventory, evidence: Evidence) -> None:
    net = inv.network
    net.require("ec2:DescribeVpcEndpoints")
    endpoints = net.vpc_endpoints
    evidence.attach("endpoint policies", {_label(e): e.get("PolicyDocument") for e in endpoints})
    assert endpoints, f"VPC {inv.outputs.VPCId} has no VPC endpoint, expected those of ECR, Logs, Secrets Manager, S3"
    findings = []
    for endpoint in endpoints:
        try:
            grants = endpoint_outside_grants(endpoint.get("PolicyDocument"), inv.account, net.region)
        except PolicyError as exc:
            raise ProbeError(f"could not read the policy of endpoint {_label(endpoint)}: {exc}") from None
        if not endpoint.get("PolicyDocument"):
            findings.append(f"{_label(endpoint)}: no policy (AWS's default admits everyone)")
        findings += [f"{_label(endpoint)}: {grant}" for grant in grants]
    assert not findings, (
        f"VPC endpoint policies let more than account {inv.account} through: {'; '.join(findings)}; expected "
        "Principal * only under aws:PrincipalAccount (with aws:ResourceAccount where the service supports it)"
    )


def _egress_atoms(permission: IpPermission) -> list[tuple[str, str]]:
    """(kind, destination) for each destination of one egress rule."""
    dests: list[tuple[str, str]] = (
        [("cidr", str(r.get("CidrIp"))) for r in permission.get("IpRanges", [])]
        + [("cidr", str(r.get("CidrIpv6"))) for r in permission.get("Ipv6Ranges", [])]
        + [("group", str(g.get("GroupId"))) for g in permission.get("UserIdGroupPairs", [])]
        + [("prefix", str(p.get("PrefixListId"))) for p in permission.get("PrefixListIds", [])]
    )
    return dests or [("none", "nowhere")]


@check(
    severity="high",
    links=[
        primary(
            "PCI-DSS-4.0:1.3.2",
            "Outbound from the tasks that process card data is HTTPS to the endpoints and S3's prefix list and "
            "MySQL to the database; nothing else, nothing to 0.0.0.0/0 or ::/0.",
        ),
        supporting("PCI-DSS-4.0:1.2.5", "Every port the tasks may open outbound is an identified, needed one."),
    ],
    rationale=(
        "The security groups on the tasks' network interfaces allow egress only to the interface endpoints' group "
        "(tcp 443), S3's prefix list (tcp 443) and the database's group (tcp 3306): never to 0.0.0.0/0 or ::/0."
    ),
)
def test_application_egress_only_to_endpoints_s3_and_database(
    env_name: str, inv: Inventory, evidence: Evidence
) -> None:
    net, db = inv.network, inv.database
    net.require("ec2:DescribeSecurityGroups", "ec2:DescribeVpcEndpoints", "ec2:DescribePrefixLists")
    db.require("rds:DescribeDBClusters")
    apps = _application_groups(inv)
    endpoint_groups = {str(g.get("GroupId")) for s in INTERFACE_SERVICES for e in net.endpoints_for(s)
                       for g in e.get("Groups") or []}  # fmt: skip
    db_groups = {str(g.get("VpcSecurityGroupId")) for g in db.cluster.get("VpcSecurityGroups") or []}
    s3_list = str(net.s3_prefix_list.get("PrefixListId") or "")
    if not s3_list:
        raise ProbeError(f"EC2 named no prefix list com.amazonaws.{net.region}.s3 in {net.region}")
    allowed = {("group", g, HTTPS) for g in endpoint_groups} | {("prefix", s3_list, HTTPS)}
    allowed |= {("group", g, MYSQL) for g in db_groups}
    evidence.attach(
        "application egress",
        {"application groups": apps, "allowed": sorted(f"{k} {d} tcp {p}" for k, d, p in allowed)},
    )
    bad = []
    for group_id, where in sorted(apps.items()):
        group = net.security_group(group_id)
        if not group:
            raise ProbeError(f"security group {group_id} {where} was not among VPC {inv.outputs.VPCId}'s groups")
        for p in group.get("IpPermissionsEgress", []):
            ports = rule_ports(p)
            single = ports[0] if ports is not None and ports[0] == ports[1] else None
            for kind, dest in _egress_atoms(p):
                if str(p.get("IpProtocol")) not in ("tcp", "6") or (kind, dest, single) not in allowed:
                    rule = describe_rule(p).replace(" from ", " to ", 1)
                    bad.append(f"{_group_label(group)} {where}: {rule} (destination {dest})")
    assert not bad, (
        f"application egress in VPC {inv.outputs.VPCId} goes beyond what the tasks need: {'; '.join(bad)}; expected "
        f"only tcp 443 to the endpoints' groups {', '.join(sorted(endpoint_groups)) or '(none found)'} and to S3's "
        f"prefix list {s3_list}, tcp 3306 to the database's groups {', '.join(sorted(db_groups)) or '(none found)'}"
    )
