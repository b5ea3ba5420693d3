"""Options with paths work under xdist in both forms, ``--opt value`` and ``--opt=value`` (issue 15).

The directory is absolute, outside the repository, and does not exist when the run starts (the run
creates it, before xdist's workers parse the command line again): the case where the workers used
to root themselves in it and fail (conformance/cmdline.py).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("form", ["space", "equals"])
@pytest.mark.parametrize("option", ["--run-dir", "--alluredir"])
def test_a_path_option_outside_the_repo_works_with_two_workers(tmp_path, option, form):
    target = tmp_path / "out"
    given = [option, str(target)] if form == "space" else [f"{option}={target}"]
    cmd = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--emulator", "--env", "dev", "-n", "2",
           "-k", "test_stack", *given]  # fmt: skip
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "PYTEST_"))}
    r = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=240)
    out = r.stdout + r.stderr
    assert r.returncode == 0, out[-3000:]
    assert "2 workers" in out and "crashed" not in out and "unrecognized arguments" not in out, out[-3000:]
    assert "selftests" not in out, out[-3000:]  # the workers collected the conformance suites only
    if option == "--run-dir":
        assert list(target.glob("*/state.json")), "the run state went elsewhere"
    else:
        assert list(target.glob("*-result.json")), "the Allure results went elsewhere"
