"""CIS AWS Foundations v3.0 4.1 to 4.15: what each metric filter on the trail's log group must match.

Each item is the CloudTrail events (their fields as CloudTrail writes them to CloudWatch Logs)
that CIS's filter pattern for it matches: a filter on the trail's log group conforms when its
pattern, read as CloudWatch Logs reads it (tests/account/filterpattern.py), matches every one of
them, whatever its text. A pattern that drops an event name, or a condition that excludes one
of them, leaves that item unmonitored.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Item:
    cis: str  # the CIS AWS Foundations v3.0 recommendation, "4.1"
    what: str
    events: tuple[dict[str, Any], ...]


def _calls(source: str, *names: str) -> tuple[dict[str, Any], ...]:
    """One management event per API call name, by an IAM user, as CloudTrail records it."""
    return tuple(
        {
            "eventVersion": "1.09",
            "eventSource": source,
            "eventName": name,
            "eventType": "AwsApiCall",
            "userIdentity": {"type": "IAMUser", "userName": "operator"},
            "sourceIPAddress": "203.0.113.10",
            "awsRegion": "us-east-1",
        }
        for name in names
    )


_CONSOLE = {"eventSource": "signin.amazonaws.com", "eventName": "ConsoleLogin", "eventType": "AwsConsoleSignIn"}

ITEMS: tuple[Item, ...] = (
    Item(
        "4.1",
        "unauthorized API calls",
        (
            {**_calls("ec2.amazonaws.com", "RunInstances")[0], "errorCode": "Client.UnauthorizedOperation"},
            {**_calls("s3.amazonaws.com", "GetObject")[0], "errorCode": "AccessDenied"},
            {**_calls("iam.amazonaws.com", "ListUsers")[0], "errorCode": "AccessDeniedException"},
        ),
    ),
    Item(
        "4.2",
        "console sign-in without MFA",
        (
            {
                **_CONSOLE,
                "userIdentity": {"type": "IAMUser", "userName": "operator"},
                "responseElements": {"ConsoleLogin": "Success"},
                "additionalEventData": {"MFAUsed": "No"},
            },
        ),
    ),
    Item(
        "4.3",
        "use of the root user",
        (
            {**_calls("iam.amazonaws.com", "CreateUser")[0], "userIdentity": {"type": "Root"}},
            {
                **_CONSOLE,
                "userIdentity": {"type": "Root"},
                "responseElements": {"ConsoleLogin": "Success"},
                "additionalEventData": {"MFAUsed": "Yes"},
            },
        ),
    ),
    Item(
        "4.4",
        "IAM policy changes",
        _calls(
            "iam.amazonaws.com",
            "DeleteGroupPolicy",
            "DeleteRolePolicy",
            "DeleteUserPolicy",
            "PutGroupPolicy",
            "PutRolePolicy",
            "PutUserPolicy",
            "CreatePolicy",
            "DeletePolicy",
            "CreatePolicyVersion",
            "DeletePolicyVersion",
            "AttachRolePolicy",
            "DetachRolePolicy",
            "AttachUserPolicy",
            "DetachUserPolicy",
            "AttachGroupPolicy",
            "DetachGroupPolicy",
        ),
    ),
    Item(
        "4.5",
        "CloudTrail configuration changes",
        _calls("cloudtrail.amazonaws.com", "CreateTrail", "UpdateTrail", "DeleteTrail", "StartLogging", "StopLogging"),
    ),
    Item(
        "4.6",
        "console authentication failures",
        (
            {
                **_CONSOLE,
                "userIdentity": {"type": "IAMUser", "userName": "operator"},
                "responseElements": {"ConsoleLogin": "Failure"},
                "errorMessage": "Failed authentication",
            },
        ),
    ),
    Item(
        "4.7",
        "disabling or scheduled deletion of KMS keys",
        _calls("kms.amazonaws.com", "DisableKey", "ScheduleKeyDeletion"),
    ),
    Item(
        "4.8",
        "S3 bucket policy changes",
        _calls(
            "s3.amazonaws.com",
            "PutBucketAcl",
            "PutBucketPolicy",
            "PutBucketCors",
            "PutBucketLifecycle",
            "PutBucketReplication",
            "DeleteBucketPolicy",
            "DeleteBucketCors",
            "DeleteBucketLifecycle",
            "DeleteBucketReplication",
        ),
    ),
    Item(
        "4.9",
        "AWS Config configuration changes",
        _calls(
            "config.amazonaws.com",
            "StopConfigurationRecorder",
            "DeleteDeliveryChannel",
            "PutDeliveryChannel",
            "PutConfigurationRecorder",
        ),
    ),
    Item(
        "4.10",
        "security group changes",
        _calls(
            "ec2.amazonaws.com",
            "AuthorizeSecurityGroupIngress",
            "AuthorizeSecurityGroupEgress",
            "RevokeSecurityGroupIngress",
            "RevokeSecurityGroupEgress",
            "CreateSecurityGroup",
            "DeleteSecurityGroup",
        ),
    ),
    Item(
        "4.11",
        "network ACL changes",
        _calls(
            "ec2.amazonaws.com",
            "CreateNetworkAcl",
            "CreateNetworkAclEntry",
            "DeleteNetworkAcl",
            "DeleteNetworkAclEntry",
            "ReplaceNetworkAclEntry",
            "ReplaceNetworkAclAssociation",
        ),
    ),
    Item(
        "4.12",
        "network gateway changes",
        _calls(
            "ec2.amazonaws.com",
            "CreateCustomerGateway",
            "DeleteCustomerGateway",
            "AttachInternetGateway",
            "CreateInternetGateway",
            "DeleteInternetGateway",
            "DetachInternetGateway",
        ),
    ),
    Item(
        "4.13",
        "route table changes",
        _calls(
            "ec2.amazonaws.com",
            "CreateRoute",
            "CreateRouteTable",
            "ReplaceRoute",
            "ReplaceRouteTableAssociation",
            "DeleteRouteTable",
            "DeleteRoute",
            "DisassociateRouteTable",
        ),
    ),
    Item(
        "4.14",
        "VPC changes",
        _calls(
            "ec2.amazonaws.com",
            "CreateVpc",
            "DeleteVpc",
            "ModifyVpcAttribute",
            "AcceptVpcPeeringConnection",
            "CreateVpcPeeringConnection",
            "DeleteVpcPeeringConnection",
            "RejectVpcPeeringConnection",
            "AttachClassicLinkVpc",
            "DetachClassicLinkVpc",
            "DisableVpcClassicLink",
            "EnableVpcClassicLink",
        ),
    ),
    Item(
        "4.15",
        "AWS Organizations changes",
        _calls(
            "organizations.amazonaws.com",
            "AcceptHandshake",
            "AttachPolicy",
            "CreateAccount",
            "CreateOrganizationalUnit",
            "CreatePolicy",
            "DeclineHandshake",
            "DeleteOrganization",
            "DeleteOrganizationalUnit",
            "DeletePolicy",
            "DetachPolicy",
            "DisablePolicyType",
            "EnablePolicyType",
            "InviteAccountToOrganization",
            "LeaveOrganization",
            "MoveAccount",
            "RemoveAccountFromOrganization",
            "UpdatePolicy",
            "UpdateOrganizationalUnit",
        ),
    ),
)
