"""Network suite: the tier security groups, the default group and world-open ports."""

from __future__ import annotations

from conformance.checks import check, primary, supporting
from conformance.evidence import Evidence
from conformance.inventory import Inventory, ProbeError
from conformance.inventory.network import describe_rule, rule_covers_port, rule_open_to_world, rule_ports
from conformance.inventory.shapes import NetworkInterface, SecurityGroup

ADMIN_AND_DB_PORTS = (22, 3389, 3306)


def _group(inv: Inventory, component: str) -> SecurityGroup:
    """The stack's group ``payments-<env>-<suffix>-<component>``; the check fails plainly when it is missing."""
    name = f"{inv.stack_name}-{component}"
    group = next((g for g in inv.network.security_groups if g.get("GroupName") == name), SecurityGroup())
    assert group, f"security group {name} was not found in VPC {inv.outputs.VPCId}"
    return group


def _label(group: SecurityGroup) -> str:
    return f"{group.get('GroupId')} ({group.get('GroupName')})"


def _admits_only(group: SecurityGroup, port: int, source_group: str) -> list[str]:
    """Ingress rules of ``group`` other than tcp ``port`` from ``source_group`` alone."""
    return [
        describe_rule(p)
        for p in group.get("IpPermissions", [])
        if str(p.get("IpProtocol")) != "tcp"
        or rule_ports(p) != (port, port)
        or p.get("IpRanges") or p.get("Ipv6Ranges") or p.get("PrefixListIds")
        or {g.get("GroupId") for g in p.get("UserIdGroupPairs", [])} != {source_group}
    ]  # fmt: skip


@check(
    severity="medium",
    links=[
        primary(
            "CIS-AWS-3.0:5.4",
            "CIS 5.4 asks that the default security group restrict all traffic; this reads its rules.",
        ),
        supporting(
            "PCI-DSS-4.0:1.3.1",
            "Anything attached to the default group by mistake admits nothing, so inbound to the CDE stays "
            "deny-by-default.",
        ),
    ],
    rationale=(
        "The VPC's default security group has no rules, so nothing placed in it by default can talk; "
        "the template's custom resource revokes AWS's self-ingress and all-egress rules."
    ),
)
def test_default_security_group_has_no_rules(env_name: str, inv: Inventory, evidence: Evidence) -> None:
    net = inv.network
    default = net.default_security_group
    evidence.attach("default security group", default)
    assert default, f"the default security group of VPC {inv.outputs.VPCId} was not found"
    rules = [f"ingress {describe_rule(p)}" for p in default.get("IpPermissions", [])] + [
        f"egress {describe_rule(p)}" for p in default.get("IpPermissionsEgress", [])
    ]
    assert not rules, (
        f"default security group {_label(default)} of VPC {inv.outputs.VPCId} has rules: {'; '.join(rules)}; "
        "expected none (CIS 5.4)"
    )


@check(
    severity="high",
    links=[
        primary(
            "PCI-DSS-4.0:1.4.2",
            "The internet reaches the public service only on the two ports it offers (80/443); the group's rules are "
            "the evidence.",
        ),
        supporting("PCI-DSS-4.0:1.2.5", "The ports open to the internet are exactly the identified ones."),
    ],
    rationale="The load balancer's group admits only HTTP and HTTPS (from anywhere: it is the public entry point).",
)
def test_load_balancer_group_admits_only_http_and_https(env_name: str, inv: Inventory, evidence: Evidence) -> None:
    inv.network.require("ec2:DescribeSecurityGroups")
    alb = _group(inv, "alb-sg")
    evidence.attach("load balancer security group", alb)
    bad = [
        describe_rule(p)
        for p in alb.get("IpPermissions", [])
        if str(p.get("IpProtocol")) != "tcp" or rule_ports(p) not in ((80, 80), (443, 443))
    ]
    assert not bad, (
        f"load balancer security group {_label(alb)} admits {'; '.join(bad)}; expected only tcp 80 and tcp 443"
    )
    assert alb.get("IpPermissions"), f"load balancer security group {_label(alb)} admits nothing, expected tcp 80/443"


@check(
    severity="high",
    links=[
        primary(
            "PCI-DSS-4.0:1.3.1",
            "Inbound to the tasks that process card data is the container port from the load balancer alone; every "
            "other source and port is denied.",
        ),
    ],
    rationale="Application tasks admit only the container port, and only from the load balancer's group.",
)
def test_application_group_admits_only_container_port_from_load_balancer(
    env_name: str, inv: Inventory, spec, evidence: Evidence
) -> None:
    inv.network.require("ec2:DescribeSecurityGroups")
    app, alb = _group(inv, "app-sg"), _group(inv, "alb-sg")
    port = spec.parameters.ContainerPort
    evidence.attach("application security group", app)
    bad = _admits_only(app, port, alb["GroupId"])
    assert app.get("IpPermissions") and not bad, (
        f"application security group {_label(app)} admits {'; '.join(bad) or 'nothing'}; "
        f"expected only tcp {port} from the load balancer group {alb['GroupId']}"
    )


@check(
    severity="high",
    links=[
        primary(
            "PCI-DSS-4.0:1.3.1",
            "Inbound to the database that stores card data is MySQL from the application tier alone; every other "
            "source and port is denied.",
        ),
    ],
    rationale="The database admits MySQL only from the application tier's security group.",
)
def test_database_group_admits_only_mysql_from_application(env_name: str, inv: Inventory, evidence: Evidence) -> None:
    inv.network.require("ec2:DescribeSecurityGroups")
    db, app = _group(inv, "db-sg"), _group(inv, "app-sg")
    evidence.attach("database security group", db)
    bad = _admits_only(db, 3306, app["GroupId"])
    assert db.get("IpPermissions") and not bad, (
        f"database security group {_label(db)} admits {'; '.join(bad) or 'nothing'}; "
        f"expected only tcp 3306 from the application group {app['GroupId']}"
    )


@check(
    severity="critical",
    links=[
        primary("PCI-DSS-4.0:1.4.2", "No security group lets the internet reach SSH, RDP or MySQL on any component."),
        primary(
            "CIS-AWS-3.0:5.2",
            "CIS 5.2: no security group admits 0.0.0.0/0 to remote administration ports (22, 3389).",
        ),
        primary("CIS-AWS-3.0:5.3", "CIS 5.3: no security group admits ::/0 to remote administration ports (22, 3389)."),
    ],
    rationale="No security group in the VPC opens SSH, RDP or the database port to 0.0.0.0/0 or ::/0.",
)
def test_no_admin_or_database_port_open_to_the_world(env_name: str, inv: Inventory, evidence: Evidence) -> None:
    net = inv.network
    open_rules = [
        f"{_label(g)}: {describe_rule(p)}"
        for g in net.security_groups
        for p in g.get("IpPermissions", [])
        if rule_open_to_world(p) and any(rule_covers_port(p, port) for port in ADMIN_AND_DB_PORTS)
    ]
    evidence.attach("world-open rules covering 22/3389/3306", open_rules)
    assert not open_rules, (
        f"security groups of VPC {inv.outputs.VPCId} open admin or database ports to the world: "
        f"{'; '.join(open_rules)}; expected none of 22, 3389, 3306 open to 0.0.0.0/0 or ::/0"
    )


# ---- every group actually attached in the VPC, not only the ones the stack declares
# The ports the contract opens on the load balancer to the world (docs/platform.md), besides its listeners'.
PUBLIC_PORTS = (80, 443)


def _owner(eni: NetworkInterface) -> str:
    """What an ENI belongs to, as EC2 tells it (interface type, requester, description, instance)."""
    attachment = eni.get("Attachment") or {}
    parts = [
        str(eni.get("InterfaceType") or "interface"),
        f"requester {eni['RequesterId']}" if eni.get("RequesterId") else "",
        f"instance {attachment['InstanceId']}" if attachment.get("InstanceId") else "",
        repr(eni["Description"]) if eni.get("Description") else "",
    ]
    return ", ".join(p for p in parts if p)


def _attached(inv: Inventory) -> dict[str, list[NetworkInterface]]:
    """Group id → the network interfaces of the VPC that carry it."""
    by_group: dict[str, list[NetworkInterface]] = {}
    for eni in inv.network.network_interfaces:
        for g in eni.get("Groups") or []:
            by_group.setdefault(str(g.get("GroupId")), []).append(eni)
    return by_group


@check(
    severity="high",
    links=[
        primary(
            "PCI-DSS-4.0:1.2.8",
            "Every network interface carries only the reviewed security groups: the rule set in force is the "
            "configured one.",
        ),
        supporting("PCI-DSS-4.0:1.3.1", "No unreviewed group can open another way into the CDE."),
    ],
    rationale=(
        "Every network interface in the VPC (tasks, database, load balancer, anything) carries only security "
        "groups the stack declares, so no path into the network bypasses the reviewed rule set."
    ),
)
def test_attached_security_groups_are_declared_by_the_stack(env_name: str, inv: Inventory, evidence: Evidence) -> None:
    net = inv.network
    net.require("ec2:DescribeNetworkInterfaces")
    declared = set(inv.stack.physical_ids("AWS::EC2::SecurityGroup"))
    enis = net.network_interfaces
    evidence.attach(
        "network interfaces and their groups",
        {e.get("NetworkInterfaceId"): {"owner": _owner(e), "groups": e.get("Groups")} for e in enis},
    )
    assert enis, (
        f"VPC {inv.outputs.VPCId} has no network interface, expected those of the tasks, database and load balancer"
    )
    undeclared = [
        f"{e.get('NetworkInterfaceId')} ({_owner(e)}) in {e.get('SubnetId')} carries "
        f"{g.get('GroupId')} ({g.get('GroupName')})"
        for e in enis
        for g in e.get("Groups") or []
        if g.get("GroupId") not in declared
    ]
    assert not undeclared, (
        f"network interfaces of VPC {inv.outputs.VPCId} carry security groups {inv.stack_name} does not declare: "
        f"{'; '.join(undeclared)}; expected only the stack's groups {', '.join(sorted(declared)) or 'none'}"
    )


@check(
    severity="critical",
    links=[
        primary(
            "PCI-DSS-4.0:1.4.2",
            "Of every group attached in the VPC, only the load balancer's admits the internet, and only on its "
            "listener ports.",
        ),
        supporting("CIS-AWS-3.0:5.2", "No attached group admits 0.0.0.0/0 on an administration port."),
        supporting("CIS-AWS-3.0:5.3", "No attached group admits ::/0 on an administration port."),
    ],
    rationale=(
        "Of all security groups attached in the VPC, only the load balancer's admits the world (0.0.0.0/0, ::/0), "
        "and only on its listener ports and the contract's HTTP/HTTPS."
    ),
)
def test_only_the_load_balancer_group_admits_the_world(env_name: str, inv: Inventory, evidence: Evidence) -> None:
    net, compute = inv.network, inv.compute
    net.require("ec2:DescribeNetworkInterfaces", "ec2:DescribeSecurityGroups")
    compute.require("elasticloadbalancing:DescribeLoadBalancers", "elasticloadbalancing:DescribeListeners")
    lb_groups = set(compute.load_balancer.get("SecurityGroups") or [])
    public_ports = set(PUBLIC_PORTS) | {int(li["Port"]) for li in compute.listeners if li.get("Port")}
    attached = _attached(inv)
    evidence.attach(
        "attached groups",
        {"load balancer groups": sorted(lb_groups), "public ports": sorted(public_ports), "attached": sorted(attached)},
    )
    bad = []
    for group_id, enis in sorted(attached.items()):
        group = net.security_group(group_id)
        if not group:  # e.g. made between the two reads: its rules are unknown, never taken as none
            raise ProbeError(
                f"security group {group_id} on {enis[0].get('NetworkInterfaceId')} ({_owner(enis[0])}) "
                f"was not among the groups described in VPC {inv.outputs.VPCId}"
            )
        name = group.get("GroupName")
        where = f"{group_id} ({name}) on {enis[0].get('NetworkInterfaceId')} ({_owner(enis[0])})"
        for p in group.get("IpPermissions", []):
            if not rule_open_to_world(p):
                continue
            ports = rule_ports(p)
            on_listener = (
                group_id in lb_groups
                and str(p.get("IpProtocol")) in ("tcp", "6")
                and ports is not None
                and all(port in public_ports for port in range(ports[0], ports[1] + 1))
            )
            if not on_listener:
                bad.append(f"{where}: {describe_rule(p)}")
    shown_ports = ", ".join(map(str, sorted(public_ports)))
    assert not bad, (
        f"security groups attached in VPC {inv.outputs.VPCId} admit the world: {'; '.join(bad)}; expected only the "
        f"load balancer's groups {', '.join(sorted(lb_groups)) or 'none'} on tcp {shown_ports}"
    )
