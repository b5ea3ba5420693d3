"""The shapes of the inventory's AWS answers, as the AWS SDK's published type stubs define them.

For mypy each name below is the TypedDict that the ``types-boto3-*`` stub packages (generated
from botocore's service models) give for that answer, so a misspelt response key in a collector
or a check is a type error: ``cluster.get("DBClusterMembrs")`` fails ``mypy``. At run time each
name is a plain ``dict[str, Any]``: the stubs are a development dependency, and pydantic
validates the saved inventory as cheaply as before (a controller and every worker parse each
environment's inventory file; docs/performance.md). Keys that mypy cannot see (values typed
``Any``) are held to botocore's output shapes by a self-test (selftests/unit/test_inventory_keys.py).

Two liberties of the saved form: timestamps come back from the JSON file as ISO strings (the
stubs say ``datetime``), and the answers kept whole lose only ``ResponseMetadata``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TypedDict

if TYPE_CHECKING:
    from types_boto3_accessanalyzer.type_defs import AnalyzerSummaryTypeDef as AnalyzerSummary
    from types_boto3_application_autoscaling.type_defs import ScalableTargetTypeDef as ScalableTarget
    from types_boto3_application_autoscaling.type_defs import ScalingActivityTypeDef as ScalingActivity
    from types_boto3_application_autoscaling.type_defs import ScalingPolicyTypeDef as ScalingPolicy
    from types_boto3_cloudformation.literals import StackDriftDetectionStatusType, StackDriftStatusType
    from types_boto3_cloudformation.type_defs import PropertyDifferenceTypeDef
    from types_boto3_cloudtrail.type_defs import GetEventSelectorsResponseTypeDef as TrailEventSelectors
    from types_boto3_cloudtrail.type_defs import GetTrailStatusResponseTypeDef as TrailStatus
    from types_boto3_cloudtrail.type_defs import TrailTypeDef as Trail
    from types_boto3_cloudwatch.type_defs import MetricAlarmTypeDef as MetricAlarm
    from types_boto3_ec2.type_defs import AddressTypeDef as Address
    from types_boto3_ec2.type_defs import FlowLogTypeDef as FlowLog
    from types_boto3_ec2.type_defs import InternetGatewayTypeDef as InternetGateway
    from types_boto3_ec2.type_defs import IpPermissionOutputTypeDef as IpPermission
    from types_boto3_ec2.type_defs import NatGatewayTypeDef as NatGateway
    from types_boto3_ec2.type_defs import NetworkInterfaceTypeDef as NetworkInterface
    from types_boto3_ec2.type_defs import PrefixListTypeDef as PrefixList
    from types_boto3_ec2.type_defs import RouteTableTypeDef as RouteTable
    from types_boto3_ec2.type_defs import RouteTypeDef as Route
    from types_boto3_ec2.type_defs import SecurityGroupTypeDef as SecurityGroup
    from types_boto3_ec2.type_defs import SubnetTypeDef as Subnet
    from types_boto3_ec2.type_defs import VpcEndpointTypeDef as VpcEndpoint
    from types_boto3_ec2.type_defs import VpcTypeDef as Vpc
    from types_boto3_ecr.type_defs import ImageDetailTypeDef as ImageDetail
    from types_boto3_ecr.type_defs import ImageScanFindingsTypeDef, ImageScanStatusTypeDef
    from types_boto3_ecr.type_defs import RegistryScanningConfigurationTypeDef as RegistryScanning
    from types_boto3_ecr.type_defs import RepositoryTypeDef as EcrRepository
    from types_boto3_ecs.type_defs import ClusterTypeDef as EcsCluster
    from types_boto3_ecs.type_defs import ContainerDefinitionOutputTypeDef as ContainerDefinition
    from types_boto3_ecs.type_defs import ServiceTypeDef as EcsService
    from types_boto3_ecs.type_defs import TaskDefinitionTypeDef as TaskDefinition
    from types_boto3_ecs.type_defs import TaskTypeDef as Task
    from types_boto3_elbv2.type_defs import ListenerTypeDef as Listener
    from types_boto3_elbv2.type_defs import LoadBalancerTypeDef as LoadBalancer
    from types_boto3_elbv2.type_defs import RuleTypeDef as Rule
    from types_boto3_elbv2.type_defs import SslPolicyTypeDef as SslPolicy
    from types_boto3_elbv2.type_defs import TargetGroupTypeDef as TargetGroup
    from types_boto3_elbv2.type_defs import TargetHealthDescriptionTypeDef as TargetHealthDescription
    from types_boto3_guardduty.type_defs import GetDetectorResponseTypeDef as Detector
    from types_boto3_kms.type_defs import GrantListEntryTypeDef as KeyGrant
    from types_boto3_kms.type_defs import KeyMetadataTypeDef as KeyMetadata
    from types_boto3_logs.type_defs import LogGroupTypeDef as LogGroup
    from types_boto3_rds.type_defs import DBClusterSnapshotTypeDef as DBClusterSnapshot
    from types_boto3_rds.type_defs import DBClusterTypeDef as DBCluster
    from types_boto3_rds.type_defs import DBInstanceTypeDef as DBInstance
    from types_boto3_rds.type_defs import DBSubnetGroupTypeDef as DBSubnetGroup
    from types_boto3_rds.type_defs import ParameterTypeDef as DBClusterParameter
    from types_boto3_s3.type_defs import GetBucketAclOutputTypeDef as BucketAcl
    from types_boto3_s3.type_defs import GetBucketVersioningOutputTypeDef as BucketVersioning
    from types_boto3_s3.type_defs import LifecycleRuleOutputTypeDef as LifecycleRule
    from types_boto3_s3.type_defs import LoggingEnabledOutputTypeDef as LoggingEnabled
    from types_boto3_s3.type_defs import OwnershipControlsRuleTypeDef as OwnershipControlsRule
    from types_boto3_s3.type_defs import PublicAccessBlockConfigurationTypeDef as PublicAccessBlock
    from types_boto3_s3.type_defs import ServerSideEncryptionRuleTypeDef as EncryptionRule
    from types_boto3_s3control.type_defs import GetAccessPointResultTypeDef as AccessPoint
    from types_boto3_secretsmanager.type_defs import DescribeSecretResponseTypeDef as Secret
    from types_boto3_securityhub.type_defs import DescribeHubResponseTypeDef as Hub
    from types_boto3_securityhub.type_defs import StandardsSubscriptionTypeDef as StandardsSubscription
    from types_boto3_sns.type_defs import SubscriptionTypeDef as Subscription

    class StackResource(TypedDict):
        """The four keys of ListStackResources' StackResourceSummary that the inventory keeps."""

        LogicalResourceId: str
        PhysicalResourceId: str
        ResourceType: str
        ResourceStatus: str

    class DriftDetection(TypedDict, total=False):
        """DescribeStackDriftDetectionStatus's answer, the keys the inventory keeps."""

        StackDriftStatus: StackDriftStatusType
        DetectionStatus: StackDriftDetectionStatusType
        DetectionStatusReason: str
        DriftedStackResourceCount: int

    class ResourceDrift(TypedDict):
        """DescribeStackResourceDrifts' StackResourceDrift, the keys the inventory keeps (None when absent)."""

        LogicalResourceId: str | None
        PhysicalResourceId: str | None
        ResourceType: str | None
        StackResourceDriftStatus: str | None
        PropertyDifferences: list[PropertyDifferenceTypeDef] | None

    class ImageScan(TypedDict, total=False):
        """DescribeImageScanFindings' answer, the keys the inventory keeps (the findings: the first page)."""

        imageScanStatus: ImageScanStatusTypeDef
        imageScanFindings: ImageScanFindingsTypeDef

    # what the suite itself makes (no AWS shape)
    class SecretFinding(TypedDict):
        """A plain environment variable of the task definition that looks like a secret (never its value)."""

        container: str
        name: str
        reason: str

    class RolePolicy(TypedDict, total=False):
        """One permission policy of a task or execution role, its document decoded."""

        Kind: str  # "inline" or "attached"
        PolicyName: str
        PolicyArn: str  # attached policies only
        Document: dict[str, Any]

else:
    ScalableTarget = ScalingActivity = ScalingPolicy = MetricAlarm = dict[str, Any]
    Address = FlowLog = InternetGateway = IpPermission = NatGateway = NetworkInterface = dict[str, Any]
    RouteTable = Route = SecurityGroup = Subnet = Vpc = VpcEndpoint = PrefixList = dict[str, Any]
    EcsCluster = ContainerDefinition = EcsService = TaskDefinition = Task = dict[str, Any]
    EcrRepository = ImageDetail = ImageScan = RegistryScanning = dict[str, Any]
    Listener = LoadBalancer = TargetGroup = TargetHealthDescription = Rule = SslPolicy = dict[str, Any]
    KeyMetadata = LogGroup = DBCluster = DBInstance = DBSubnetGroup = Secret = Subscription = dict[str, Any]
    DBClusterParameter = DBClusterSnapshot = KeyGrant = dict[str, Any]
    AccessPoint = BucketAcl = BucketVersioning = LoggingEnabled = LifecycleRule = OwnershipControlsRule = (
        PublicAccessBlock
    ) = EncryptionRule = dict[str, Any]
    StackResource = DriftDetection = ResourceDrift = SecretFinding = RolePolicy = dict[str, Any]
    Trail = TrailStatus = TrailEventSelectors = dict[str, Any]
    Detector = Hub = StandardsSubscription = AnalyzerSummary = dict[str, Any]

# ACM's stubs are not installed: DescribeCertificate's CertificateDetail stays untyped (the
# response-key guard, selftests/unit/test_inventory_keys.py, still checks its keys)
CertificateDetail = dict[str, Any]

__all__ = [
    "AccessPoint",
    "Address",
    "AnalyzerSummary",
    "BucketAcl",
    "BucketVersioning",
    "CertificateDetail",
    "ContainerDefinition",
    "DBCluster",
    "DBClusterParameter",
    "DBClusterSnapshot",
    "DBInstance",
    "DBSubnetGroup",
    "Detector",
    "DriftDetection",
    "EcrRepository",
    "EcsCluster",
    "EcsService",
    "EncryptionRule",
    "FlowLog",
    "Hub",
    "ImageDetail",
    "ImageScan",
    "InternetGateway",
    "IpPermission",
    "KeyGrant",
    "KeyMetadata",
    "LifecycleRule",
    "Listener",
    "LoadBalancer",
    "LogGroup",
    "LoggingEnabled",
    "MetricAlarm",
    "NatGateway",
    "NetworkInterface",
    "OwnershipControlsRule",
    "PrefixList",
    "PublicAccessBlock",
    "RegistryScanning",
    "ResourceDrift",
    "RolePolicy",
    "Route",
    "RouteTable",
    "Rule",
    "ScalableTarget",
    "ScalingActivity",
    "ScalingPolicy",
    "Secret",
    "SecretFinding",
    "SecurityGroup",
    "SslPolicy",
    "StackResource",
    "StandardsSubscription",
    "Subnet",
    "Subscription",
    "TargetGroup",
    "TargetHealthDescription",
    "Task",
    "TaskDefinition",
    "Trail",
    "TrailEventSelectors",
    "TrailStatus",
    "Vpc",
    "VpcEndpoint",
]  # fmt: skip
