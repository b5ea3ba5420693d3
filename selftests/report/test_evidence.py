"""Each evidence attachment of a real three-environment attach-mode run says where it was observed:
observed-at (UTC), account, region, operation and resources (ARNs); the check pages carry no
fixture set-up or tear-down records (allure-pytest names pytest's own fixture finalizers, e.g.
``inv::<lambda>``, and the report leaves them out)."""

from __future__ import annotations

import json
import re

from selftests.report.conftest import AttachRun

UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")


def test_every_attachment_records_where_it_was_observed(attach_run: AttachRun) -> None:
    attachments = sorted(attach_run.results.glob("*-attachment.json"))
    assert len(attachments) > 100
    missing = []
    for path in attachments:
        observed = json.loads(path.read_text()).get("observed") or {}
        per_env = observed.get("environment") not in ("all", "")
        problems = [k for k in ("observed_at_utc", "operation", "resources") if not observed.get(k)]
        if observed.get("observed_at_utc") and not UTC.match(observed["observed_at_utc"]):
            problems.append("observed_at_utc not UTC")
        if per_env:
            problems += [k for k in ("account", "region") if not observed.get(k)]
            problems += [] if any(str(r).startswith("arn:aws") for r in observed.get("resources", [])) else ["arn"]
        if problems:
            missing.append((path.name, problems))
    assert not missing, f"{len(missing)} attachments lack provenance: {missing[:5]}"


def test_check_pages_carry_no_fixture_records(attach_run: AttachRun) -> None:
    cases = [json.loads(p.read_text()) for p in (attach_run.report / "html" / "data" / "test-cases").glob("*.json")]
    noisy = [c["name"] for c in cases if c.get("beforeStages") or c.get("afterStages")]
    assert not noisy, noisy[:5]
    assert "<lambda>" not in (attach_run.report / "conformance-report.html").read_text()
