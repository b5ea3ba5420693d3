"""A worker process dies mid-run under ``-n 4`` (the chaos plugin's ``os._exit`` in one check).

The controller deployed the stack and collected the inventory once; it tears down once;
the lost check is named as failed with xdist's "worker ... crashed while running ..." in the
terminal, the JUnit XML and the Allure results; every other check still reports; the exit
code is 3: the suite could not observe that check (1 only if a real non-conformance was
found as well).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys

from selftests.cli.test_bad_input import REPO, _env
from selftests.cli.test_interrupt import CHAOS, api_calls
from selftests.emulator.platform import settled_stack

LOST = "tests/compute/test_ecs.py::test_ecs_service_is_active_on_fargate[dev]"


def test_worker_crash_is_reported_as_not_observed_with_one_deploy_and_one_teardown(emulator, aws, tmp_path):
    emulator.reset()
    r = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *CHAOS, "-n", "4", "--env=dev",
         f"--endpoint-url={emulator.endpoint_url}", "--deploy", "--teardown", f"--run-dir={tmp_path / 'run'}",
         f"--alluredir={tmp_path / 'allure'}", f"--junitxml={tmp_path / 'junit.xml'}",
         "tests/compute", "tests/storage"],
        cwd=REPO, env=_env(CONFORMANCE_CHAOS_CRASH="test_ecs_service_is_active_on_fargate"),
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    out = r.stdout + r.stderr
    assert r.returncode == 3, out[-4000:]
    assert "INTERNALERROR" not in out
    assert f"crashed while running '{LOST}'" in out
    assert f"FAILED {LOST}" in out and f"worker crashed: {LOST}" in out
    collected = re.search(r"4 workers \[(\d+) items\]", out)
    assert collected, out[-4000:]
    items = int(collected.group(1))
    summary = out.strip().splitlines()[-1]
    counts = {word: int(n) for n, word in re.findall(r"(\d+) (passed|failed|skipped)", summary)}
    assert counts.get("failed") == 1, summary
    assert sum(counts.values()) == items, (items, summary)  # every other check still reports
    assert "crashed while running" in (tmp_path / "junit.xml").read_text()
    results = [json.loads(p.read_text()) for p in (tmp_path / "allure").glob("*-result.json")]
    lost = [res for res in results if res["fullName"] == LOST]
    assert [res["status"] for res in lost] == ["broken"], lost
    calls = api_calls(tmp_path)
    assert calls.get("cloudformation:CreateStack") == 1, calls
    assert calls.get("cloudformation:DeleteStack") == 1, calls
    assert settled_stack(aws("cloudformation"), "payments-dev-main")["StackStatus"] == "DELETE_COMPLETE"
