"""Security group rules: a standalone rule is the rule EC2 reports; a duplicate is refused.

``vpc.py`` gives ``AWS::EC2::SecurityGroupIngress`` / ``SecurityGroupEgress`` their
CloudFormation handlers (the rule is added to, and on delete removed from, its group).
Gaps in MiniStack 1.5.33 that remained, closed here:

1. The physical id (``Ref``, ``GetAtt Id``) of a standalone rule was a random ``sgr-``
   that no EC2 call knew; on AWS it is the rule's ``SecurityGroupRuleId``, the id
   ``describe_security_group_rules`` reports and ``revoke_security_group_*`` accepts. Here
   the handler's result is replaced by the id of the rule it added, pinned on the rule so
   it never changes.
2. ``AuthorizeSecurityGroupIngress`` / ``Egress`` of a rule the group already has answered
   success (MiniStack made it idempotent for Terraform's sake). AWS refuses it with
   ``InvalidPermission.Duplicate``, e.g. re-authorizing the default allow-all egress, or a
   drift opening a port that is already open. Here the API does the same (the whole call
   fails, nothing is added); descriptions do not count, as on AWS.
3. The EC2 API's ``IpPermissions`` parser read no ``PrefixListIds.N.PrefixListId``: an
   ``AuthorizeSecurityGroupEgress`` to a prefix list (S3's, as the application's egress names
   it) added a rule with no destination, and a revoke by prefix list removed nothing. Here the
   prefix lists (with their descriptions) are parsed into the rule, as AWS reads them.
4. A revoke matched a rule only when its prefix lists and group pairs were written exactly as
   stored: their ``Description`` (and a pair's ``UserId``, which the stack's rules carry)
   counted, so revoking S3's prefix list, or a group, as AWS accepts it answered success and
   removed nothing. Here rules compare as AWS does: without descriptions, a pair by its group.

Checked and already right (``test_ec2_rules.py``): inline ``SecurityGroupIngress`` /
``SecurityGroupEgress`` of ``AWS::EC2::SecurityGroup`` with ``SourceSecurityGroupId`` in
``UserIdGroupPairs``; an inline egress list replaces the default allow-all egress, while a
group with none keeps it; a standalone egress rule leaves the default in place; API drifts
(authorize 0.0.0.0/0 on 22, revoke by permission or by rule id) are visible in
``describe_security_groups`` and ``describe_security_group_rules``.
"""

from __future__ import annotations

import logging

log = logging.getLogger("faithful.ec2_rules")

_installed = False

_RULE_TYPES = {"AWS::EC2::SecurityGroupIngress": False, "AWS::EC2::SecurityGroupEgress": True}
_PROTOCOLS = {"6": "tcp", "17": "udp", "1": "icmp", "58": "icmpv6", "all": "-1"}


def _atoms(rule: dict) -> set[tuple]:
    """One (protocol, from, to, peer) per peer of a rule: what AWS counts as one rule."""
    proto = str(rule.get("IpProtocol", "-1")).lower()
    proto = _PROTOCOLS.get(proto, proto)
    raw = (None, None) if proto == "-1" else (rule.get("FromPort"), rule.get("ToPort"))
    ports = tuple(None if p is None else int(p) for p in raw)
    peers = (
        [("cidr", r.get("CidrIp")) for r in rule.get("IpRanges") or []]
        + [("cidr6", r.get("CidrIpv6")) for r in rule.get("Ipv6Ranges") or []]
        + [("group", r.get("GroupId") or r.get("GroupName")) for r in rule.get("UserIdGroupPairs") or []]
        + [("prefix", r.get("PrefixListId")) for r in rule.get("PrefixListIds") or []]
    )
    return {(proto, *ports, peer) for peer in peers}


def _duplicate_message(atom: tuple) -> str:
    proto, low, high, (_kind, peer) = atom
    ports = "" if low is None else f", from port: {low}, to port: {high}"
    label = proto.upper() if proto != "-1" else "ALL"
    return f'the specified rule "peer: {peer}, {label}{ports}, ALLOW" already exists'


def _wrap_authorize(action: str, egress: bool) -> None:
    """Gap 2."""
    from ministack.services import ec2

    original = ec2._ACTION_MAP[action]
    key = "IpPermissionsEgress" if egress else "IpPermissions"

    def authorize(params):
        group = ec2._security_groups.get(ec2._p(params, "GroupId"))
        if group is not None:
            wanted = set().union(*(_atoms(r) for r in ec2._parse_ip_permissions(params, "IpPermissions")))
            present = set().union(*(_atoms(r) for r in group.get(key) or []))
            clash = sorted(wanted & present, key=str)
            if clash:
                return ec2._error("InvalidPermission.Duplicate", _duplicate_message(clash[0]), 400)
        return original(params)

    ec2._ACTION_MAP[action] = authorize


def _pin_rule_id(original):
    """Gap 1: the physical id of a standalone rule is the id of the rule EC2 holds."""

    def _provision_resource(resource_type, logical_id, props, stack_name, *args, **kwargs):
        egress = _RULE_TYPES.get(resource_type)
        if egress is None or not isinstance(props, dict):
            return original(resource_type, logical_id, props, stack_name, *args, **kwargs)
        from ministack.services import ec2

        group_id = props.get("GroupId", "")
        key = "IpPermissionsEgress" if egress else "IpPermissions"
        before = [id(r) for r in (ec2._security_groups.get(group_id) or {}).get(key, [])]
        physical_id, attrs = original(resource_type, logical_id, props, stack_name, *args, **kwargs)
        rules = (ec2._security_groups.get(group_id) or {}).get(key, [])
        added = [r for r in rules if id(r) not in before]
        if len(added) == 1:
            rule_id = ec2._sg_rule_id(group_id, egress, added[0])
            added[0]["SecurityGroupRuleId"] = rule_id
            physical_id, attrs = rule_id, {**(attrs or {}), "Id": rule_id}
        return physical_id, attrs

    return _provision_resource


def _delete_by_rule_id(original):
    """Gap 1, delete side: the rule whose id is the physical id goes (``vpc.py``'s delete matches
    the rule by content, which the pinned id no longer equals); a rule already revoked through
    the API is gone already, which a stack delete accepts, as on AWS."""

    def _delete_resource(resource_type, physical_id, props, *args, **kwargs):
        egress = _RULE_TYPES.get(resource_type)
        if egress is None or not isinstance(props, dict) or not str(physical_id).startswith("sgr-"):
            return original(resource_type, physical_id, props, *args, **kwargs)
        from ministack.services import ec2

        group_id = props.get("GroupId", "")
        group = ec2._security_groups.get(group_id)
        if group is None:
            return None
        key = "IpPermissionsEgress" if egress else "IpPermissions"
        kept = [r for r in group.get(key, []) if ec2._sg_rule_id(group_id, egress, r) != physical_id]
        if len(kept) == len(group.get(key, [])):  # not a pinned id: the handler's own delete decides
            return original(resource_type, physical_id, props, *args, **kwargs)
        group[key] = kept
        return None

    return _delete_resource


def _with_prefix_lists(original):
    """Gap 3: ``<prefix>.N.PrefixListIds.M.PrefixListId`` (and ``.Description``) into rule N."""
    from ministack.services import ec2

    def parse(params, prefix):
        rules = original(params, prefix)
        if not ec2._p(params, f"{prefix}.1.IpProtocol"):
            return rules  # the legacy flat form has no prefix lists
        for i, rule in enumerate(rules, start=1):
            j = 1
            while pl := ec2._p(params, f"{prefix}.{i}.PrefixListIds.{j}.PrefixListId"):
                entry = {"PrefixListId": pl}
                description = ec2._p(params, f"{prefix}.{i}.PrefixListIds.{j}.Description")
                if description:
                    entry["Description"] = description
                if entry not in rule.setdefault("PrefixListIds", []):
                    rule["PrefixListIds"].append(entry)
                j += 1
        return rules

    return parse


def _peers_without_descriptions(original):
    """Gap 4: prefix lists and group pairs compare without descriptions, a pair by its group."""

    def strip(rule):
        r = original(rule)
        r["PrefixListIds"] = [
            {k: v for k, v in e.items() if k != "Description"} if isinstance(e, dict) else {"PrefixListId": e}
            for e in r.get("PrefixListIds", [])
        ]
        r["UserIdGroupPairs"] = [
            {"GroupId": e["GroupId"]} if e.get("GroupId") else {"GroupName": e.get("GroupName")}
            for e in r.get("UserIdGroupPairs", [])
            if isinstance(e, dict)
        ]
        return r

    return strip


def install() -> None:
    global _installed
    if _installed:
        return
    from faithful.types import wrap_dispatch
    from ministack.services import ec2

    ec2._parse_ip_permissions = _with_prefix_lists(ec2._parse_ip_permissions)
    ec2._strip_descriptions = _peers_without_descriptions(ec2._strip_descriptions)

    _wrap_authorize("AuthorizeSecurityGroupIngress", egress=False)
    _wrap_authorize("AuthorizeSecurityGroupEgress", egress=True)
    wrap_dispatch("_provision_resource", _pin_rule_id)
    wrap_dispatch("_delete_resource", _delete_by_rule_id)
    _installed = True
    log.info("ec2_rules extension installed")
