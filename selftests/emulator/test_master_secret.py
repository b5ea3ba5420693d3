"""Self-tests of ``emulator/faithful/master_secret.py`` (and the KMS and parameter-group behaviour it
relies on): RDS-managed master passwords, rotation state, cluster parameters, retained keys.

Real emulator process, real boto3: a small stack (a retained KMS key, a cluster parameter group
with require_secure_transport ON, an Aurora cluster whose master password RDS manages under
that key, snapshotted on delete), then the RDS, Secrets Manager and KMS APIs, and a stack delete.
Password values are compared by digest only: no value is ever printed, even by a failed assert.
"""

from __future__ import annotations

import hashlib
import uuid
from datetime import timedelta

import pytest

from selftests.emulator.platform import settled_stack

TEMPLATE = """
AWSTemplateFormatVersion: '2010-09-09'
Parameters:
  Name: {Type: String}
Resources:
  Key:
    Type: AWS::KMS::Key
    DeletionPolicy: Retain
    UpdateReplacePolicy: Retain
    Properties:
      KeyPolicy:
        Version: '2012-10-17'
        Statement:
          - Effect: Allow
            Principal: {AWS: !Sub 'arn:aws:iam::${AWS::AccountId}:root'}
            Action: 'kms:*'
            Resource: '*'
  Params:
    Type: AWS::RDS::DBClusterParameterGroup
    Properties:
      DBClusterParameterGroupName: !Sub '${Name}-params'
      Description: TLS only
      Family: aurora-mysql8.0
      Parameters: {require_secure_transport: 'ON', slow_query_log: '1'}
  Cluster:
    Type: AWS::RDS::DBCluster
    DeletionPolicy: Snapshot
    UpdateReplacePolicy: Snapshot
    Properties:
      DBClusterIdentifier: !Sub '${Name}-aurora'
      Engine: aurora-mysql
      EngineVersion: 8.0.mysql_aurora.3.08.0
      MasterUsername: payments_admin
      ManageMasterUserPassword: true
      MasterUserSecret: {KmsKeyId: !Ref Key}
      StorageEncrypted: true
      KmsKeyId: !GetAtt Key.Arn
      DBClusterParameterGroupName: !Ref Params
Outputs:
  KeyArn: {Value: !GetAtt Key.Arn}
  KeyId: {Value: !Ref Key}
  Cluster: {Value: !Ref Cluster}
  SecretArn: {Value: !GetAtt Cluster.MasterUserSecret.SecretArn}
"""


def _create(aws) -> dict[str, str]:
    name = f"fms{uuid.uuid4().hex[:8]}"
    cf = aws("cloudformation")
    cf.create_stack(
        StackName=name, TemplateBody=TEMPLATE, Parameters=[{"ParameterKey": "Name", "ParameterValue": name}]
    )
    created = settled_stack(cf, name)
    assert created["StackStatus"] == "CREATE_COMPLETE", created.get("StackStatusReason")
    return {o["OutputKey"]: o["OutputValue"] for o in created["Outputs"]} | {"Name": name}


@pytest.fixture(scope="module")
def stack(aws):
    return _create(aws)


def _digest(aws, secret_arn: str) -> str:
    value = aws("secretsmanager").get_secret_value(SecretId=secret_arn)["SecretString"]
    return hashlib.sha256(value.encode()).hexdigest()


def _cluster(aws, ident: str) -> dict:
    return aws("rds").describe_db_clusters(DBClusterIdentifier=ident)["DBClusters"][0]


def test_managed_secret_is_made_owned_by_rds_under_the_named_key(aws, stack):
    cluster = _cluster(aws, stack["Cluster"])
    managed = cluster["MasterUserSecret"]
    assert managed["SecretArn"] == stack["SecretArn"] and managed["SecretStatus"] == "active"
    assert managed["KmsKeyId"] == stack["KeyArn"]  # named by id in the template, reported as the ARN
    described = aws("secretsmanager").describe_secret(SecretId=stack["SecretArn"])
    assert described["Name"].startswith("rds!cluster-")
    assert described["OwningService"] == "rds"
    assert described["KmsKeyId"] == stack["KeyArn"]
    assert described["RotationEnabled"] is True
    assert described["RotationRules"]["AutomaticallyAfterDays"] == 7
    assert described["NextRotationDate"] - described["CreatedDate"] == timedelta(days=7)
    assert "LastRotatedDate" not in described  # never rotated yet: the password is as old as the secret


def test_cluster_parameters_are_the_templates_and_follow_modify(aws, stack):
    rds = aws("rds")
    group = _cluster(aws, stack["Cluster"])["DBClusterParameterGroup"]
    assert group == f"{stack['Name']}-params"

    def user() -> dict[str, str]:
        found = rds.describe_db_cluster_parameters(DBClusterParameterGroupName=group, Source="user")["Parameters"]
        return {p["ParameterName"]: p["ParameterValue"] for p in found}

    assert user() == {"require_secure_transport": "ON", "slow_query_log": "1"}
    rds.modify_db_cluster_parameter_group(
        DBClusterParameterGroupName=group,
        Parameters=[{"ParameterName": "require_secure_transport", "ParameterValue": "OFF", "ApplyMethod": "immediate"}],
    )
    assert user()["require_secure_transport"] == "OFF"
    rds.reset_db_cluster_parameter_group(
        DBClusterParameterGroupName=group, Parameters=[{"ParameterName": "require_secure_transport"}]
    )
    assert "require_secure_transport" not in user()  # back to the engine default


def test_rotation_cancel_and_rotate_show_in_describe_secret(aws, stack):
    sm = aws("secretsmanager")
    before = _digest(aws, stack["SecretArn"])
    cancelled = sm.cancel_rotate_secret(SecretId=stack["SecretArn"])
    assert cancelled["ARN"] == stack["SecretArn"]
    described = sm.describe_secret(SecretId=stack["SecretArn"])
    assert described["RotationEnabled"] is False and "NextRotationDate" not in described
    sm.rotate_secret(SecretId=stack["SecretArn"], RotationRules={"AutomaticallyAfterDays": 7})
    described = sm.describe_secret(SecretId=stack["SecretArn"])
    assert described["RotationEnabled"] is True
    assert described["NextRotationDate"] - described["LastRotatedDate"] == timedelta(days=7)
    assert _digest(aws, stack["SecretArn"]) != before  # RDS set a new password
    with pytest.raises(sm.exceptions.ResourceNotFoundException):
        sm.cancel_rotate_secret(SecretId="no-such-secret")


def test_rotate_master_user_password_records_the_rotation(aws, stack):
    before = _digest(aws, stack["SecretArn"])
    aws("rds").modify_db_cluster(
        DBClusterIdentifier=stack["Cluster"], RotateMasterUserPassword=True, ApplyImmediately=True
    )
    described = aws("secretsmanager").describe_secret(SecretId=stack["SecretArn"])
    assert "LastRotatedDate" in described
    assert _digest(aws, stack["SecretArn"]) != before


def test_management_turned_off_and_on_through_modify(aws):
    made = _create(aws)
    rds, sm = aws("rds"), aws("secretsmanager")
    with pytest.raises(rds.exceptions.ClientError, match="InvalidParameterCombination"):
        rds.modify_db_cluster(
            DBClusterIdentifier=made["Cluster"], ManageMasterUserPassword=False, ApplyImmediately=True
        )
    rds.modify_db_cluster(
        DBClusterIdentifier=made["Cluster"],
        ManageMasterUserPassword=False,
        MasterUserPassword="Selftest-" + uuid.uuid4().hex,
        ApplyImmediately=True,
    )
    assert _cluster(aws, made["Cluster"]).get("MasterUserSecret") is None
    with pytest.raises(sm.exceptions.ResourceNotFoundException):
        sm.describe_secret(SecretId=made["SecretArn"])  # RDS deletes its secret at once
    rds.modify_db_cluster(
        DBClusterIdentifier=made["Cluster"],
        ManageMasterUserPassword=True,
        MasterUserSecretKmsKeyId=made["KeyId"],
        ApplyImmediately=True,
    )
    again = _cluster(aws, made["Cluster"])["MasterUserSecret"]
    assert again["SecretArn"] != made["SecretArn"] and again["KmsKeyId"] == made["KeyArn"]
    assert sm.describe_secret(SecretId=again["SecretArn"])["OwningService"] == "rds"


def test_stack_delete_deletes_the_secret_keeps_the_key_and_snapshots_the_cluster(aws):
    made = _create(aws)
    cf, sm, kms, rds = aws("cloudformation"), aws("secretsmanager"), aws("kms"), aws("rds")
    cf.delete_stack(StackName=made["Name"])
    assert settled_stack(cf, made["Name"])["StackStatus"] == "DELETE_COMPLETE"
    with pytest.raises(sm.exceptions.ResourceNotFoundException):
        sm.describe_secret(SecretId=made["SecretArn"])
    key = kms.describe_key(KeyId=made["KeyArn"])["KeyMetadata"]
    assert key["KeyState"] == "Enabled"  # DeletionPolicy Retain
    snaps = rds.describe_db_cluster_snapshots(DBClusterIdentifier=made["Cluster"], SnapshotType="manual")
    (snap,) = snaps["DBClusterSnapshots"]
    assert snap["StorageEncrypted"] is True and snap["KmsKeyId"] == made["KeyArn"]


def test_key_deletion_is_scheduled_within_the_window_and_can_be_cancelled(aws):
    kms = aws("kms")
    key = kms.create_key()["KeyMetadata"]
    with pytest.raises(kms.exceptions.ClientError, match="between 7 and 30"):
        kms.schedule_key_deletion(KeyId=key["KeyId"], PendingWindowInDays=3)
    scheduled = kms.schedule_key_deletion(KeyId=key["KeyId"], PendingWindowInDays=7)
    meta = kms.describe_key(KeyId=key["KeyId"])["KeyMetadata"]
    assert meta["KeyState"] == "PendingDeletion" and meta["Enabled"] is False
    assert meta["DeletionDate"] == scheduled["DeletionDate"]
    assert meta["DeletionDate"] - meta["CreationDate"] >= timedelta(days=7) - timedelta(minutes=1)
    kms.cancel_key_deletion(KeyId=key["KeyId"])
    assert kms.describe_key(KeyId=key["KeyId"])["KeyMetadata"]["KeyState"] == "Disabled"
