"""The consistency suite over environments in two Regions: what the Region explains is no difference,
a genuine difference in security settings still is.

Real emulator, the project's deployers, the real suite in attach mode: dev in us-east-1 and dev-b (the
same tier, suffix b, its own CIDR) in us-east-2, one account. Their application egress names S3's
managed prefix list of each Region (``pl-63a5400a``, ``pl-7ba54012``), the VPC endpoint services carry
the Region (``com.amazonaws.<region>.*``) and the log bucket policy grants each Region's ELB
log-delivery account; then dev-b's HTTPS egress is moved to another prefix list (DynamoDB's), which
the suite must report.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import yaml

from core.account import account_scopes
from core.aws import AwsSession
from core.rehearsalimage import with_rehearsal_image
from core.selfsigned import with_self_signed_certificate
from core.spec import ENVIRONMENTS_DIR, load_environment
from deploy.account import AccountDeployer
from deploy.deployer import Deployer
from selftests.drifts.runner import REPO, CheckResult, clean_env, parse_junit

SECURITY = "test_security_settings_are_identical_everywhere"
DECLARED = "test_environments_differ_only_as_declared"


def _two_regions(directory: Path) -> Path:
    (directory / "dev.yaml").write_text((ENVIRONMENTS_DIR / "dev.yaml").read_text())
    data = yaml.safe_load((ENVIRONMENTS_DIR / "dev.yaml").read_text())
    data["name"], data["region"] = "dev-b", "us-east-2"
    data["parameters"] |= {"EnvironmentSuffix": "b", "VpcCidr": "10.12.0.0/16"}
    (directory / "dev-b.yaml").write_text(yaml.safe_dump(data, sort_keys=False))
    return directory


def _consistency(endpoint_url: str, env_dir: Path, workdir: Path) -> tuple[dict[str, CheckResult], str]:
    junit = workdir / "junit.xml"
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-p", "no:pytest_httpserver", "-o", "addopts=",
         "-n", "0", "-q", f"--endpoint-url={endpoint_url}", f"--junitxml={junit}", f"--run-dir={workdir / 'run'}",
         "--env=dev", "--env=dev-b", "tests/consistency"],
        cwd=REPO, env={**clean_env(), "PAYMENTS_ENVIRONMENTS_DIR": str(env_dir)},
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    return parse_junit(junit), proc.stdout[-3000:] + proc.stderr[-2000:]


def test_consistency_across_two_regions_normalises_only_the_region(emulator, tmp_path):
    emulator.reset()
    env_dir = tmp_path / "envs"
    env_dir.mkdir()
    _two_regions(env_dir)
    specs = {name: load_environment(name, env_dir) for name in ("dev", "dev-b")}
    for scope in account_scopes(specs).values():
        first = specs[scope.environments[0]]
        AccountDeployer(scope, first, AwsSession(region=scope.region, endpoint_url=emulator.endpoint_url),
                        out=lambda _line: None).apply()  # fmt: skip
    for spec in specs.values():
        aws = AwsSession(region=spec.region, endpoint_url=emulator.endpoint_url)
        Deployer(with_rehearsal_image(with_self_signed_certificate(spec, aws), aws), aws, out=lambda _line: None).up()

    results, output = _consistency(emulator.endpoint_url, env_dir, tmp_path / "alike")
    for check in (SECURITY, DECLARED):
        assert check in results, output
        assert results[check].outcome == "passed", results[check].message[:1500]

    # a genuine difference: dev-b's application tasks reach DynamoDB's prefix list on 443, not S3's
    ec2 = AwsSession(region="us-east-2", endpoint_url=emulator.endpoint_url).client("ec2")
    by_name = [{"Name": "group-name", "Values": ["payments-dev-b-app-sg"]}]
    group = ec2.describe_security_groups(Filters=by_name)["SecurityGroups"][0]
    lists = {p["PrefixListName"]: p["PrefixListId"] for p in ec2.describe_prefix_lists()["PrefixLists"]}
    s3, dynamodb = lists["com.amazonaws.us-east-2.s3"], lists["com.amazonaws.us-east-2.dynamodb"]
    rule = {"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443}
    ec2.revoke_security_group_egress(
        GroupId=group["GroupId"], IpPermissions=[{**rule, "PrefixListIds": [{"PrefixListId": s3}]}]
    )
    ec2.authorize_security_group_egress(
        GroupId=group["GroupId"], IpPermissions=[{**rule, "PrefixListIds": [{"PrefixListId": dynamodb}]}]
    )

    results, output = _consistency(emulator.endpoint_url, env_dir, tmp_path / "drifted")
    for check in (SECURITY, DECLARED):
        assert check in results, output
        message = results[check].message
        assert results[check].outcome == "failed", message[:1500]
        assert "dev-b" in message and "app-sg.egress" in message and dynamodb in message, message[:1500]
