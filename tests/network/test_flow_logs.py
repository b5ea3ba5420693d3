"""Network suite: VPC flow logs and the log group they deliver to."""

from __future__ import annotations

from conformance.checks import check, primary
from conformance.evidence import Evidence
from conformance.inventory import Inventory
from conformance.inventory.shapes import FlowLog


def _group_name(flow: FlowLog) -> str:
    name = flow.get("LogGroupName") or str(flow.get("LogDestination", "")).split(":log-group:")[-1]
    return str(name).removesuffix(":*")


def _active_all(inv: Inventory) -> list[FlowLog]:
    return [
        f
        for f in inv.network.flow_logs
        if f.get("FlowLogStatus") == "ACTIVE"
        and f.get("TrafficType") == "ALL"
        and f.get("ResourceId") == inv.outputs.VPCId
    ]


@check(
    severity="high",
    links=[
        primary(
            "PCI-DSS-4.0:10.2.1",
            "An active flow log for ALL traffic is the network-level audit log of every connection to the CDE's "
            "components.",
        ),
        primary(
            "CIS-AWS-3.0:3.7",
            "CIS 3.7 asks for flow logging in every VPC; this observes it active on the environment's VPC.",
        ),
    ],
    rationale="An active VPC flow log records ALL traffic (accepted and rejected) for investigation.",
)
def test_vpc_flow_logs_capture_all_traffic(env_name: str, inv: Inventory, evidence: Evidence) -> None:
    net = inv.network
    evidence.attach("DescribeFlowLogs", net.flow_logs)
    found = [(f.get("FlowLogId"), f.get("FlowLogStatus"), f.get("TrafficType")) for f in net.flow_logs]
    assert _active_all(inv), (
        f"VPC {inv.outputs.VPCId} has no active flow log for ALL traffic (found {found or 'no flow logs'}), "
        "expected one with status ACTIVE and traffic type ALL"
    )


@check(
    severity="medium",
    links=[
        primary(
            "PCI-DSS-4.0:10.3.1",
            "Reading the flow logs takes kms:Decrypt on the environment key as well as log read rights, so the key "
            "policy bounds who can read them.",
        ),
    ],
    rationale="Flow logs deliver to a log group encrypted with the environment's KMS key, protected at rest.",
)
def test_vpc_flow_log_group_is_kms_encrypted(env_name: str, inv: Inventory, evidence: Evidence) -> None:
    net, storage = inv.network, inv.storage
    net.require("ec2:DescribeFlowLogs")
    active = _active_all(inv)
    groups = {g.get("logGroupName"): g for g in storage.log_groups}
    judged = {f["FlowLogId"]: groups.get(_group_name(f), {}) for f in active}
    evidence.attach("flow log groups", judged)
    assert active, f"VPC {inv.outputs.VPCId} has no active flow log for ALL traffic, so no log group to judge"
    for flow in active:
        name, group = _group_name(flow), judged[flow["FlowLogId"]]
        assert group, (
            f"flow log {flow['FlowLogId']} of VPC {inv.outputs.VPCId} delivers to log group {name}, "
            "which was not found; expected a KMS-encrypted log group"
        )
        assert storage.is_environment_key(group.get("kmsKeyId")), (
            f"flow log {flow['FlowLogId']} of VPC {inv.outputs.VPCId} delivers to log group {name}, which is "
            f"encrypted with {group.get('kmsKeyId') or 'no KMS key'}, expected the environment's key "
            f"{inv.outputs.KMSKeyArn}"
        )
