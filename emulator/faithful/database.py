"""RDS: the Aurora cluster and its instances, as AWS reports them after CloudFormation.

Gaps closed (MiniStack 1.5.33, measured with a create_stack and describe calls):

1. ``AWS::RDS::DBCluster`` drops ``KmsKeyId`` (reported ""), ``EnableCloudwatchLogsExports``,
   ``DBClusterParameterGroupName`` and ``Tags``; stores ``StorageEncrypted`` unnormalised;
   reports three fixed AZs whatever the subnet group. -> :func:`_cluster_create` /
   :func:`_cluster_update` store them as AWS does (the key as its ARN; the AZs of the subnet
   group), and the stack-level ``aws:cloudformation:*`` tags are merged as for other types.
2. ``AWS::RDS::DBInstance`` in a cluster reports ``StorageEncrypted=false`` and no key, the
   ``default`` subnet group, MiniStack's default engine version, and joins as a second
   ``IsClusterWriter=true``; with no ``AvailabilityZone`` every instance lands in the first AZ.
   -> :func:`_instance_create` inherits from the cluster (as Aurora does), makes only the
   first member the writer, and spreads undeclared instances over the cluster's AZs.
3. Cluster ``MultiAZ`` is always what the template said (false): on AWS it is true when the
   members span AZs. -> :func:`_cluster_xml` derives it from the members at describe time,
   and renders ``EnabledCloudwatchLogsExports``, which MiniStack never renders.
4. Deleting the writer (API or stack) leaves a cluster with no writer: AWS fails over to the
   reader of the lowest promotion tier. -> :func:`_ensure_writer` after every removal.
5. ``modify_db_cluster`` ignores ``CloudwatchLogsExportConfiguration``. -> applied.

Drifts through the API (modify_db_cluster deletion protection / backup retention, instance
deletion) already reach the records these describes read; nothing here overwrites them,
and a stack update writes only what the template changed. The master password (resolved by
MiniStack's engine from the ``{{resolve:secretsmanager:...}}`` reference) lives only in the
private ``_MasterUserPassword`` field, which no response renders.
"""

from __future__ import annotations

import copy
from typing import Any

from faithful._ministack import resource_handlers
from faithful.kms import key_arn
from ministack.services import rds as _rds
from ministack.services.cloudformation import provisioners as _prov

_orig: dict[str, Any] = {}


def _sync_tags(arn: str, old_props: dict, new_props: dict, resource_type: str) -> None:
    """Write the template's tags through AddTagsToResource, so TagList and ListTagsForResource agree."""
    _prov._rds_sync_tags(arn, old_props, new_props, resource_type)


def _subnet_group_azs(name: str) -> list[str]:
    group = _rds._subnet_groups.get(name) or {}
    azs = []
    for subnet in group.get("Subnets", []):
        zone = subnet.get("SubnetAvailabilityZone")
        az = zone.get("Name") if isinstance(zone, dict) else None
        if az and az not in azs:
            azs.append(az)
    return sorted(azs)


# --------------------------------------------------------------------------- cluster


def _apply_cluster_props(cluster: dict, old: dict | None, new: dict) -> None:
    """Store what the template says on the cluster record; on update, only what changed."""

    def changed(prop: str) -> bool:
        return old is None or old.get(prop) != new.get(prop)

    if old is None:  # create-only on AWS (StorageEncrypted, KmsKeyId, AvailabilityZones)
        encrypted = _prov._cfn_bool(new.get("StorageEncrypted", False))
        cluster["StorageEncrypted"] = encrypted
        # AWS reports the key as its ARN whatever form the template named it in.
        cluster["KmsKeyId"] = (key_arn(new.get("KmsKeyId")) or "") if encrypted else ""
        azs = list(new.get("AvailabilityZones") or []) or _subnet_group_azs(cluster.get("DBSubnetGroup", ""))[:3]
        if azs:
            cluster["AvailabilityZones"] = azs
    if changed("EnableCloudwatchLogsExports"):
        cluster["EnabledCloudwatchLogsExports"] = list(new.get("EnableCloudwatchLogsExports") or [])
    if changed("DBClusterParameterGroupName"):
        engine = cluster.get("Engine", "")
        major = ".".join(str(cluster.get("EngineVersion", "")).split(".")[:2])
        default = f"default.{engine}{major}" if engine.startswith("aurora-mysql") else ""
        cluster["DBClusterParameterGroup"] = new.get("DBClusterParameterGroupName") or default
    _sync_tags(cluster["DBClusterArn"], old or {}, new, "AWS::RDS::DBCluster")


def _cluster_create(logical_id, props, stack_name):
    physical_id, attrs = _orig["cluster_create"](logical_id, props, stack_name)
    cluster = _rds._clusters.get(physical_id)
    if cluster is not None:
        _apply_cluster_props(cluster, None, props)
    return physical_id, attrs


def _cluster_update(physical_id, old_props, new_props, stack_name, logical_id=None):
    new_id, attrs = _orig["cluster_update"](physical_id, old_props, new_props, stack_name, logical_id)
    cluster = _rds._clusters.get(new_id)
    # A replacement (new id) went through _cluster_create, the module global, already.
    if cluster is not None and new_id == physical_id:
        _apply_cluster_props(cluster, old_props, new_props)
    return new_id, attrs


# --------------------------------------------------------------------------- instances


def _member_instances(cluster: dict) -> list[dict]:
    ids = [m.get("DBInstanceIdentifier") for m in cluster.get("DBClusterMembers", [])]
    return [_rds._instances[i] for i in ids if i in _rds._instances]


def _next_az(cluster: dict) -> str | None:
    """The cluster AZ with the fewest members (first in order on a tie): AWS spreads them."""
    azs = _subnet_group_azs(cluster.get("DBSubnetGroup", "")) or list(cluster.get("AvailabilityZones") or [])
    if not azs:
        return None
    used = [i.get("AvailabilityZone") for i in _member_instances(cluster)]
    return min(azs, key=lambda az: (used.count(az), azs.index(az)))


def _inherit_from_cluster(instance: dict, cluster: dict) -> None:
    """What an Aurora instance reports from its cluster, not from its own properties."""
    instance["StorageEncrypted"] = bool(cluster.get("StorageEncrypted", False))
    instance["KmsKeyId"] = cluster.get("KmsKeyId", "")
    instance["EngineVersion"] = cluster.get("EngineVersion", instance.get("EngineVersion"))
    instance["BackupRetentionPeriod"] = cluster.get("BackupRetentionPeriod", instance.get("BackupRetentionPeriod"))
    group = _rds._subnet_groups.get(cluster.get("DBSubnetGroup", ""))
    if group is not None:
        instance["DBSubnetGroup"] = copy.deepcopy(group)
    if not instance.get("VpcSecurityGroups"):
        instance["VpcSecurityGroups"] = copy.deepcopy(cluster.get("VpcSecurityGroups", []))
    endpoint = instance.get("Endpoint")
    if isinstance(endpoint, dict) and cluster.get("Port"):
        endpoint["Port"] = int(cluster["Port"])


def _instance_create(logical_id, props, stack_name):
    cluster = _rds._clusters.get(props.get("DBClusterIdentifier") or "")
    if cluster is not None and not props.get("AvailabilityZone"):
        az = _next_az(cluster)
        if az:
            props = {**props, "AvailabilityZone": az}
    db_id, attrs = _orig["instance_create"](logical_id, props, stack_name)
    instance = _rds._instances.get(db_id)
    if instance is not None:
        if cluster is not None:
            _inherit_from_cluster(instance, cluster)
            # MiniStack appends every CFN member as a writer; AWS: the first one created is.
            members = cluster.get("DBClusterMembers", [])
            others_write = any(m.get("IsClusterWriter") for m in members if m.get("DBInstanceIdentifier") != db_id)
            for m in members:
                if m.get("DBInstanceIdentifier") == db_id:
                    m["IsClusterWriter"] = not others_write
            attrs = _prov._rds_db_instance_attrs(instance)
        instance["TagList"] = []
        _sync_tags(instance["DBInstanceArn"], {}, props, "AWS::RDS::DBInstance")
    return db_id, attrs


def _instance_update(physical_id, old_props, new_props, stack_name, logical_id=None):
    new_id, attrs = _orig["instance_update"](physical_id, old_props, new_props, stack_name, logical_id)
    instance = _rds._instances.get(new_id)
    if instance is not None and new_id == physical_id:
        cluster = _rds._clusters.get(instance.get("DBClusterIdentifier") or "")
        if cluster is not None:
            _inherit_from_cluster(instance, cluster)
        _rds._tags[instance["DBInstanceArn"]] = list(instance.get("TagList", []))
    return new_id, attrs


def _ensure_writer(cluster: dict) -> None:
    """Aurora fails over to the reader of the lowest promotion tier when the writer goes."""
    members = cluster.get("DBClusterMembers") or []
    if members and not any(m.get("IsClusterWriter") for m in members):
        min(members, key=lambda m: int(m.get("PromotionTier", 1)))["IsClusterWriter"] = True


def _instance_delete(physical_id, props):
    _orig["instance_delete"](physical_id, props)
    for cluster in list(_rds._clusters.values()):
        _ensure_writer(cluster)


def _unregister_instance_from_clusters(db_id):
    _orig["unregister"](db_id)
    for cluster in list(_rds._clusters.values()):
        _ensure_writer(cluster)


def _register_instance_in_cluster(instance):
    """CreateDBInstance into a cluster: the instance inherits encryption etc. from it."""
    _orig["register"](instance)
    cluster = _rds._clusters.get(instance.get("DBClusterIdentifier") or "")
    if cluster is not None:
        _inherit_from_cluster(instance, cluster)


# --------------------------------------------------------------------------- describe / modify


def _cluster_xml(c):
    members = _member_instances(c)
    if members:
        # AWS: "whether the DB cluster has instances in multiple Availability Zones".
        c["MultiAZ"] = len({i.get("AvailabilityZone") for i in members}) > 1
    else:
        c["MultiAZ"] = False
    xml = _orig["cluster_xml"](c)
    exports = c.get("EnabledCloudwatchLogsExports") or []
    if exports:
        xml += (
            "<EnabledCloudwatchLogsExports>"
            + "".join(f"<member>{_rds._esc(e)}</member>" for e in exports)
            + "</EnabledCloudwatchLogsExports>"
        )
    return xml


def _modify_db_cluster_impl(p):
    """Apply CloudwatchLogsExportConfiguration (MiniStack ignores it); undo it if the modify fails."""
    cluster = _rds._resolve_cluster_in_request_region(_rds._p(p, "DBClusterIdentifier"))
    before = None
    if cluster is not None:
        enable = _rds._parse_member_list(p, "CloudwatchLogsExportConfiguration.EnableLogTypes")
        disable = set(_rds._parse_member_list(p, "CloudwatchLogsExportConfiguration.DisableLogTypes"))
        if enable or disable:
            before = list(cluster.get("EnabledCloudwatchLogsExports") or [])
            after = [e for e in before if e not in disable]
            after += [e for e in enable if e not in after]
            cluster["EnabledCloudwatchLogsExports"] = after
    response = _orig["modify_cluster"](p)
    if cluster is not None and before is not None and response[0] >= 400:
        cluster["EnabledCloudwatchLogsExports"] = before
    return response


# --------------------------------------------------------------------------- install


def install() -> None:
    if _orig:
        return
    _orig.update(
        cluster_create=_prov._rds_db_cluster_create,
        cluster_update=_prov._rds_db_cluster_update,
        instance_create=_prov._rds_db_instance_create,
        instance_update=_prov._rds_db_instance_update,
        instance_delete=_prov._rds_db_instance_delete,
        unregister=_rds._unregister_instance_from_clusters,
        register=_rds._register_instance_in_cluster,
        cluster_xml=_rds._cluster_xml,
        modify_cluster=_rds._modify_db_cluster_impl,
    )
    # Module globals too: replacements inside MiniStack call these by name.
    _prov._rds_db_cluster_create = _cluster_create
    _prov._rds_db_cluster_update = _cluster_update
    _prov._rds_db_instance_create = _instance_create
    _prov._rds_db_instance_update = _instance_update
    _prov._rds_db_instance_delete = _instance_delete
    handlers = resource_handlers()
    handlers["AWS::RDS::DBCluster"].update(create=_cluster_create, update=_cluster_update)
    handlers["AWS::RDS::DBInstance"].update(create=_instance_create, update=_instance_update, delete=_instance_delete)
    # The cluster is taggable on AWS and gets the stack-level and aws:cloudformation:* tags.
    _prov._STACK_TAG_PROPERTY.setdefault("AWS::RDS::DBCluster", ("Tags", "list"))
    _rds._unregister_instance_from_clusters = _unregister_instance_from_clusters
    _rds._register_instance_in_cluster = _register_instance_in_cluster
    _rds._cluster_xml = _cluster_xml
    _rds._modify_db_cluster_impl = _modify_db_cluster_impl
