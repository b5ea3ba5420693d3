"""Issue 5, scenario 8: the Elastic IP quota exhausted in the environment's region.

The region's addresses are allocated through the API until the stack's three no longer fit;
``python -m deploy up`` then stops before CreateStack (exit 3, one sentence with the numbers
and a candidate region with room), and ``--region auto`` lands in the next candidate region.
"""

from __future__ import annotations

import subprocess
import sys

import boto3
import pytest

from core.aws import AwsSession
from core.errors import ExitCode
from core.selfsigned import import_self_signed
from core.spec import load_environment
from deploy.deployer import Deployer
from deploy.preflight import CertificateMissing, QuotaExhausted, template_needs
from selftests.cli.test_bad_input import REPO, _env


def _ec2(emulator, region: str):
    return boto3.client(
        "ec2", region_name=region, endpoint_url=emulator.endpoint_url,
        aws_access_key_id="test", aws_secret_access_key="test",
    )  # fmt: skip


def _quota(emulator, region: str) -> int:
    sq = boto3.client(
        "service-quotas", region_name=region, endpoint_url=emulator.endpoint_url,
        aws_access_key_id="test", aws_secret_access_key="test",
    )  # fmt: skip
    return int(sq.get_service_quota(ServiceCode="ec2", QuotaCode="L-0263D0A3")["Quota"]["Value"])


def _fill(emulator, region: str, leave: int) -> int:
    """Allocate addresses in a region through the API until only ``leave`` fit under its quota; return how
    many are in use."""
    ec2 = _ec2(emulator, region)
    while len(ec2.describe_addresses()["Addresses"]) < _quota(emulator, region) - leave:
        ec2.allocate_address(Domain="vpc")
    return len(ec2.describe_addresses()["Addresses"])


@pytest.fixture
def exhausted(emulator):
    emulator.reset()
    in_use = _fill(emulator, "us-east-1", leave=2)  # dev needs 3: no room left in us-east-1
    yield emulator, in_use
    emulator.reset()


def _deploy(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "deploy", *args], cwd=REPO, env=_env(), capture_output=True, text=True, timeout=300
    )


def test_the_template_needs_three_eips_and_three_nat_gateways_in_dev():
    need = template_needs(load_environment("dev"))
    assert (need.eips, need.nat_gateways) == (3, 3)


def test_no_room_stops_before_create_stack_with_the_numbers_and_a_region_with_room(exhausted):
    emulator, in_use = exhausted
    assert in_use == 13  # of 15
    session = AwsSession(region="us-east-1", endpoint_url=emulator.endpoint_url)
    spec = load_environment("dev").with_overrides(suffix="pf")
    with pytest.raises(QuotaExhausted) as caught:
        Deployer(spec, session, out=lambda _l: None).up()
    message = str(caught.value)
    assert "needs 3 Elastic IPs, 13 in use, quota 15" in message, message
    assert "us-east-2 has room" in message and "--region auto" in message, message
    assert caught.value.exit_code == 3
    assert "cloudformation:CreateStack" not in session.call_log.calls
    assert session.call_log.calls["service-quotas:GetServiceQuota"] >= 1


def test_cli_refuses_with_exit_3_and_region_auto_lands_in_the_next_candidate(exhausted):
    emulator, _ = exhausted
    url = f"--endpoint-url={emulator.endpoint_url}"
    refused = _deploy("up", "--env", "dev", "--suffix", "pfcli", url)
    assert refused.returncode == 3, refused.stderr
    (line,) = [ln for ln in refused.stderr.splitlines() if ln.strip()]
    assert "needs 3 Elastic IPs, 13 in use, quota 15" in line and "us-east-2 has room" in line, line
    cfn = boto3.client(
        "cloudformation", region_name="us-east-1", endpoint_url=emulator.endpoint_url,
        aws_access_key_id="test", aws_secret_access_key="test",
    )  # fmt: skip
    assert [s for s in cfn.list_stacks()["StackSummaries"] if s["StackStatus"] != "DELETE_COMPLETE"] == []

    auto = _deploy("up", "--env", "dev", "--suffix", "pfcli", "--region", "auto", url)
    assert auto.returncode == 0, auto.stderr[-2000:]
    assert "--region auto chose us-east-2 (needs 3 Elastic IPs, 0 in use, quota 15" in auto.stdout, auto.stdout[:2000]
    assert "creating in us-east-2" in auto.stdout
    assert len(_ec2(emulator, "us-east-2").describe_addresses()["Addresses"]) == 3
    # again: the stack is found where it is and updated, with no preflight
    again = _deploy("up", "--env", "dev", "--suffix", "pfcli", "--region", "auto", url)
    assert again.returncode == 0, again.stderr[-2000:]
    assert "already exists in us-east-2" in again.stdout and "no changes" in again.stdout


def test_pytest_deploy_with_region_auto_deploys_and_checks_in_the_next_candidate(exhausted, tmp_path):
    emulator, _ = exhausted
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-n", "0", "--env=dev", "--suffix=pfpy",
         f"--endpoint-url={emulator.endpoint_url}", "--deploy", "--region=auto", f"--run-dir={tmp_path / 'run'}",
         f"--alluredir={tmp_path / 'allure'}", "tests/storage"],
        cwd=REPO, env=_env(), capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    out = run.stdout + run.stderr
    assert run.returncode == 0, out[-4000:]
    assert "--region auto chose us-east-2" in out, out[-4000:]
    assert "stack payments-dev-pfpy in us-east-2" in out, out[-4000:]
    assert len(_ec2(emulator, "us-east-2").describe_addresses()["Addresses"]) == 3
    assert len(_ec2(emulator, "us-east-1").describe_addresses()["Addresses"]) == 13  # untouched


def test_nat_gateways_per_az_at_the_quota_stop_before_create_stack(emulator):
    """The Elastic IPs fit, but one AZ already holds its quota of NAT gateways (private ones: no address)."""
    emulator.reset()
    ec2 = _ec2(emulator, "us-east-1")
    vpc = ec2.create_vpc(CidrBlock="10.99.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.99.1.0/24", AvailabilityZone="us-east-1a")["Subnet"]
    sq = boto3.client(
        "service-quotas", region_name="us-east-1", endpoint_url=emulator.endpoint_url,
        aws_access_key_id="test", aws_secret_access_key="test",
    )  # fmt: skip
    quota = int(sq.get_service_quota(ServiceCode="vpc", QuotaCode="L-FE5A380F")["Quota"]["Value"])
    for _ in range(quota):
        ec2.create_nat_gateway(SubnetId=subnet["SubnetId"], ConnectivityType="private")
    try:
        session = AwsSession(region="us-east-1", endpoint_url=emulator.endpoint_url)
        spec = load_environment("dev").with_overrides(suffix="pfnat")
        with pytest.raises(QuotaExhausted) as caught:
            Deployer(spec, session, out=lambda _l: None).up()
        message = str(caught.value)
        assert f"needs 1 NAT gateway per AZ, {quota} in its busiest AZ, quota {quota} per AZ" in message, message
        assert "us-east-2 has room" in message, message
        assert "cloudformation:CreateStack" not in session.call_log.calls
    finally:
        emulator.reset()


def test_a_certificate_not_in_acm_stops_before_create_stack_naming_parameter_file_and_fix(emulator):
    """The environment file's certificate_arn is the real account's: on an account (here the emulator,
    whose load balancers refuse it as AWS does) without it the deployer stops with exit 4 before any
    write, one sentence naming the parameter, the file and the fix."""
    emulator.reset()
    session = AwsSession(region="us-east-1", endpoint_url=emulator.endpoint_url)
    spec = load_environment("dev").with_overrides(suffix="cert")
    with pytest.raises(CertificateMissing) as caught:
        Deployer(spec, session, out=lambda _l: None).up()
    message = str(caught.value)
    assert caught.value.exit_code == ExitCode.USAGE == 4
    assert message.startswith("deploy/environments/dev.yaml: certificate_arn "), message
    assert spec.certificate_arn in message and "does not exist in ACM" in message, message
    assert "set certificate_arn in deploy/environments/dev.yaml" in message and "nothing was created" in message
    assert message.count(". ") == 0 and message.endswith("."), message  # one sentence
    writes = [c for c in session.call_log.calls if c.split(":", 1)[1] in ("CreateStack", "CreateBucket", "PutObject")]
    assert writes == [], writes
    cfn = session.client("cloudformation")
    assert [s for s in cfn.list_stacks()["StackSummaries"] if s["StackName"] == spec.stack_name] == []


def test_a_certificate_of_another_region_or_deleted_is_refused_and_an_imported_one_deploys(emulator):
    emulator.reset()
    session = AwsSession(region="us-east-1", endpoint_url=emulator.endpoint_url)
    west = AwsSession(region="us-west-2", endpoint_url=emulator.endpoint_url)
    base = load_environment("dev").with_overrides(suffix="cert2")
    other = import_self_signed(west.client("acm"), "us-west-2")
    with pytest.raises(CertificateMissing, match="is in us-west-2 but payments-dev-cert2 deploys in us-east-1"):
        Deployer(base.with_overrides(certificate_arn=other), session, out=lambda _l: None).up()
    acm = session.client("acm")
    gone = import_self_signed(acm, "us-east-1")
    acm.delete_certificate(CertificateArn=gone)
    with pytest.raises(CertificateMissing, match="does not exist in ACM"):
        Deployer(base.with_overrides(certificate_arn=gone), session, out=lambda _l: None).up()
    imported = import_self_signed(acm, "us-east-1")
    outputs = Deployer(base.with_overrides(certificate_arn=imported), session, out=lambda _l: None).up()
    assert outputs.LoadBalancerDNS
