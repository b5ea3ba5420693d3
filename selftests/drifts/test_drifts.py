"""Every check can fail: each drift of the catalogue must turn its check red, naming the resource.

For each drift: a fresh emulator state, the environment deployed by the project's deployer
(with the drift's variant template or parameters, if any), the drift applied through the AWS
API, then the real conformance suite run against that stack (attach mode). The intended
check must fail and its message must name the drifted resource. The kill rate is printed at
the end of the self-tests (selftests/drifts/conftest.py).
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

import pytest

from conformance.checks import REGISTRY
from core.account import account_scopes
from core.aws import AwsSession
from core.rehearsalimage import with_rehearsal_image
from core.selfsigned import with_self_signed_certificate
from core.spec import TEMPLATE_PATH, load_environment
from core.template import load_template
from deploy.account import AccountDeployer
from deploy.deployer import Deployer
from selftests.drifts.registry import AWS_ONLY_CHECKS, DRIFTS, Drift, DriftContext, drift, load_all, stack_name
from selftests.drifts.runner import assert_caught, run_suite

load_all()
SUFFIX = "drift"


@functools.cache
def _import_all_checks() -> dict[str, Any]:
    """Import every check module so the registry is complete."""
    import importlib
    import pkgutil

    import tests

    for info in pkgutil.walk_packages(tests.__path__, prefix="tests."):
        importlib.import_module(info.name)
    return dict(REGISTRY)


def _deploy(emulator, envs, tmp_path: Path, drift=None, *, baseline: bool = False):
    template = None
    if drift is not None and drift.template is not None:
        doc = drift.template(json.loads(json.dumps(load_template())))
        template = tmp_path / "variant-template.json"
        template.write_text(json.dumps(doc))
    contexts = {}
    if baseline:  # the account baseline of these environments (the account suite judges it), first, as the rehearsal
        specs = {env: load_environment(env).with_overrides(suffix=SUFFIX) for env in envs}
        for scope in account_scopes(specs).values():
            first = specs[scope.environments[0]]
            aws = AwsSession(region=first.region, endpoint_url=emulator.endpoint_url)
            AccountDeployer(scope, first, aws, out=lambda _line: None).apply()
    for env in envs:
        spec = load_environment(env).with_overrides(suffix=SUFFIX)
        if drift is not None and drift.parameters:
            spec = spec.model_copy(update={"parameters": spec.parameters.model_copy(update=drift.parameters)})
        aws = AwsSession(region=spec.region, endpoint_url=emulator.endpoint_url)
        spec = with_rehearsal_image(with_self_signed_certificate(spec, aws), aws)
        outputs = Deployer(spec, aws, out=lambda _line: None, template_path=template or TEMPLATE_PATH).up()
        contexts[env] = DriftContext(env=env, spec=spec, outputs=outputs, aws=aws, workdir=tmp_path)
    return contexts, template


def test_every_check_has_a_drift():
    checks = _import_all_checks()
    covered = {d.check for d in DRIFTS.values()} | set(AWS_ONLY_CHECKS)
    missing = sorted(set(checks) - covered)
    assert not missing, f"checks without a drift that proves they can fail: {', '.join(missing)}"
    unknown = sorted(d.id for d in DRIFTS.values() if d.check not in checks)
    assert not unknown, f"drifts naming checks that do not exist: {', '.join(unknown)}"


def test_a_drift_names_the_stack_unless_it_says_otherwise():
    """``names`` defaults to the environment's stack name; a drift that deploys nothing must give it."""
    assert all(callable(d.names) for d in DRIFTS.values())

    def apply(ctx: DriftContext) -> None: ...

    try:
        drift("test_vpc_cidr_matches_environment", "a drift without names", id="self-test-default-names")(apply)
        d = DRIFTS["self-test-default-names"]
        assert d.names is stack_name
        spec = load_environment("dev").with_overrides(suffix=SUFFIX)
        ctx = DriftContext(env="dev", spec=spec, outputs=None, aws=None, workdir=Path())  # type: ignore[arg-type]
        assert d.names(ctx) == f"payments-dev-{SUFFIX}"
        with pytest.raises(ValueError, match="must say what the failure names"):
            drift("test_vpc_cidr_matches_environment", "static", id="self-test-static", deploy=False)(apply)
    finally:
        DRIFTS.pop("self-test-default-names", None)
        DRIFTS.pop("self-test-static", None)


def test_good_deployment_passes_every_check(emulator, tmp_path):
    emulator.reset()
    envs = ["dev", "staging", "prod"]
    _deploy(emulator, envs, tmp_path, baseline=True)
    code, results, output = run_suite(endpoint_url=emulator.endpoint_url, envs=envs, suffix=SUFFIX, workdir=tmp_path)
    bad = {name: r.message.splitlines()[0] for name, r in results.items() if r.outcome in ("failed", "error")}
    assert results, output[-3000:]
    assert not bad, f"the good deployment fails checks: {json.dumps(bad, indent=1)}"
    skipped = {name: r.message for name, r in results.items() if r.outcome == "skipped"}
    assert all("emulator limit" in m for m in skipped.values()), skipped
    assert code == 0, output[-3000:]


def test_consistency_suite_reads_the_runs_template(emulator, tmp_path):
    """--template reaches the consistency suite: a template declaring another alarm threshold for dev
    (deployed, and given to the run) is what the run judges by, not deploy/template.yaml."""
    check = "test_environments_differ_only_as_declared"

    def raise_dev_threshold(doc: dict[str, Any]) -> dict[str, Any]:
        doc["Mappings"]["EnvironmentConfig"]["dev"]["DBConnectionsAlarmThreshold"] += 5
        return doc

    variant = Drift(id="variant-threshold", check=check, description="dev's threshold +5", template=raise_dev_threshold)
    emulator.reset()
    envs = ["dev", "staging", "prod"]
    contexts, template = _deploy(emulator, envs, tmp_path, variant)
    prefix = f"payments-dev-{SUFFIX}"
    alarms = contexts["dev"].client("cloudwatch").describe_alarms(AlarmNamePrefix=prefix)["MetricAlarms"]
    wanted = load_template()["Mappings"]["EnvironmentConfig"]["dev"]["DBConnectionsAlarmThreshold"] + 5
    assert [a["Threshold"] for a in alarms if a["AlarmName"] == f"{prefix}-db-connections"] == [wanted]
    code, results, output = run_suite(
        endpoint_url=emulator.endpoint_url, envs=envs, suffix=SUFFIX, workdir=tmp_path,
        extra_args=("tests/consistency",), template=template,
    )  # fmt: skip
    assert results[check].outcome == "passed", results[check].message[:1000] or output[-3000:]
    assert code == 0, output[-3000:]


@pytest.mark.parametrize("drift_id", sorted(DRIFTS))
def test_drift_is_caught(drift_id, emulator, tmp_path, drift_outcomes):
    d = DRIFTS[drift_id]
    envs = d.env.split(",")
    emulator.reset()
    checks = _import_all_checks()
    account = d.check in checks and checks[d.check].suite == "account"
    contexts, template = _deploy(emulator, envs, tmp_path, d, baseline=account) if d.deploy else ({}, None)
    if d.template is not None and template is None:
        doc = d.template(json.loads(json.dumps(load_template())))
        template = tmp_path / "variant-template.json"
        template.write_text(json.dumps(doc))
    ctx = contexts.get(d.apply_env or envs[0])
    if d.apply is not None and ctx is not None:
        d.apply(ctx)
    # the suite the check belongs to runs against the drifted stack (every check of it, so
    # collateral failures show in the output); a drift may name other arguments itself
    suite_args = d.pytest_args or ((f"tests/{checks[d.check].suite}",) if d.check in checks else ())
    code, results, output = run_suite(
        endpoint_url=emulator.endpoint_url, envs=envs, suffix=SUFFIX, workdir=tmp_path,
        extra_args=suite_args, template=template,
    )  # fmt: skip
    drift_outcomes[d.id] = False
    assert_caught(d, code, results, output, ctx)
    drift_outcomes[d.id] = True
