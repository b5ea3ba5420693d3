"""Faults change no verdict: a real fault-injection proxy (microburst) between the suite and the emulator.

Each scenario deploys dev on the emulator, points the real suite (attach mode) at the proxy,
installs fault rules in AWS's own wire format, and compares the outcome with a clean run.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from core.aws import AwsSession
from core.selfsigned import with_self_signed_certificate
from core.spec import load_environment
from deploy.deployer import Deployer
from emulator.launcher import free_port
from selftests.drifts.registry import Drift
from selftests.drifts.runner import assert_caught, run_suite

MICROBURST = Path(sys.executable).parent / "microburst"
SUFFIX = "fault"


class Proxy:
    def __init__(self, upstream: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc = subprocess.Popen(
            [str(MICROBURST), "--upstream", upstream, "--host", "127.0.0.1", "--port", str(self.port)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                if requests.get(f"{self.url}/_microburst/health", timeout=1).ok:
                    return
            except requests.RequestException:
                time.sleep(0.1)
        raise RuntimeError("microburst did not start")

    def rules(self, rules: list[dict]) -> None:
        requests.post(f"{self.url}/_microburst/rules", json=rules, timeout=5).raise_for_status()
        requests.delete(f"{self.url}/_microburst/fired", timeout=5).raise_for_status()

    def fired(self) -> list[dict]:
        return requests.get(f"{self.url}/_microburst/fired", timeout=5).json()

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=10)


@pytest.fixture(scope="module")
def deployed(emulator):
    emulator.reset()
    spec = load_environment("dev").with_overrides(suffix=SUFFIX)
    aws = AwsSession(region=spec.region, endpoint_url=emulator.endpoint_url)
    Deployer(with_self_signed_certificate(spec, aws), aws, out=lambda _l: None).up()
    proxy = Proxy(emulator.endpoint_url)
    yield proxy
    proxy.stop()


@pytest.fixture(scope="module")
def baseline(deployed, tmp_path_factory):
    deployed.rules([])
    code, results, output = _run(deployed, tmp_path_factory.mktemp("baseline"))
    assert code == 0, output[-3000:]
    return {name: r.outcome for name, r in results.items()}


# The inventory collects every section whatever is selected; these suites judge enough of it.
SUITES = ("tests/database", "tests/storage")


def _run(proxy: Proxy, workdir: Path):
    return run_suite(endpoint_url=proxy.url, envs=["dev"], suffix=SUFFIX, workdir=workdir, extra_args=SUITES)


def _retries(workdir: Path) -> dict[str, int]:
    (path,) = workdir.glob("run/*/api-retries.json")
    return json.loads(path.read_text())


def test_throttling_twice_is_retried_with_the_same_verdict(deployed, baseline, tmp_path):
    deployed.rules(
        [{"service": "ec2", "operation": "DescribeSubnets", "times": 2, "error": {"code": "RequestLimitExceeded"}}]
    )
    code, results, output = _run(deployed, tmp_path)
    assert code == 0, output[-3000:]
    assert {n: r.outcome for n, r in results.items()} == baseline
    assert len(deployed.fired()) == 2
    assert _retries(tmp_path).get("ec2:DescribeSubnets") == 2
    assert "ec2:DescribeSubnets ×2" in output


def test_5xx_and_connection_reset_are_retried_with_the_same_verdict(deployed, baseline, tmp_path):
    deployed.rules([
        {"service": "kms", "operation": "DescribeKey", "times": 1, "error": {"code": "InternalFailure", "status": 500}},
        {"service": "s3", "operation": "GetBucketVersioning", "times": 1, "reset": True},
    ])  # fmt: skip
    code, results, output = _run(deployed, tmp_path)
    assert code == 0, output[-3000:]
    assert {n: r.outcome for n, r in results.items()} == baseline
    assert len(deployed.fired()) == 2


def test_throttling_that_never_stops_is_a_probe_error_not_a_verdict(deployed, baseline, tmp_path):
    deployed.rules([{"service": "rds", "operation": "DescribeDBClusters", "error": {"code": "Throttling"}}])
    started = time.monotonic()
    code, results, output = _run(deployed, tmp_path)
    assert time.monotonic() - started < 120
    assert code == 3, output[-3000:]
    assert not [n for n, r in results.items() if r.outcome == "failed"], output[-3000:]
    failed = {n: r for n, r in results.items() if r.outcome == "probe-error"}
    assert failed, output[-3000:]
    for name, r in failed.items():
        assert "could not observe rds:DescribeDBClusters" in r.message, (name, r.message[:500])
    untouched = {n: o for n, o in baseline.items() if n not in failed}
    assert {n: results[n].outcome for n in untouched} == untouched
    assert "PROBE ERROR" in output or "E" in output


def test_access_denied_on_one_read_errors_only_the_checks_that_need_it(deployed, baseline, tmp_path):
    deployed.rules(
        [{"service": "kms", "operation": "DescribeKey", "error": {"code": "AccessDeniedException", "status": 400}}]
    )
    code, results, output = _run(deployed, tmp_path)
    assert code == 3, output[-3000:]
    assert not [n for n, r in results.items() if r.outcome == "failed"], output[-3000:]
    failed = {n: r for n, r in results.items() if r.outcome == "probe-error"}
    assert failed
    for name, r in failed.items():
        assert "could not observe kms:DescribeKey: AccessDeniedException" in r.message, (name, r.message[:500])
    assert len(failed) < len(results) / 2  # the rest still ran and passed
    assert all(results[n].outcome == o for n, o in baseline.items() if n not in failed)
    # The drift catalogue's judge: a probe error is never a catch, even one whose message names
    # the resource (the key is named here), so no drift passes on a check that could not observe.
    name = next(iter(failed))
    check = name.split("[")[0]
    pretend = Drift(id="probe-error-is-not-a-catch", check=check, description="a probe error", names=lambda _c: "kms")
    with pytest.raises(AssertionError, match="was not caught"):
        assert_caught(pretend, code, results, output, None)


# Scenario 4 (issue 5): one call delayed past the read timeout. PAYMENTS_READ_TIMEOUT=1 s stands in
# for botocore's 20 s; the bound on the extra wall time is one read timeout plus one backoff of
# standard mode (at most 1 s) plus slack for a loaded machine.
READ_TIMEOUT = 1.0
EXTRA_BOUND_SECONDS = READ_TIMEOUT + 1.0 + 8.0


def test_one_call_past_the_read_timeout_is_retried_with_the_same_verdict(deployed, baseline, tmp_path):
    short = {"PAYMENTS_READ_TIMEOUT": str(READ_TIMEOUT)}
    deployed.rules([])
    started = time.monotonic()
    code, _, output = run_suite(
        endpoint_url=deployed.url, envs=["dev"], suffix=SUFFIX, workdir=tmp_path / "clean", extra_args=SUITES, env=short
    )
    clean_seconds = time.monotonic() - started
    assert code == 0, output[-3000:]

    deployed.rules(
        [{"service": "ec2", "operation": "DescribeSubnets", "times": 1, "latency": {"min": 3000, "max": 3000}}]
    )
    started = time.monotonic()
    code, results, output = run_suite(
        endpoint_url=deployed.url, envs=["dev"], suffix=SUFFIX, workdir=tmp_path / "slow", extra_args=SUITES, env=short
    )
    slow_seconds = time.monotonic() - started
    assert code == 0, output[-3000:]
    assert {n: r.outcome for n, r in results.items()} == baseline
    assert len(deployed.fired()) == 1
    assert _retries(tmp_path / "slow").get("ec2:DescribeSubnets") == 1
    assert "ec2:DescribeSubnets ×1" in output
    print(
        f"read-timeout scenario: clean run {clean_seconds:.1f} s, with one call past the timeout {slow_seconds:.1f} s"
    )
    assert slow_seconds <= clean_seconds + EXTRA_BOUND_SECONDS, (slow_seconds, clean_seconds)
