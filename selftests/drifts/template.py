"""Drifts for the template suite (tests/template/): variant templates, checked without deploying."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from selftests.drifts.registry import drift, noop

Doc = dict[str, Any]
Change = Callable[[Doc], Doc]


def static(check: str, description: str, *, id: str, names: str) -> Callable[[Change], Change]:
    """Register a variant template (no stack deployed) that must turn ``check`` red naming ``names``."""

    def register(change: Change) -> Change:
        drift(check, description, id=id, template=change, deploy=False, names=lambda _ctx: names)(noop)
        return change

    return register


@static(
    "test_template_passes_cfn_lint",
    "a misspelt property on the VPC (EnableDnsSuport): cfn-lint E3002",
    id="template-lint-error",
    names="EnableDnsSuport",
)
def _lint_error(doc: Doc) -> Doc:
    doc["Resources"]["VPC"]["Properties"]["EnableDnsSuport"] = True  # a misspelt property
    return doc


@static(
    "test_template_declares_no_secret_parameter",
    "a NoEcho DBMasterPassword parameter is added",
    id="template-password-parameter",
    names="DBMasterPassword",
)
def _password_parameter(doc: Doc) -> Doc:
    doc["Parameters"]["DBMasterPassword"] = {"Type": "String", "NoEcho": True, "MinLength": 16}
    return doc


def _password_parameter_by_another_name(doc: Doc) -> Doc:
    """DBMasterPass: no NoEcho, a literal default, a CamelCase name, used as the master password."""
    doc["Parameters"]["DBMasterPass"] = {"Type": "String", "Default": "Payments-2026-initial!"}
    doc["Resources"]["AuroraCluster"]["Properties"]["MasterUserPassword"] = {"Ref": "DBMasterPass"}
    return doc


static(
    "test_template_declares_no_secret_parameter",
    "a DBMasterPass parameter (CamelCase, no NoEcho, a literal default) sets the Aurora master password",
    id="template-camelcase-password-parameter",
    names="DBMasterPass (used as AuroraCluster /MasterUserPassword)",
)(_password_parameter_by_another_name)
static(
    "test_template_secrets_only_through_dynamic_references",
    "the Aurora master password is set from a DBMasterPass parameter instead of Secrets Manager",
    id="template-master-password-from-parameter",
    names="AuroraCluster /MasterUserPassword (a secret-bearing property set from parameter DBMasterPass",
)(_password_parameter_by_another_name)


@static(
    "test_template_secrets_only_through_dynamic_references",
    "the Aurora master password is written into the template as a literal",
    id="template-literal-master-password",
    names="AuroraCluster /MasterUserPassword",
)
def _literal_password(doc: Doc) -> Doc:
    doc["Resources"]["AuroraCluster"]["Properties"]["MasterUserPassword"] = "Payments-2026-initial!"
    return doc


@static(
    "test_template_secrets_only_through_dynamic_references",
    "an access key id is put in the task definition's plain environment",
    id="template-access-key-in-environment",
    names="AWS_ACCESS_KEY_ID",
)
def _access_key_in_environment(doc: Doc) -> Doc:
    container = doc["Resources"]["TaskDefinition"]["Properties"]["ContainerDefinitions"][0]
    container.setdefault("Environment", []).append({"Name": "AWS_ACCESS_KEY_ID", "Value": "AKIAIOSFODNN7EXAMPLE"})
    return doc


@static(
    "test_template_parameters_match_environment_files_and_deployer",
    "the template gains a LogLevel parameter no environment file or deployer sets (a silent default)",
    id="template-parameter-unset",
    names="LogLevel",
)
def _extra_parameter(doc: Doc) -> Doc:
    doc["Parameters"]["LogLevel"] = {"Type": "String", "Default": "INFO"}
    return doc


@static(
    "test_template_declares_every_contract_output",
    "the KMSKeyArn output is dropped from the template",
    id="template-missing-output",
    names="KMSKeyArn",
)
def _missing_output(doc: Doc) -> Doc:
    del doc["Outputs"]["KMSKeyArn"]
    return doc


@static(
    "test_template_stateful_resources_declare_deletion_policies",
    "the transaction-logs bucket loses its DeletionPolicy (the default deletes it with the stack)",
    id="template-bucket-no-deletion-policy",
    names="TransactionLogsBucket",
)
def _bucket_without_policy(doc: Doc) -> Doc:
    doc["Resources"]["TransactionLogsBucket"].pop("DeletionPolicy", None)
    return doc


@static(
    "test_template_stateful_resources_declare_deletion_policies",
    "the Aurora cluster is deleted with the stack, without a final snapshot",
    id="template-cluster-deleted-without-snapshot",
    names="AuroraCluster",
)
def _cluster_deleted_with_stack(doc: Doc) -> Doc:
    doc["Resources"]["AuroraCluster"]["DeletionPolicy"] = "Delete"
    return doc


@static(
    "test_template_hardcodes_no_availability_zone",
    "the first public subnet is pinned to us-east-1a",
    id="template-hard-coded-zone",
    names="PublicSubnetA",
)
def _hard_coded_zone(doc: Doc) -> Doc:
    doc["Resources"]["PublicSubnetA"]["Properties"]["AvailabilityZone"] = "us-east-1a"
    return doc


@static(
    "test_template_resource_policies_grant_nothing_outside_the_account",
    'the key policy regains a statement allowing kms:Decrypt to {"AWS": "*"} under kms:CallerAccount',
    id="template-key-policy-star-principal",
    names="KMSKey: UseThroughServices allows kms:Decrypt to AWS:*",
)
def _key_policy_star(doc: Doc) -> Doc:
    doc["Resources"]["KMSKey"]["Properties"]["KeyPolicy"]["Statement"].append(
        {
            "Sid": "UseThroughServices",
            "Effect": "Allow",
            "Principal": {"AWS": "*"},
            "Action": "kms:Decrypt",
            "Resource": "*",
            "Condition": {"StringEquals": {"kms:CallerAccount": {"Ref": "AWS::AccountId"}}},
        }
    )
    return doc


@static(
    "test_template_resource_policies_grant_nothing_outside_the_account",
    "the topic policy's CloudWatch statement loses its source conditions",
    id="template-topic-policy-unbound-service",
    names="AlarmTopicPolicy: AllowCloudWatchAlarmsToPublish allows sns:Publish to Service:cloudwatch.amazonaws.com",
)
def _topic_policy_unbound(doc: Doc) -> Doc:
    for statement in doc["Resources"]["AlarmTopicPolicy"]["Properties"]["PolicyDocument"]["Statement"]:
        statement.pop("Condition", None)
    return doc


@static(
    "test_template_resource_policies_grant_nothing_outside_the_account",
    "the access-logs bucket grants the Region's ELB log-delivery account every object, not only its log folder",
    id="template-elb-delivery-account-widened",
    names="AccessLogsBucketPolicy: AllowLoadBalancerAccessLogDelivery allows s3:PutObject to "
    "AWS:arn:aws:iam::127311923021:root (account 127311923021, not 123456789012) (in us-east-1)",
)
def _elb_delivery_widened(doc: Doc) -> Doc:
    for statement in doc["Resources"]["AccessLogsBucketPolicy"]["Properties"]["PolicyDocument"]["Statement"]:
        if "Fn::If" in statement:  # [ElbLogsByAccount, the ELB account's grant, the service principal's]
            statement["Fn::If"][1]["Resource"] = {"Fn::Sub": "${AccessLogsBucket.Arn}/*"}
    return doc


@static(
    "test_template_retains_the_keys_of_kept_data",
    "the environment key is deleted with the stack while the bucket and the final snapshot it encrypts are kept",
    id="template-key-deleted-with-stack",
    names="KMSKey (DeletionPolicy Delete",
)
def _key_deleted_with_stack(doc: Doc) -> Doc:
    doc["Resources"]["KMSKey"]["DeletionPolicy"] = "Delete"
    return doc
