"""VPC fidelity: Elastic IPs, NAT gateways with addresses, VPC attributes, flow logs, SG rules.

Gaps measured in MiniStack 1.5.33 against deploy/template.yaml, each closed here:

* ``AWS::EC2::EIP`` and ``AWS::EC2::NatGateway`` have no CloudFormation handler (the stack
  is refused up front). Both now share EC2's own stores, so the API sees what the template made.
* ``describe_nat_gateways`` lists no addresses: each NAT gateway now reports its
  ``NatGatewayAddresses`` (allocation, public IP, a private IP in its subnet, ENI), and
  ``describe_addresses`` shows the association.
* Deleting a NAT gateway through the API leaves routes to it ``active``; on AWS they turn
  ``blackhole``.
* ``Fn::GetAtt VPC.CidrBlock`` is unsupported (the stack rolls back with an empty reason).
* ``AWS::EC2::FlowLog`` has no handler; it now creates a flow log in EC2's store (with the
  log group name, ``DeliverLogsStatus`` and ``MaxAggregationInterval`` reported as AWS does).
* ``AWS::EC2::SecurityGroupEgress`` / ``SecurityGroupIngress`` have no handler; they now add
  (and on delete revoke) one rule on their group, as AWS does.
"""

from __future__ import annotations

import ipaddress
import itertools
import logging

from faithful._ministack import resource_handlers

log = logging.getLogger("faithful.vpc")

_EIP_POOL = itertools.count(10)  # 203.0.113.0/24 and 198.51.100.0/24: documentation ranges


def _next_public_ip() -> str:
    n = next(_EIP_POOL)
    block = "203.0.113" if n < 250 else "198.51.100"
    return f"{block}.{n % 250 + 2}"


def _tags(props: dict) -> list[dict]:
    return [{"Key": str(t["Key"]), "Value": str(t["Value"])} for t in props.get("Tags") or [] if "Key" in t]


def _hex(n: int) -> str:
    import secrets

    return secrets.token_hex(9)[:n]


def install() -> None:
    from ministack.services import ec2
    from ministack.services.cloudformation import provisioners as prov

    handlers = resource_handlers()

    # ---------------------------------------------------------------- Elastic IP
    def eip_create(logical_id, props, stack_name):
        allocation_id = f"eipalloc-{_hex(17)}"
        public_ip = _next_public_ip()
        ec2._addresses[allocation_id] = {
            "AllocationId": allocation_id, "PublicIp": public_ip, "Domain": props.get("Domain", "vpc"),
            "AssociationId": None, "InstanceId": None, "NetworkInterfaceId": None, "PrivateIpAddress": None,
        }  # fmt: skip
        tags = _tags(props)
        if tags:
            ec2._tags[allocation_id] = tags
        return public_ip, {"AllocationId": allocation_id, "PublicIp": public_ip}

    def eip_delete(physical_id, props):
        for aid, addr in list(ec2._addresses.items()):
            if addr["PublicIp"] == physical_id or aid == physical_id:
                ec2._addresses.pop(aid, None)
                ec2._tags.pop(aid, None)

    handlers["AWS::EC2::EIP"] = {"create": eip_create, "delete": eip_delete}

    # ---------------------------------------------------------------- NAT gateway
    def _private_ip(subnet_id: str, taken: set[str]) -> str:
        subnet = ec2._subnets.get(subnet_id) or {}
        try:
            hosts = ipaddress.ip_network(subnet.get("CidrBlock", "10.0.0.0/24")).hosts()
        except ValueError:
            return "10.0.0.10"
        for i, host in enumerate(hosts):
            if i >= 3 and str(host) not in taken:  # AWS reserves the first addresses
                return str(host)
        return "10.0.0.10"

    def nat_create(logical_id, props, stack_name):
        subnet_id = props.get("SubnetId", "")
        allocation_id = props.get("AllocationId", "")
        addr = ec2._addresses.get(allocation_id)
        if addr is None and props.get("ConnectivityType", "public") == "public":
            raise ValueError(f"The allocation ID '{allocation_id}' does not exist")
        if addr is not None and addr.get("AssociationId"):
            raise ValueError(f"Elastic IP address [{allocation_id}] is already associated")
        nat_id = f"nat-{_hex(17)}"
        eni_id = f"eni-{_hex(17)}"
        taken = {a.get("PrivateIp", "") for n in ec2._nat_gateways.values() for a in n.get("NatGatewayAddresses", [])}
        private_ip = _private_ip(subnet_id, taken)
        subnet = ec2._subnets.get(subnet_id) or {}
        address = {
            "AllocationId": allocation_id, "NetworkInterfaceId": eni_id, "PrivateIp": private_ip,
            "PublicIp": addr["PublicIp"] if addr else "", "IsPrimary": True, "Status": "succeeded",
        }  # fmt: skip
        if addr is not None:
            addr.update(AssociationId=f"eipassoc-{_hex(17)}", NetworkInterfaceId=eni_id, PrivateIpAddress=private_ip)
        ec2._nat_gateways[nat_id] = {
            "NatGatewayId": nat_id, "SubnetId": subnet_id, "VpcId": subnet.get("VpcId", ""),
            "AllocationId": allocation_id, "ConnectivityType": props.get("ConnectivityType", "public"),
            "State": "available", "CreateTime": ec2._now_ts(), "Tags": _tags(props),
            "NatGatewayAddresses": [address],
        }  # fmt: skip
        if _tags(props):
            ec2._tags[nat_id] = _tags(props)
        return nat_id, {"NatGatewayId": nat_id}

    def _release_nat(nat_id: str) -> None:
        nat = ec2._nat_gateways.get(nat_id)
        if not nat:
            return
        nat["State"] = "deleted"
        for a in nat.get("NatGatewayAddresses", []):
            addr = ec2._addresses.get(a.get("AllocationId", ""))
            if addr is not None:
                addr.update(AssociationId=None, NetworkInterfaceId=None, PrivateIpAddress=None)
        for rtb in ec2._route_tables.values():
            for route in rtb.get("Routes", []):
                if route.get("NatGatewayId") == nat_id:
                    route["State"] = "blackhole"

    def nat_delete(physical_id, props):
        _release_nat(physical_id)
        ec2._nat_gateways.pop(physical_id, None)
        ec2._tags.pop(physical_id, None)

    handlers["AWS::EC2::NatGateway"] = {"create": nat_create, "delete": nat_delete}

    def _addresses_xml(nat: dict) -> str:
        items = "".join(
            f"""<item><allocationId>{a["AllocationId"]}</allocationId>
            <networkInterfaceId>{a["NetworkInterfaceId"]}</networkInterfaceId>
            <privateIp>{a["PrivateIp"]}</privateIp><publicIp>{a["PublicIp"]}</publicIp>
            <isPrimary>true</isPrimary><status>{a["Status"]}</status></item>"""
            for a in nat.get("NatGatewayAddresses", [])
        )
        return f"<natGatewayAddressSet>{items}</natGatewayAddressSet>"

    original_describe_nat = ec2._describe_nat_gateways

    def describe_nat_gateways(params):
        status, headers, body = original_describe_nat(params)
        text = body.decode("utf-8")
        for nat in ec2._nat_gateways.values():
            marker = f"<natGatewayId>{nat['NatGatewayId']}</natGatewayId>"
            start = text.find(marker)
            if start < 0:
                continue
            empty = text.find("<natGatewayAddressSet/>", start)
            if empty >= 0:
                text = text[:empty] + _addresses_xml(nat) + text[empty + len("<natGatewayAddressSet/>") :]
        return status, headers, text.encode("utf-8")

    original_delete_nat = ec2._delete_nat_gateway

    def delete_nat_gateway(params):
        result = original_delete_nat(params)
        if result[0] == 200:
            _release_nat(ec2._p(params, "NatGatewayId"))
        return result

    original_describe_addresses = ec2._describe_addresses

    def describe_addresses(params):
        status, headers, body = original_describe_addresses(params)
        text = body.decode("utf-8")
        for addr in ec2._addresses.values():
            if not addr.get("NetworkInterfaceId"):
                continue
            marker = f"<allocationId>{addr['AllocationId']}</allocationId>"
            extra = (
                f"<networkInterfaceId>{addr['NetworkInterfaceId']}</networkInterfaceId>"
                f"<privateIpAddress>{addr['PrivateIpAddress']}</privateIpAddress>"
                + (f"<associationId>{addr['AssociationId']}</associationId>" if "<associationId>" not in text else "")
            )
            text = text.replace(marker, marker + extra, 1)
        return status, headers, text.encode("utf-8")

    ec2._describe_nat_gateways = describe_nat_gateways
    ec2._delete_nat_gateway = delete_nat_gateway
    ec2._describe_addresses = describe_addresses
    ec2._ACTION_MAP["DescribeNatGateways"] = describe_nat_gateways
    ec2._ACTION_MAP["DeleteNatGateway"] = delete_nat_gateway
    ec2._ACTION_MAP["DescribeAddresses"] = describe_addresses

    # ---------------------------------------------------------------- VPC attributes
    vpc_handler = handlers["AWS::EC2::VPC"]
    original_vpc_create = vpc_handler["create"]

    original_vpc_update = vpc_handler["update"]

    def _with_cidr(physical_id, attrs, props):
        vpc = ec2._vpcs.get(physical_id) or {}
        attrs = dict(attrs or {})
        attrs.setdefault("CidrBlock", vpc.get("CidrBlock", props.get("CidrBlock", "")))
        attrs.setdefault("CidrBlockAssociations", [vpc.get("CidrBlockAssociationId") or f"vpc-cidr-assoc-{_hex(17)}"])
        attrs.setdefault("Ipv6CidrBlocks", [])
        attrs.setdefault("VpcId", physical_id)
        return physical_id, attrs

    def vpc_create(logical_id, props, stack_name):
        physical_id, attrs = original_vpc_create(logical_id, props, stack_name)
        return _with_cidr(physical_id, attrs, props)

    def vpc_update(physical_id, old_props, new_props, stack_name, logical_id=None):
        new_id, attrs = original_vpc_update(physical_id, old_props, new_props, stack_name, logical_id)
        return _with_cidr(new_id, attrs, new_props)

    vpc_handler["create"] = vpc_create
    vpc_handler["update"] = vpc_update
    prov._ec2_vpc_create = vpc_create
    prov._ec2_vpc_update = vpc_update

    # ---------------------------------------------------------------- flow logs
    def flow_log_create(logical_id, props, stack_name):
        fl_id = f"fl-{_hex(17)}"
        destination = props.get("LogDestination", "")
        group = props.get("LogGroupName") or (
            destination.split(":log-group:", 1)[-1].removesuffix(":*") if destination else ""
        )
        ec2._flow_logs[fl_id] = {
            "FlowLogId": fl_id, "ResourceId": props.get("ResourceId", ""),
            "ResourceType": props.get("ResourceType", "VPC"), "TrafficType": props.get("TrafficType", "ALL"),
            "LogDestinationType": props.get("LogDestinationType", "cloud-watch-logs"),
            "LogDestination": destination, "LogGroupName": group,
            "DeliverLogsPermissionArn": props.get("DeliverLogsPermissionArn", ""),
            "MaxAggregationInterval": int(props.get("MaxAggregationInterval", 600)),
            "FlowLogStatus": "ACTIVE", "DeliverLogsStatus": "SUCCESS", "CreationTime": ec2._now_ts(),
        }  # fmt: skip
        if _tags(props):
            ec2._tags[fl_id] = _tags(props)
        return fl_id, {"Id": fl_id}

    def flow_log_delete(physical_id, props):
        ec2._flow_logs.pop(physical_id, None)
        ec2._tags.pop(physical_id, None)

    handlers["AWS::EC2::FlowLog"] = {"create": flow_log_create, "delete": flow_log_delete}

    original_describe_flow_logs = ec2._describe_flow_logs

    def describe_flow_logs(params):
        status, headers, body = original_describe_flow_logs(params)
        text = body.decode("utf-8")
        for fl in ec2._flow_logs.values():
            marker = f"<flowLogId>{fl['FlowLogId']}</flowLogId>"
            extra = (
                f"<resourceType>{fl.get('ResourceType', 'VPC')}</resourceType>"
                f"<logGroupName>{fl.get('LogGroupName', '')}</logGroupName>"
                f"<deliverLogsStatus>{fl.get('DeliverLogsStatus', 'SUCCESS')}</deliverLogsStatus>"
                f"<deliverLogsPermissionArn>{fl.get('DeliverLogsPermissionArn', '')}</deliverLogsPermissionArn>"
                f"<maxAggregationInterval>{fl.get('MaxAggregationInterval', 600)}</maxAggregationInterval>"
            )
            text = text.replace(marker, marker + extra, 1)
        return status, headers, text.encode("utf-8")

    ec2._describe_flow_logs = describe_flow_logs
    ec2._ACTION_MAP["DescribeFlowLogs"] = describe_flow_logs

    # ---------------------------------------------------------------- standalone SG rules
    def _rule(props: dict) -> dict:
        keys = {"SourceSecurityGroupId", "DestinationSecurityGroupId", "CidrIp", "CidrIpv6", "Description",
                "IpProtocol", "FromPort", "ToPort", "SourcePrefixListId", "DestinationPrefixListId",
                "SourceSecurityGroupName", "SourceSecurityGroupOwnerId"}  # fmt: skip
        return prov._ec2_sg_permissions([{k: v for k, v in props.items() if k in keys}])[0]

    def rule_handlers(store_key: str) -> dict:
        def create(logical_id, props, stack_name):
            group_id = props.get("GroupId", "")
            group = ec2._security_groups.get(group_id)
            if group is None:
                raise ValueError(f"The security group '{group_id}' does not exist")
            rule = _rule(props)
            group.setdefault(store_key, []).append(rule)
            rule_id = f"sgr-{_hex(17)}"
            return rule_id, {"Id": rule_id}

        def delete(physical_id, props):
            group = ec2._security_groups.get(props.get("GroupId", ""))
            if group is None:
                return
            rule = _rule(props)
            perms = group.get(store_key, [])
            if rule in perms:
                perms.remove(rule)

        return {"create": create, "delete": delete}

    handlers["AWS::EC2::SecurityGroupEgress"] = rule_handlers("IpPermissionsEgress")
    handlers["AWS::EC2::SecurityGroupIngress"] = rule_handlers("IpPermissions")
    log.info("vpc extension installed")
