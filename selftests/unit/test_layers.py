"""The packages' layers and what an xdist worker imports.

* ``lint-imports`` (import-linter, contracts in pyproject.toml) keeps every contract on this
  repository, and breaks the right one, naming the import, on a copy of it with one bad import
  added: the core importing the suite, the deployer importing the suite or pytest, the emulator
  importing the core, a worker-side module importing the deployer, a cycle inside a package.
* A real run under xdist (``-n 2``, the offline rehearsal of dev): no worker has imported
  ``deploy`` or ``emulator``; the controller has imported both (so the probe does see them).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from selftests.cli.test_bad_input import REPO, _env

LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"
IMPORTLINTER = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["importlinter"]
CONTRACTS = [c["name"] for c in IMPORTLINTER["contracts"]]  # as lint-imports prints them
PACKAGES = tuple(IMPORTLINTER["root_packages"])


def _lint_imports(cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache", "--no-logo"], cwd=cwd, capture_output=True, text=True, timeout=120
    )


def _copy(tmp_path: Path) -> Path:
    """The repository's Python packages and pyproject.toml, in a scratch directory."""
    root = tmp_path / "repo"

    def only_python(directory: str, names: list[str]) -> list[str]:
        return [
            n for n in names if n == "__pycache__" or (not n.endswith(".py") and not (Path(directory) / n).is_dir())
        ]

    for package in PACKAGES:
        shutil.copytree(REPO / package, root / package, ignore=only_python)
    shutil.copy(REPO / "pyproject.toml", root / "pyproject.toml")
    return root


def test_every_contract_is_kept():
    r = _lint_imports(REPO)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "0 broken" in r.stdout, r.stdout


@pytest.mark.parametrize(
    ("module", "bad_import", "contract", "named"),  # contract: the start of its name
    [
        ("core/errors.py", "import conformance.plugin", "layers", "core.errors -> conformance.plugin"),
        ("deploy/teardown.py", "import conformance.state", "layers", "deploy.teardown -> conformance.state"),
        ("emulator/launcher.py", "import core.errors", "the emulator", "emulator"),
        ("deploy/preflight.py", "import pytest", "the deployer and the core work", "deploy.preflight -> pytest"),
        ("conformance/state.py", "import deploy.deployer", "xdist workers", "conformance.state -> deploy.deployer"),
        ("conformance/settings.py", "import conformance.controller", "no cycle", "conformance"),
    ],
    ids=[
        "core-imports-suite",
        "deploy-imports-suite",
        "emulator-imports-core",
        "deploy-imports-pytest",
        "worker-imports-deployer",
        "cycle",
    ],
)
def test_a_bad_import_breaks_its_contract(tmp_path, module, bad_import, contract, named):
    root = _copy(tmp_path)
    path = root / module
    path.write_text(path.read_text() + f"\n{bad_import}  # the bad import under test\n")
    r = _lint_imports(root)
    out = r.stdout + r.stderr
    assert r.returncode == 1, out
    (name,) = [c for c in CONTRACTS if c.startswith(contract)]
    assert _status(out, name) == "BROKEN", out
    assert named in out, out


def _status(out: str, contract: str) -> str:
    """KEPT or BROKEN: the word after the contract's name in lint-imports' summary (lines wrapped)."""
    text = " ".join(out.split())
    after = text[text.index(contract) + len(contract) :]
    found = {word: after.find(word) for word in ("KEPT", "BROKEN") if word in after}
    return min(found, key=lambda word: found[word])


PROBE = """
import json, os, sys

def pytest_sessionfinish(session):
    who = getattr(session.config, "workerinput", {}).get("workerid", "controller")
    ours = {name for name in sys.modules if name.split(".")[0] in %r}
    with open(os.path.join(os.environ["LAYERS_PROBE_DIR"], who + ".json"), "w") as f:
        json.dump(sorted(ours), f)
"""


@pytest.mark.slow
def test_xdist_workers_import_neither_the_deployer_nor_the_emulator(tmp_path):
    (tmp_path / "layers_probe.py").write_text(PROBE % (PACKAGES,))
    r = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-p", "layers_probe", "-n", "2", "-q",
         "--env=dev", "--emulator", f"--run-dir={tmp_path / 'run'}", f"--alluredir={tmp_path / 'allure'}"],
        cwd=REPO, env=_env(PYTHONPATH=str(tmp_path), LAYERS_PROBE_DIR=str(tmp_path)),
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert r.returncode == 0, (r.stdout + r.stderr)[-4000:]
    imported = {p.stem: json.loads(p.read_text()) for p in tmp_path.glob("*.json")}
    assert set(imported) == {"controller", "gw0", "gw1"}, sorted(imported)
    assert {"deploy.deployer", "emulator.launcher", "conformance.controller"} <= set(imported["controller"])
    for worker in ("gw0", "gw1"):
        tops = {name.split(".")[0] for name in imported[worker]}
        assert tops == {"conformance", "core", "tests"}, (worker, sorted(tops))
        assert "conformance.controller" not in imported[worker]
        assert "conformance.plugin" in imported[worker] and "conformance.state" in imported[worker]
