"""Self-tests of ``emulator/faithful/database.py``: the Aurora cluster as AWS reports it.

Real emulator process, real boto3: a small stack (KMS key, VPC with three subnets, a DB
subnet group, a generated secret, an Aurora MySQL cluster whose credentials come from
``{{resolve:secretsmanager:...}}``, a writer and a reader in declared AZs and a third
instance with none), then describe calls, API drifts and a stack update.
"""

from __future__ import annotations

import json
import uuid

import pytest

from selftests.emulator.platform import settled_stack

TEMPLATE = """
AWSTemplateFormatVersion: '2010-09-09'
Parameters:
  Name: {Type: String}
  BackupRetentionDays: {Type: Number, Default: 7}
  DeletionProtection: {Type: String, Default: 'false'}
Resources:
  Key:
    Type: AWS::KMS::Key
    Properties:
      EnableKeyRotation: true
      KeyPolicy:
        Version: '2012-10-17'
        Statement:
          - Effect: Allow
            Principal: {AWS: !Sub 'arn:aws:iam::${AWS::AccountId}:root'}
            Action: 'kms:*'
            Resource: '*'
  Vpc:
    Type: AWS::EC2::VPC
    Properties: {CidrBlock: 10.77.0.0/16}
  SubnetA:
    Type: AWS::EC2::Subnet
    Properties: {VpcId: !Ref Vpc, CidrBlock: 10.77.1.0/24, AvailabilityZone: !Select [0, !GetAZs '']}
  SubnetB:
    Type: AWS::EC2::Subnet
    Properties: {VpcId: !Ref Vpc, CidrBlock: 10.77.2.0/24, AvailabilityZone: !Select [1, !GetAZs '']}
  SubnetC:
    Type: AWS::EC2::Subnet
    Properties: {VpcId: !Ref Vpc, CidrBlock: 10.77.3.0/24, AvailabilityZone: !Select [2, !GetAZs '']}
  DbSubnets:
    Type: AWS::RDS::DBSubnetGroup
    Properties:
      DBSubnetGroupName: !Sub '${Name}-db-subnets'
      DBSubnetGroupDescription: private subnets
      SubnetIds: [!Ref SubnetA, !Ref SubnetB, !Ref SubnetC]
  Secret:
    Type: AWS::SecretsManager::Secret
    Properties:
      Name: !Sub '${Name}-db'
      KmsKeyId: !Ref Key
      GenerateSecretString:
        SecretStringTemplate: '{"username": "dbadmin"}'
        GenerateStringKey: password
        PasswordLength: 32
        ExcludeCharacters: '"@/\\'
        RequireEachIncludedType: true
  Cluster:
    Type: AWS::RDS::DBCluster
    DeletionPolicy: Delete
    Properties:
      DBClusterIdentifier: !Sub '${Name}-aurora'
      Engine: aurora-mysql
      EngineVersion: 8.0.mysql_aurora.3.08.0
      DatabaseName: payments
      Port: 3306
      MasterUsername: !Sub '{{resolve:secretsmanager:${Secret}:SecretString:username}}'
      MasterUserPassword: !Sub '{{resolve:secretsmanager:${Secret}:SecretString:password}}'
      DBSubnetGroupName: !Ref DbSubnets
      StorageEncrypted: true
      KmsKeyId: !GetAtt Key.Arn
      BackupRetentionPeriod: !Ref BackupRetentionDays
      DeletionProtection: !Ref DeletionProtection
      EnableCloudwatchLogsExports: [audit, error, slowquery]
      Tags: [{Key: Application, Value: payments}]
  Writer:
    Type: AWS::RDS::DBInstance
    Properties:
      DBInstanceIdentifier: !Sub '${Name}-writer'
      DBClusterIdentifier: !Ref Cluster
      Engine: aurora-mysql
      DBInstanceClass: db.t4g.medium
      AvailabilityZone: !Select [0, !GetAZs '']
      PubliclyAccessible: false
      PromotionTier: 0
      Tags: [{Key: Application, Value: payments}]
  Reader:
    Type: AWS::RDS::DBInstance
    DependsOn: Writer
    Properties:
      DBInstanceIdentifier: !Sub '${Name}-reader'
      DBClusterIdentifier: !Ref Cluster
      Engine: aurora-mysql
      DBInstanceClass: db.t4g.medium
      AvailabilityZone: !Select [1, !GetAZs '']
      PubliclyAccessible: false
      PromotionTier: 1
  Spare:
    Type: AWS::RDS::DBInstance
    DependsOn: Reader
    Properties:
      DBInstanceIdentifier: !Sub '${Name}-spare'
      DBClusterIdentifier: !Ref Cluster
      Engine: aurora-mysql
      DBInstanceClass: db.t4g.medium
      PromotionTier: 2
Outputs:
  KeyArn: {Value: !GetAtt Key.Arn}
  KeyId: {Value: !Ref Key}
  SecretArn: {Value: !Ref Secret}
  ClusterId: {Value: !Ref Cluster}
  ClusterEndpoint: {Value: !GetAtt Cluster.Endpoint.Address}
  ReaderEndpoint: {Value: !GetAtt Cluster.ReadEndpoint.Address}
"""


def _deploy(aws, name: str, **params: str) -> dict[str, str]:
    cf = aws("cloudformation")
    cf.create_stack(
        StackName=name,
        TemplateBody=TEMPLATE,
        Parameters=[{"ParameterKey": "Name", "ParameterValue": name}]
        + [{"ParameterKey": k, "ParameterValue": v} for k, v in params.items()],
    )
    stack = settled_stack(cf, name)
    if stack["StackStatus"] != "CREATE_COMPLETE":
        failures = [
            f"{e['LogicalResourceId']}: {e.get('ResourceStatusReason')}"
            for e in cf.describe_stack_events(StackName=name)["StackEvents"]
            if e["ResourceStatus"].endswith("FAILED")
        ]
        raise AssertionError(f"{name}: {stack['StackStatus']} {failures}")
    return {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}


def _cluster(aws, cluster_id: str) -> dict:
    return aws("rds").describe_db_clusters(DBClusterIdentifier=cluster_id)["DBClusters"][0]


def _instances(aws, cluster_id: str) -> dict[str, dict]:
    found = aws("rds").describe_db_instances(Filters=[{"Name": "db-cluster-id", "Values": [cluster_id]}])
    return {i["DBInstanceIdentifier"]: i for i in found["DBInstances"]}


@pytest.fixture(scope="module")
def stack(aws):
    name = f"fdb{uuid.uuid4().hex[:8]}"
    outputs = _deploy(aws, name)
    outputs["Name"] = name
    return outputs


def test_cluster_reports_template_key_as_arn_and_encryption(aws, stack):
    cluster = _cluster(aws, stack["ClusterId"])
    assert cluster["StorageEncrypted"] is True
    assert cluster["KmsKeyId"] == stack["KeyArn"]
    assert aws("kms").describe_key(KeyId=cluster["KmsKeyId"])["KeyMetadata"]["KeyId"] == stack["KeyId"]


def test_instances_report_the_clusters_encryption_and_subnet_group(aws, stack):
    instances = _instances(aws, stack["ClusterId"])
    assert len(instances) == 3
    for instance in instances.values():
        assert instance["StorageEncrypted"] is True
        assert instance["KmsKeyId"] == stack["KeyArn"]
        assert instance["DBSubnetGroup"]["DBSubnetGroupName"] == f"{stack['Name']}-db-subnets"
        assert instance["EngineVersion"] == "8.0.mysql_aurora.3.08.0"
        assert instance["PubliclyAccessible"] is False
        assert instance["Endpoint"]["Port"] == 3306


def test_first_instance_created_is_the_only_writer(aws, stack):
    members = {
        m["DBInstanceIdentifier"]: m["IsClusterWriter"] for m in _cluster(aws, stack["ClusterId"])["DBClusterMembers"]
    }
    name = stack["Name"]
    assert members == {f"{name}-writer": True, f"{name}-reader": False, f"{name}-spare": False}


def test_instances_in_declared_azs_and_undeclared_spread(aws, stack):
    azs = {i: d["AvailabilityZone"] for i, d in _instances(aws, stack["ClusterId"]).items()}
    name = stack["Name"]
    assert azs[f"{name}-writer"] == "us-east-1a"
    assert azs[f"{name}-reader"] == "us-east-1b"
    assert azs[f"{name}-spare"] == "us-east-1c"  # the subnet group's AZ with no member yet


def test_cluster_multi_az_and_availability_zones(aws, stack):
    cluster = _cluster(aws, stack["ClusterId"])
    assert cluster["MultiAZ"] is True
    assert cluster["AvailabilityZones"] == ["us-east-1a", "us-east-1b", "us-east-1c"]


def test_endpoints_distinct_on_port_3306(aws, stack):
    cluster = _cluster(aws, stack["ClusterId"])
    cid = stack["ClusterId"]
    assert cluster["Endpoint"] == stack["ClusterEndpoint"]
    assert cluster["ReaderEndpoint"] == stack["ReaderEndpoint"]
    assert cluster["Endpoint"] != cluster["ReaderEndpoint"]
    assert cluster["Endpoint"].startswith(f"{cid}.cluster-")
    assert cluster["Endpoint"].endswith(".us-east-1.rds.amazonaws.com")
    assert cluster["ReaderEndpoint"].startswith(f"{cid}.cluster-ro-")
    assert cluster["Port"] == 3306


def test_template_settings_as_given(aws, stack):
    cluster = _cluster(aws, stack["ClusterId"])
    assert sorted(cluster["EnabledCloudwatchLogsExports"]) == ["audit", "error", "slowquery"]
    assert cluster["BackupRetentionPeriod"] == 7
    assert cluster["DeletionProtection"] is False
    assert cluster["DBSubnetGroup"] == f"{stack['Name']}-db-subnets"
    assert cluster["DatabaseName"] == "payments"
    tags = {t["Key"]: t["Value"] for t in cluster["TagList"]}
    assert tags["Application"] == "payments"
    assert tags["aws:cloudformation:stack-name"] == stack["Name"]
    listed = aws("rds").list_tags_for_resource(ResourceName=cluster["DBClusterArn"])["TagList"]
    assert {"Key": "Application", "Value": "payments"} in listed


def test_dynamic_reference_resolved_and_password_never_echoed(aws, stack):
    secret = json.loads(aws("secretsmanager").get_secret_value(SecretId=stack["SecretArn"])["SecretString"])
    password = secret["password"]
    cluster = _cluster(aws, stack["ClusterId"])
    # The username came through the same resolver as the password.
    assert cluster["MasterUsername"] == secret["username"] == "dbadmin"
    cf = aws("cloudformation")
    seen = json.dumps(
        [
            cluster,
            list(_instances(aws, stack["ClusterId"]).values()),
            cf.describe_stacks(StackName=stack["Name"])["Stacks"],
            cf.describe_stack_resources(StackName=stack["Name"])["StackResources"],
            cf.describe_stack_events(StackName=stack["Name"])["StackEvents"],
            cf.describe_stack_resource(StackName=stack["Name"], LogicalResourceId="Cluster")["StackResourceDetail"],
        ],
        default=str,
    )
    assert password not in seen
    assert "{{resolve" not in json.dumps(cluster, default=str)


def test_api_drifts_show_in_describe_and_survive_an_unrelated_stack_update(aws):
    name = f"fdb{uuid.uuid4().hex[:8]}"
    out = _deploy(aws, name)
    rds = aws("rds")
    rds.modify_db_cluster(
        DBClusterIdentifier=out["ClusterId"],
        DeletionProtection=True,
        BackupRetentionPeriod=1,
        CloudwatchLogsExportConfiguration={"DisableLogTypes": ["audit"]},
        ApplyImmediately=True,
    )
    cluster = _cluster(aws, out["ClusterId"])
    assert cluster["DeletionProtection"] is True
    assert cluster["BackupRetentionPeriod"] == 1
    assert sorted(cluster["EnabledCloudwatchLogsExports"]) == ["error", "slowquery"]

    # A stack update that changes only BackupRetentionPeriod writes only that.
    cf = aws("cloudformation")
    cf.update_stack(
        StackName=name,
        UsePreviousTemplate=True,
        Parameters=[
            {"ParameterKey": "Name", "UsePreviousValue": True},
            {"ParameterKey": "BackupRetentionDays", "ParameterValue": "14"},
        ],
    )
    assert settled_stack(cf, name)["StackStatus"] == "UPDATE_COMPLETE"
    cluster = _cluster(aws, out["ClusterId"])
    assert cluster["BackupRetentionPeriod"] == 14
    assert cluster["DeletionProtection"] is True
    assert cluster["KmsKeyId"] == out["KeyArn"]
    assert [m["IsClusterWriter"] for m in cluster["DBClusterMembers"]].count(True) == 1
    rds.modify_db_cluster(DBClusterIdentifier=out["ClusterId"], DeletionProtection=False, ApplyImmediately=True)
    assert _cluster(aws, out["ClusterId"])["DeletionProtection"] is False


def test_deleting_the_writer_fails_over_to_a_reader(aws):
    name = f"fdb{uuid.uuid4().hex[:8]}"
    out = _deploy(aws, name)
    rds = aws("rds")
    rds.delete_db_instance(DBInstanceIdentifier=f"{name}-writer", SkipFinalSnapshot=True)
    instances = _instances(aws, out["ClusterId"])
    assert f"{name}-writer" not in instances
    members = {
        m["DBInstanceIdentifier"]: m["IsClusterWriter"] for m in _cluster(aws, out["ClusterId"])["DBClusterMembers"]
    }
    # The reader of the lowest promotion tier (1) takes over; the tier-2 instance stays a reader.
    assert members == {f"{name}-reader": True, f"{name}-spare": False}
    cluster = _cluster(aws, out["ClusterId"])
    assert cluster["MultiAZ"] is True  # b and c remain


def test_api_created_instance_joins_as_reader_and_inherits_encryption(aws, stack):
    rds = aws("rds")
    ident = f"{stack['Name']}-api"
    rds.create_db_instance(
        DBInstanceIdentifier=ident,
        DBClusterIdentifier=stack["ClusterId"],
        Engine="aurora-mysql",
        DBInstanceClass="db.t4g.medium",
        AvailabilityZone="us-east-1c",
    )
    try:
        instance = _instances(aws, stack["ClusterId"])[ident]
        assert instance["StorageEncrypted"] is True
        assert instance["KmsKeyId"] == stack["KeyArn"]
        members = {
            m["DBInstanceIdentifier"]: m["IsClusterWriter"]
            for m in _cluster(aws, stack["ClusterId"])["DBClusterMembers"]
        }
        assert members[ident] is False
        assert list(members.values()).count(True) == 1
    finally:
        rds.delete_db_instance(DBInstanceIdentifier=ident, SkipFinalSnapshot=True)
