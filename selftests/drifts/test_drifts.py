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
from core.aws import AwsSession
from core.spec import load_environment
from core.template import load_template
from deploy.deployer import Deployer
from selftests.drifts.registry import AWS_ONLY_CHECKS, DRIFTS, DriftContext, load_all
from selftests.drifts.runner import run_suite

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


def _deploy(emulator, envs, tmp_path: Path, drift=None):
    template = None
    if drift is not None and drift.template is not None:
        doc = drift.template(json.loads(json.dumps(load_template())))
        template = tmp_path / "variant-template.json"
        template.write_text(json.dumps(doc))
    contexts = {}
    for env in envs:
        spec = load_environment(env).with_overrides(suffix=SUFFIX)
        if drift is not None and drift.parameters:
            spec = spec.model_copy(update={"parameters": spec.parameters.model_copy(update=drift.parameters)})
        aws = AwsSession(region=spec.region, endpoint_url=emulator.endpoint_url)
        kwargs = {"template_path": template} if template else {}
        outputs = Deployer(spec, aws, out=lambda _line: None, **kwargs).up()
        contexts[env] = DriftContext(env=env, spec=spec, outputs=outputs, aws=aws, workdir=tmp_path)
    return contexts, template


def test_every_check_has_a_drift():
    checks = _import_all_checks()
    covered = {d.check for d in DRIFTS.values()} | set(AWS_ONLY_CHECKS)
    missing = sorted(set(checks) - covered)
    assert not missing, f"checks without a drift that proves they can fail: {', '.join(missing)}"
    unknown = sorted(d.id for d in DRIFTS.values() if d.check not in checks)
    assert not unknown, f"drifts naming checks that do not exist: {', '.join(unknown)}"


def test_good_deployment_passes_every_check(emulator, tmp_path):
    emulator.reset()
    envs = ["dev", "staging", "prod"]
    _deploy(emulator, envs, tmp_path)
    code, results, output = run_suite(endpoint_url=emulator.endpoint_url, envs=envs, suffix=SUFFIX, workdir=tmp_path)
    bad = {name: r.message.splitlines()[0] for name, r in results.items() if r.outcome in ("failed", "error")}
    assert results, output[-3000:]
    assert not bad, f"the good deployment fails checks: {json.dumps(bad, indent=1)}"
    skipped = {name: r.message for name, r in results.items() if r.outcome == "skipped"}
    assert all("emulator limit" in m for m in skipped.values()), skipped
    assert code == 0, output[-3000:]


@pytest.mark.parametrize("drift_id", sorted(DRIFTS))
def test_drift_is_caught(drift_id, emulator, tmp_path, drift_outcomes):
    d = DRIFTS[drift_id]
    envs = d.env.split(",")
    emulator.reset()
    contexts, template = _deploy(emulator, envs, tmp_path, d) if d.deploy else ({}, None)
    if d.template is not None and template is None:
        doc = d.template(json.loads(json.dumps(load_template())))
        template = tmp_path / "variant-template.json"
        template.write_text(json.dumps(doc))
    ctx = contexts.get(d.apply_env or envs[0])
    if d.apply is not None and ctx is not None:
        d.apply(ctx)
    # the suite the check belongs to runs against the drifted stack (every check of it, so
    # collateral failures show in the output); a drift may name other arguments itself
    checks = _import_all_checks()
    suite_args = d.pytest_args or ((f"tests/{checks[d.check].suite}",) if d.check in checks else ())
    code, results, output = run_suite(
        endpoint_url=emulator.endpoint_url, envs=envs, suffix=SUFFIX, workdir=tmp_path,
        extra_args=suite_args, template=template,
    )  # fmt: skip
    wanted = [name for name in results if name == d.check or name.startswith(f"{d.check}[")]
    targeted = [n for n in wanted if n == d.check or n == f"{d.check}[{envs[0]}]"] or wanted
    assert targeted, f"drift {d.id}: check {d.check} did not run; output:\n{output[-3000:]}"
    failed = [results[n] for n in targeted if results[n].outcome == "failed"]
    drift_outcomes[d.id] = bool(failed)
    assert failed, (
        f"drift {d.id} ({d.description}) was not caught: {d.check} {', '.join(results[n].outcome for n in targeted)}"
    )
    if d.names is not None and (ctx is not None or not d.deploy):
        name = d.names(ctx)  # type: ignore[arg-type]  # a static drift's names ignores the (absent) context
        assert any(name in r.message for r in failed), (
            f"drift {d.id}: {d.check} failed without naming {name}: {failed[0].message.splitlines()[0]}"
        )
    assert code in (1, 3), f"drift {d.id}: exit code {code}, expected 1 (non-conformance)"
