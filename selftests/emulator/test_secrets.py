"""Self-tests of ``emulator/faithful/secrets.py``: the database secret as CloudFormation makes it.

Real emulator process, real boto3: stacks with generated secrets (Ref / GetAtt, the
generator's rules over several draws), a SecretTargetAttachment to an Aurora cluster, a
stack update, drift detection, API drifts and a stack delete.
"""

from __future__ import annotations

import json
import string
import uuid

import pytest

from selftests.emulator.platform import settled_stack

DRAWS = 8

TEMPLATE = """
AWSTemplateFormatVersion: '2010-09-09'
Parameters:
  Name: {Type: String}
  Description: {Type: String, Default: master credentials}
Resources:
  Key:
    Type: AWS::KMS::Key
    Properties:
      KeyPolicy:
        Version: '2012-10-17'
        Statement:
          - Effect: Allow
            Principal: {AWS: !Sub 'arn:aws:iam::${AWS::AccountId}:root'}
            Action: 'kms:*'
            Resource: '*'
  Secret:
    Type: AWS::SecretsManager::Secret
    Properties:
      Name: !Sub '${Name}-db'
      Description: !Ref Description
      KmsKeyId: !Ref Key
      GenerateSecretString:
        SecretStringTemplate: '{"username": "dbadmin"}'
        GenerateStringKey: password
        PasswordLength: 32
        ExcludeCharacters: '"@/\\'
        RequireEachIncludedType: true
      Tags: [{Key: Application, Value: payments}]
%(draws)s
  Cluster:
    Type: AWS::RDS::DBCluster
    DeletionPolicy: Delete
    Properties:
      DBClusterIdentifier: !Sub '${Name}-aurora'
      Engine: aurora-mysql
      EngineVersion: 8.0.mysql_aurora.3.08.0
      MasterUsername: !Sub '{{resolve:secretsmanager:${Secret}:SecretString:username}}'
      MasterUserPassword: !Sub '{{resolve:secretsmanager:${Secret}:SecretString:password}}'
  Attachment:
    Type: AWS::SecretsManager::SecretTargetAttachment
    Properties:
      SecretId: !Ref Secret
      TargetId: !Ref Cluster
      TargetType: AWS::RDS::DBCluster
Outputs:
  SecretRef: {Value: !Ref Secret}
  SecretId: {Value: !GetAtt Secret.Id}
  KeyId: {Value: !Ref Key}
  KeyArn: {Value: !GetAtt Key.Arn}
  ClusterId: {Value: !Ref Cluster}
  ClusterEndpoint: {Value: !GetAtt Cluster.Endpoint.Address}
  AttachmentRef: {Value: !Ref Attachment}
"""

DRAW = """
  Draw%(i)d:
    Type: AWS::SecretsManager::Secret
    Properties:
      Name: !Sub '${Name}-draw%(i)d'
      GenerateSecretString:
        PasswordLength: 32
        ExcludeCharacters: '"@/\\'
        RequireEachIncludedType: true"""


def _template() -> str:
    return TEMPLATE % {"draws": "".join(DRAW % {"i": i} for i in range(DRAWS))}


@pytest.fixture(scope="module")
def stack(aws):
    name = f"fsm{uuid.uuid4().hex[:8]}"
    cf = aws("cloudformation")
    cf.create_stack(
        StackName=name,
        TemplateBody=_template(),
        Parameters=[{"ParameterKey": "Name", "ParameterValue": name}],
    )
    created = settled_stack(cf, name)
    assert created["StackStatus"] == "CREATE_COMPLETE", created.get("StackStatusReason")
    outputs = {o["OutputKey"]: o["OutputValue"] for o in created["Outputs"]}
    outputs["Name"] = name
    return outputs


def _value(aws, secret_id: str) -> str:
    return aws("secretsmanager").get_secret_value(SecretId=secret_id)["SecretString"]


def test_ref_and_getatt_id_are_the_secret_arn(aws, stack):
    described = aws("secretsmanager").describe_secret(SecretId=stack["SecretRef"])
    assert stack["SecretRef"].startswith("arn:aws:secretsmanager:us-east-1:")
    assert stack["SecretRef"] == stack["SecretId"] == described["ARN"]
    assert described["Name"] == f"{stack['Name']}-db"
    resource = aws("cloudformation").describe_stack_resource(StackName=stack["Name"], LogicalResourceId="Secret")
    assert resource["StackResourceDetail"]["PhysicalResourceId"] == described["ARN"]


def test_generated_password_follows_the_rules(aws, stack):
    doc = json.loads(_value(aws, stack["SecretRef"]))
    passwords = [doc["password"]] + [_value(aws, f"{stack['Name']}-draw{i}") for i in range(DRAWS)]
    assert len(set(passwords)) == len(passwords)
    for password in passwords:
        assert len(password) == 32
        assert not set(password) & set('"@/\\')
        assert set(password) & set(string.ascii_lowercase)
        assert set(password) & set(string.ascii_uppercase)
        assert set(password) & set(string.digits)
        assert set(password) & set(string.punctuation)


def test_template_and_attachment_make_the_aws_json(aws, stack):
    doc = json.loads(_value(aws, stack["SecretRef"]))
    assert doc["username"] == "dbadmin"
    assert doc["engine"] == "mysql"
    assert doc["host"] == stack["ClusterEndpoint"]
    assert doc["port"] == 3306
    assert doc["dbClusterIdentifier"] == stack["ClusterId"]
    assert stack["AttachmentRef"] == stack["SecretRef"]


def test_kms_key_kept(aws, stack):
    described = aws("secretsmanager").describe_secret(SecretId=stack["SecretRef"])
    # Kept as given; compare keys through KMS, never as strings.
    key = aws("kms").describe_key(KeyId=described["KmsKeyId"])["KeyMetadata"]
    assert key["Arn"] == stack["KeyArn"]


def test_drift_detection_finds_the_secret(aws, stack):
    cf = aws("cloudformation")
    drift = cf.detect_stack_resource_drift(StackName=stack["Name"], LogicalResourceId="Secret")["StackResourceDrift"]
    assert drift["StackResourceDriftStatus"] == "IN_SYNC"
    assert drift["PhysicalResourceId"] == stack["SecretRef"]


def test_update_keeps_the_arn_and_value_and_api_drift_shows(aws):
    name = f"fsm{uuid.uuid4().hex[:8]}"
    cf = aws("cloudformation")
    sm = aws("secretsmanager")
    params = [{"ParameterKey": "Name", "ParameterValue": name}]
    cf.create_stack(StackName=name, TemplateBody=_template(), Parameters=params)
    assert settled_stack(cf, name)["StackStatus"] == "CREATE_COMPLETE"
    arn = cf.describe_stack_resource(StackName=name, LogicalResourceId="Secret")["StackResourceDetail"][
        "PhysicalResourceId"
    ]
    before = json.loads(_value(aws, arn))

    cf.update_stack(
        StackName=name,
        UsePreviousTemplate=True,
        Parameters=[*params, {"ParameterKey": "Description", "ParameterValue": "rotated by hand"}],
    )
    assert settled_stack(cf, name)["StackStatus"] == "UPDATE_COMPLETE"
    described = sm.describe_secret(SecretId=arn)
    assert described["ARN"] == arn
    assert described["Description"] == "rotated by hand"
    assert json.loads(_value(aws, arn))["password"] == before["password"]

    sm.put_secret_value(SecretId=arn, SecretString=json.dumps({**before, "password": "changed-outside"}))
    assert json.loads(_value(aws, arn))["password"] == "changed-outside"

    cf.delete_stack(StackName=name)
    assert settled_stack(cf, name)["StackStatus"] == "DELETE_COMPLETE"
    try:
        gone = sm.describe_secret(SecretId=arn)
    except sm.exceptions.ResourceNotFoundException:
        return
    assert gone.get("DeletedDate") is not None
