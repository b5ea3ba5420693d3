"""Drifts for the VPC endpoints and the application's egress (tests/network/test_endpoints.py)."""

from __future__ import annotations

import json
from typing import Any

from selftests.drifts.registry import DriftContext, drift


def _ec2(ctx: DriftContext) -> Any:
    return ctx.client("ec2")


def _endpoint(ctx: DriftContext, service: str) -> dict[str, Any]:
    """The VPC's endpoint for ``com.amazonaws.<region>.<service>``."""
    by = [
        {"Name": "vpc-id", "Values": [ctx.outputs.VPCId]},
        {"Name": "service-name", "Values": [f"com.amazonaws.{ctx.spec.region}.{service}"]},
    ]
    return dict(_ec2(ctx).describe_vpc_endpoints(Filters=by)["VpcEndpoints"][0])


def _group(ctx: DriftContext, component: str) -> str:
    name = f"payments-{ctx.outputs.EnvironmentName}-{ctx.outputs.EnvironmentSuffix}-{component}"
    groups = _ec2(ctx).describe_security_groups(Filters=[{"Name": "vpc-id", "Values": [ctx.outputs.VPCId]}])
    return str(next(g["GroupId"] for g in groups["SecurityGroups"] if g["GroupName"] == name))


def _private_table(ctx: DriftContext, index: int) -> str:
    by = [{"Name": "association.subnet-id", "Values": [ctx.outputs.PrivateSubnetIds[index]]}]
    return str(_ec2(ctx).describe_route_tables(Filters=by)["RouteTables"][0]["RouteTableId"])


# ------------------------------------------------------------------ interface endpoints
@drift(
    "test_interface_endpoints_in_every_private_subnet",
    "the CloudWatch Logs interface endpoint is deleted (the tasks' logs have no way out)",
    id="net-logs-endpoint-deleted",
    names=lambda ctx: f"no interface endpoint for com.amazonaws.{ctx.spec.region}.logs",
)
def drift_logs_endpoint_deleted(ctx: DriftContext) -> None:
    _ec2(ctx).delete_vpc_endpoints(VpcEndpointIds=[_endpoint(ctx, "logs")["VpcEndpointId"]])


@drift(
    "test_interface_endpoints_in_every_private_subnet",
    "private DNS is switched off on the ECR Docker endpoint (image pulls resolve to public addresses)",
    id="net-ecr-endpoint-private-dns-off",
    names=lambda ctx: f"{_endpoint(ctx, 'ecr.dkr')['VpcEndpointId']} (com.amazonaws.{ctx.spec.region}.ecr.dkr)",
)
def drift_ecr_endpoint_private_dns_off(ctx: DriftContext) -> None:
    endpoint_id = _endpoint(ctx, "ecr.dkr")["VpcEndpointId"]
    _ec2(ctx).modify_vpc_endpoint(VpcEndpointId=endpoint_id, PrivateDnsEnabled=False)


@drift(
    "test_interface_endpoints_in_every_private_subnet",
    "the Secrets Manager endpoint is taken out of the third private subnet (that AZ's tasks lose it)",
    id="net-secrets-endpoint-subnet-removed",
    names=lambda ctx: f"not in private subnets {ctx.outputs.PrivateSubnetIds[2]}",
)
def drift_secrets_endpoint_subnet_removed(ctx: DriftContext) -> None:
    endpoint_id = _endpoint(ctx, "secretsmanager")["VpcEndpointId"]
    _ec2(ctx).modify_vpc_endpoint(VpcEndpointId=endpoint_id, RemoveSubnetIds=[ctx.outputs.PrivateSubnetIds[2]])


# ------------------------------------------------------------------ S3 gateway endpoint
@drift(
    "test_s3_gateway_endpoint_on_every_private_route_table",
    "the S3 gateway endpoint is removed from the second private route table (S3 traffic falls back to the NAT)",
    id="net-s3-endpoint-route-table-removed",
    names=lambda ctx: f"route table {_private_table(ctx, 1)} of private subnet {ctx.outputs.PrivateSubnetIds[1]}",
)
def drift_s3_endpoint_route_table_removed(ctx: DriftContext) -> None:
    endpoint_id = _endpoint(ctx, "s3")["VpcEndpointId"]
    _ec2(ctx).modify_vpc_endpoint(VpcEndpointId=endpoint_id, RemoveRouteTableIds=[_private_table(ctx, 1)])


@drift(
    "test_s3_gateway_endpoint_on_every_private_route_table",
    "the S3 gateway endpoint is deleted",
    id="net-s3-endpoint-deleted",
    names=lambda ctx: f"no available gateway endpoint for com.amazonaws.{ctx.spec.region}.s3",
)
def drift_s3_endpoint_deleted(ctx: DriftContext) -> None:
    _ec2(ctx).delete_vpc_endpoints(VpcEndpointIds=[_endpoint(ctx, "s3")["VpcEndpointId"]])


# ------------------------------------------------------------------ endpoint security group
@drift(
    "test_endpoint_group_admits_only_https_from_application",
    "the endpoints' group admits HTTPS from the VPC's whole CIDR (any ENI in the VPC may use the endpoints)",
    id="net-endpoint-sg-widened",
    names=lambda ctx: _group(ctx, "vpce-sg"),
)
def drift_endpoint_sg_widened(ctx: DriftContext) -> None:
    _ec2(ctx).authorize_security_group_ingress(
        GroupId=_group(ctx, "vpce-sg"),
        IpPermissions=[{"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443,
                        "IpRanges": [{"CidrIp": ctx.spec.parameters.VpcCidr}]}],
    )  # fmt: skip


# ------------------------------------------------------------------ endpoint policies
@drift(
    "test_endpoint_policies_grant_nothing_outside_the_account",
    "the Secrets Manager endpoint's policy is replaced by one allowing everything to Principal *",
    id="net-endpoint-policy-open",
    names=lambda ctx: _endpoint(ctx, "secretsmanager")["VpcEndpointId"],
)
def drift_endpoint_policy_open(ctx: DriftContext) -> None:
    policy = {"Version": "2012-10-17", "Statement": [
        {"Sid": "Open", "Effect": "Allow", "Principal": "*", "Action": "*", "Resource": "*"}]}  # fmt: skip
    endpoint_id = _endpoint(ctx, "secretsmanager")["VpcEndpointId"]
    _ec2(ctx).modify_vpc_endpoint(VpcEndpointId=endpoint_id, PolicyDocument=json.dumps(policy))


@drift(
    "test_endpoint_policies_grant_nothing_outside_the_account",
    "the S3 gateway endpoint's policy is reset to AWS's default (full access for everyone)",
    id="net-s3-endpoint-policy-reset",
    names=lambda ctx: _endpoint(ctx, "s3")["VpcEndpointId"],
)
def drift_s3_endpoint_policy_reset(ctx: DriftContext) -> None:
    _ec2(ctx).modify_vpc_endpoint(VpcEndpointId=_endpoint(ctx, "s3")["VpcEndpointId"], ResetPolicy=True)


# ------------------------------------------------------------------ application egress
@drift(
    "test_application_egress_only_to_endpoints_s3_and_database",
    "the application's group is given egress to 0.0.0.0/0 on tcp 443 (the tasks may reach any host on the internet)",
    id="net-app-egress-world-443",
    names=lambda ctx: (
        f"{_group(ctx, 'app-sg')} (payments-{ctx.outputs.EnvironmentName}-"
        f"{ctx.outputs.EnvironmentSuffix}-app-sg) on task ENI"
    ),
)
def drift_app_egress_world_443(ctx: DriftContext) -> None:
    _ec2(ctx).authorize_security_group_egress(
        GroupId=_group(ctx, "app-sg"),
        IpPermissions=[{"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}],
    )


@drift(
    "test_application_egress_only_to_endpoints_s3_and_database",
    "the application's group is given egress to ::/0 on every protocol",
    id="net-app-egress-world-ipv6",
    names=lambda ctx: "destination ::/0",
)
def drift_app_egress_world_ipv6(ctx: DriftContext) -> None:
    _ec2(ctx).authorize_security_group_egress(
        GroupId=_group(ctx, "app-sg"), IpPermissions=[{"IpProtocol": "-1", "Ipv6Ranges": [{"CidrIpv6": "::/0"}]}]
    )


@drift(
    "test_application_egress_only_to_endpoints_s3_and_database",
    "the service's tasks are moved to a new group, declared by nobody, that allows all egress (AWS's default)",
    id="net-app-tasks-moved-to-open-group",
    names=lambda ctx: "payments-drift-open-egress",
)
def drift_app_tasks_moved_to_open_group(ctx: DriftContext) -> None:
    ec2 = _ec2(ctx)
    group = ec2.create_security_group(
        GroupName="payments-drift-open-egress", Description="all egress", VpcId=ctx.outputs.VPCId
    )["GroupId"]
    ctx.client("ecs").update_service(
        cluster=ctx.outputs.ECSClusterName, service=ctx.outputs.ECSServiceName,
        networkConfiguration={"awsvpcConfiguration": {
            "subnets": ctx.outputs.PrivateSubnetIds, "securityGroups": [group], "assignPublicIp": "DISABLED"}},
    )  # fmt: skip
