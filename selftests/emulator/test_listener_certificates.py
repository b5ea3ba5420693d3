"""``emulator/faithful/tls.py``: a listener refuses a certificate ACM does not hold, as AWS does.

Real emulator process, real boto3 calls: CreateListener and ModifyListener with a placeholder
certificate ARN, with one of another region, and with an imported one; AddListenerCertificates
likewise (and the listener's certificate list); then a stack whose HTTPS
listener names a placeholder, which fails CREATE naming the certificate and rolls back.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from core.selfsigned import import_self_signed
from selftests.emulator.platform import settled_stack

FIXED_OK = {"StatusCode": "200", "ContentType": "text/plain", "MessageBody": "ok"}


def _placeholder(account: str, region: str = "us-east-1") -> str:
    return f"arn:aws:acm:{region}:{account}:certificate/{uuid.uuid4()}"


def _subnets(ec2: Any) -> list[str]:
    vpc = ec2.create_vpc(CidrBlock="10.9.0.0/16")["Vpc"]["VpcId"]
    return [
        ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.9.{i}.0/24", AvailabilityZone=f"us-east-1{z}")["Subnet"]["SubnetId"]
        for i, z in enumerate("ab")
    ]


@pytest.fixture
def lb(aws: Any, emulator: Any) -> dict[str, Any]:
    emulator.reset()
    elb = aws("elbv2")
    return elb.create_load_balancer(Name=f"cert-{uuid.uuid4().hex[:8]}", Subnets=_subnets(aws("ec2")))["LoadBalancers"][
        0
    ]


def _https(elb: Any, lb_arn: str, cert_arn: str) -> dict[str, Any]:
    return elb.create_listener(
        LoadBalancerArn=lb_arn, Port=443, Protocol="HTTPS", SslPolicy="ELBSecurityPolicy-TLS13-1-2-2021-06",
        Certificates=[{"CertificateArn": cert_arn}],
        DefaultActions=[{"Type": "fixed-response", "FixedResponseConfig": FIXED_OK}],
    )["Listeners"][0]  # fmt: skip


def _refused(call: Any, arn: str) -> None:
    with pytest.raises(ClientError) as info:
        call()
    err = info.value.response
    assert err["Error"]["Code"] == "CertificateNotFound", err
    assert err["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert err["Error"]["Message"] == f"Certificate '{arn}' not found"


def test_create_listener_refuses_a_certificate_acm_does_not_hold(aws, lb):
    elb, account = aws("elbv2"), aws("sts").get_caller_identity()["Account"]
    placeholder = _placeholder(account)
    _refused(lambda: _https(elb, lb["LoadBalancerArn"], placeholder), placeholder)
    assert elb.describe_listeners(LoadBalancerArn=lb["LoadBalancerArn"])["Listeners"] == []
    # not an ACM ARN at all
    _refused(lambda: _https(elb, lb["LoadBalancerArn"], "placeholder"), "placeholder")
    # imported: accepted
    imported = import_self_signed(aws("acm"), "us-east-1")
    listener = _https(elb, lb["LoadBalancerArn"], imported)
    assert listener["Certificates"] == [{"CertificateArn": imported}]


def test_a_certificate_of_another_region_is_refused(aws, emulator, lb):
    elb = aws("elbv2")
    west = boto3.client(
        "acm", region_name="us-west-2", endpoint_url=emulator.endpoint_url,
        aws_access_key_id="test", aws_secret_access_key="test",
    )  # fmt: skip
    other = import_self_signed(west, "us-west-2")
    assert west.describe_certificate(CertificateArn=other)["Certificate"]["Status"] == "ISSUED"
    _refused(lambda: _https(elb, lb["LoadBalancerArn"], other), other)


def test_modify_listener_refuses_a_certificate_acm_does_not_hold_and_keeps_the_old_one(aws, lb):
    elb, acm = aws("elbv2"), aws("acm")
    imported = import_self_signed(acm, "us-east-1")
    listener = _https(elb, lb["LoadBalancerArn"], imported)
    placeholder = _placeholder(aws("sts").get_caller_identity()["Account"])

    def modify(arn: str) -> Any:
        return elb.modify_listener(ListenerArn=listener["ListenerArn"], Certificates=[{"CertificateArn": arn}])

    _refused(lambda: modify(placeholder), placeholder)
    # a certificate deleted from ACM is gone for ELB too
    gone = import_self_signed(acm, "us-east-1")
    acm.delete_certificate(CertificateArn=gone)
    _refused(lambda: modify(gone), gone)
    seen = elb.describe_listeners(ListenerArns=[listener["ListenerArn"]])["Listeners"][0]
    assert seen["Certificates"] == [{"CertificateArn": imported}]
    fresh = import_self_signed(acm, "us-east-1")
    elb.modify_listener(ListenerArn=listener["ListenerArn"], Certificates=[{"CertificateArn": fresh}])
    seen = elb.describe_listeners(ListenerArns=[listener["ListenerArn"]])["Listeners"][0]
    assert seen["Certificates"] == [{"CertificateArn": fresh}]


def test_listener_certificate_list_refuses_unknown_ones_and_keeps_the_default(aws, lb):
    elb, acm = aws("elbv2"), aws("acm")
    default = import_self_signed(acm, "us-east-1")
    listener = _https(elb, lb["LoadBalancerArn"], default)["ListenerArn"]
    placeholder = _placeholder(aws("sts").get_caller_identity()["Account"])
    _refused(
        lambda: elb.add_listener_certificates(ListenerArn=listener, Certificates=[{"CertificateArn": placeholder}]),
        placeholder,
    )
    extra = import_self_signed(acm, "us-east-1")
    added = elb.add_listener_certificates(ListenerArn=listener, Certificates=[{"CertificateArn": extra}])
    assert added["Certificates"] == [{"CertificateArn": extra, "IsDefault": False}]
    listed = elb.describe_listener_certificates(ListenerArn=listener)["Certificates"]
    assert listed == [{"CertificateArn": default, "IsDefault": True}, {"CertificateArn": extra, "IsDefault": False}]
    with pytest.raises(ClientError) as info:
        elb.remove_listener_certificates(ListenerArn=listener, Certificates=[{"CertificateArn": default}])
    assert info.value.response["Error"]["Code"] == "OperationNotPermitted"
    elb.remove_listener_certificates(ListenerArn=listener, Certificates=[{"CertificateArn": extra}])
    listed = elb.describe_listener_certificates(ListenerArn=listener)["Certificates"]
    assert listed == [{"CertificateArn": default, "IsDefault": True}]
    # DescribeListeners shows the default certificate only, as AWS does
    seen = elb.describe_listeners(ListenerArns=[listener])["Listeners"][0]
    assert seen["Certificates"] == [{"CertificateArn": default}]


def _template(subnets: list[str], cert_arn: str) -> str:
    return json.dumps(
        {
            "Resources": {
                "Alb": {
                    "Type": "AWS::ElasticLoadBalancingV2::LoadBalancer",
                    "Properties": {"Name": "cert-cfn-lb", "Subnets": subnets},
                },
                "Https": {
                    "Type": "AWS::ElasticLoadBalancingV2::Listener",
                    "Properties": {
                        "LoadBalancerArn": {"Ref": "Alb"},
                        "Port": 443,
                        "Protocol": "HTTPS",
                        "SslPolicy": "ELBSecurityPolicy-TLS13-1-2-2021-06",
                        "Certificates": [{"CertificateArn": cert_arn}],
                        "DefaultActions": [{"Type": "fixed-response", "FixedResponseConfig": FIXED_OK}],
                    },
                },
            }
        }
    )


def test_a_stack_with_a_placeholder_certificate_fails_naming_it_and_rolls_back(aws, emulator):
    emulator.reset()
    cfn, elb = aws("cloudformation"), aws("elbv2")
    subnets = _subnets(aws("ec2"))
    placeholder = _placeholder(aws("sts").get_caller_identity()["Account"])
    cfn.create_stack(StackName="cert-bad", TemplateBody=_template(subnets, placeholder))
    assert settled_stack(cfn, "cert-bad")["StackStatus"] == "ROLLBACK_COMPLETE"
    reasons = [
        e.get("ResourceStatusReason", "")
        for e in cfn.describe_stack_events(StackName="cert-bad")["StackEvents"]
        if e["LogicalResourceId"] == "Https" and e["ResourceStatus"] == "CREATE_FAILED"
    ]
    assert reasons and f"Certificate '{placeholder}' not found" in reasons[0], reasons
    assert "CertificateNotFound" in reasons[0]
    names = [lb["LoadBalancerName"] for lb in elb.describe_load_balancers()["LoadBalancers"]]
    assert "cert-cfn-lb" not in names, names  # the rollback deleted the load balancer made before
    # the same template with an imported certificate deploys
    imported = import_self_signed(aws("acm"), "us-east-1")
    cfn.create_stack(StackName="cert-good", TemplateBody=_template(subnets, imported))
    assert settled_stack(cfn, "cert-good")["StackStatus"] == "CREATE_COMPLETE"
