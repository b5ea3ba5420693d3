"""The report in a real headless browser (Debian's chromium through Playwright, never a
downloaded browser): it renders, every check appears once per environment, the failed check
shows its evidence, and opening it (the HTML folder over a 127.0.0.1 server, and the single
file from disk) makes no request that leaves the report.

``CONFORMANCE_SCREENSHOTS=docs`` also writes the overview and the failed check to that folder.
"""

from __future__ import annotations

import csv
import functools
import http.server
import json
import os
import shutil
import subprocess
import threading
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import pytest

from selftests.catalogue import load_checks
from selftests.report.conftest import DRIFTED_CHECK, DRIFTED_CONTROL, REPO, AttachRun

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page, Route

CHROMIUM = Path("/usr/bin/chromium")


def _chromium() -> Path:
    if not CHROMIUM.exists() and shutil.which("apt-get"):
        subprocess.run(["make", "--no-print-directory", "browser"], cwd=REPO, capture_output=True, timeout=900)
    if not CHROMIUM.exists():
        pytest.skip("Debian's chromium is missing and `make browser` (apt-get install chromium) could not install it")
    return CHROMIUM


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def served(attach_run: AttachRun) -> Iterator[str]:
    """The HTML report over http://127.0.0.1:<port>/ (it loads its data with XHR), stopped after the test."""
    handler = functools.partial(_Quiet, directory=str(attach_run.report / "html"))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    stopper = threading.Timer(300, server.shutdown)  # stops by itself whatever happens
    stopper.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        stopper.cancel()
        server.shutdown()
        server.server_close()


@pytest.fixture
def browser() -> Iterator[Browser]:
    playwright_api = pytest.importorskip("playwright.sync_api")
    path = _chromium()
    with playwright_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(path), args=["--no-sandbox"])
        try:
            yield b
        finally:
            b.close()


class Requests:
    """Every request the page makes; anything outside the report is aborted and recorded."""

    def __init__(self, allowed_origin: str) -> None:
        self.allowed = allowed_origin
        self.all: list[str] = []
        self.outside: list[str] = []

    def inside(self, url: str) -> bool:
        scheme = urlsplit(url).scheme
        return url.startswith(self.allowed) or scheme in ("data", "blob", "about")

    def route(self, route: Route) -> None:
        url = route.request.url
        self.all.append(url)
        if self.inside(url):
            route.continue_()
        else:
            self.outside.append(url)
            route.abort()


def _page(browser: Browser, origin: str) -> tuple[Page, Requests]:
    context = browser.new_context(viewport={"width": 1440, "height": 1000})
    recorder = Requests(origin)
    context.route("**/*", recorder.route)
    page = context.new_page()
    page.on("request", lambda r: recorder.all.append(r.url) if r.url not in recorder.all else None)
    return page, recorder


def _expected_tests(junit: Path) -> Counter[str]:
    return Counter(case.get("name", "") for case in ET.parse(junit).getroot().iter("testcase"))


def _screenshot(page: Page, name: str) -> None:
    folder = os.environ.get("CONFORMANCE_SCREENSHOTS")
    if folder:
        target = (REPO / folder / name) if not Path(folder).is_absolute() else Path(folder) / name
        target.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(target), full_page=False)


def test_report_renders_every_check_once_per_environment_offline(browser, served, attach_run: AttachRun) -> None:
    page, requests = _page(browser, served)
    page.goto(served + "index.html")
    page.wait_for_selector(".widget", timeout=30_000)
    page.wait_for_load_state("networkidle")
    body = page.inner_text("body")
    assert "test cases" in body.lower(), body[:500]
    banner = page.inner_text("#conformance-run")  # the run's identity on every page of Allure's report
    assert "EMULATOR: a rehearsal, not audit evidence" in banner and "template SHA-256" in banner, banner
    _screenshot(page, "report-overview.png")

    page.goto(served + "index.html#suites")
    page.wait_for_selector(".node__title", timeout=30_000)
    closed = ".node[data-node-kind='group']:not(.node__expanded) > .node__title"
    for _ in range(200):  # environment → suite → module → check; the tree re-renders on each click
        title = page.query_selector(closed)
        if title is None:
            break
        title.click()
    leaves = Counter(page.eval_on_selector_all("a.node__leaf .node__name", "ns => ns.map(n => n.textContent.trim())"))
    expected = _expected_tests(attach_run.junit)
    assert len(expected) > 50 and all(n == 1 for n in expected.values()), "JUnit names each test once"
    assert leaves == expected, (
        f"rendered leaves differ from the run: missing {sorted(set(expected) - set(leaves))[:10]}, "
        f"extra {sorted(set(leaves) - set(expected))[:10]}, repeated {[k for k, n in leaves.items() if n > 1][:10]}"
    )
    envs = {"dev", "staging", "prod"}
    checks = {name.split("[", 1)[0] for name in expected if "[" in name}
    account_checks = {m.id for m in load_checks().values() if m.suite == "account"}
    for check in checks - account_checks:
        assert {f"{check}[{e}]" for e in envs} <= set(leaves), f"{check} is not there once per environment"
    for check in checks & account_checks:  # once per account and region: the three share us-east-1
        assert f"{check}[us-east-1]" in leaves, f"{check} is not there once for the environments' account"
    page.wait_for_load_state("networkidle")
    assert requests.all, "no request was recorded at all"
    assert not requests.outside, f"the report made requests outside itself: {requests.outside}"


def test_failed_check_shows_its_evidence_and_controls(browser, served, attach_run: AttachRun) -> None:
    cases = [json.loads(p.read_text()) for p in (attach_run.report / "html" / "data" / "test-cases").glob("*.json")]
    failed = [c for c in cases if c["status"] == "failed" and c["name"] == f"{DRIFTED_CHECK}[dev]"]
    assert len(failed) == 1, [c["name"] for c in cases if c["status"] == "failed"]
    page, requests = _page(browser, served)
    page.goto(served + f"index.html#testresult/{failed[0]['uid']}")
    page.wait_for_selector("text=Test body", timeout=30_000)
    page.locator("text=GetPublicAccessBlock >> visible=true").first.click()  # open the evidence attachment
    page.wait_for_selector("text=RestrictPublicBuckets", timeout=10_000)  # in the evidence only, not the message
    body = page.inner_text("body")
    for expected in ("Non-conformance (the platform is wrong)", DRIFTED_CONTROL, "BlockPublicPolicy=False", "dev"):
        assert expected in body, f"{expected!r} is not on the failed check's page"
    _screenshot(page, "report-failed-check.png")
    assert not requests.outside, f"the report made requests outside itself: {requests.outside}"


def test_single_file_opens_from_disk_and_links_control_to_check_to_evidence(browser, attach_run: AttachRun) -> None:
    """The one file an auditor keeps, opened from disk: control -> check -> evidence by its own
    links, the run's identity on top, and not one request beyond the file itself."""
    single = attach_run.report / "conformance-report.html"
    page, requests = _page(browser, single.as_uri())
    page.goto(single.as_uri())
    page.wait_for_selector("#matrix", timeout=30_000)
    header = page.inner_text("header.identity")
    for expected in ("EMULATOR: a rehearsal, not audit evidence", "run", "started (UTC)", "ended (UTC)",
                     "git commit", "template SHA-256", "account 000000000000, region us-east-1"):  # fmt: skip
        assert expected in header, f"{expected!r} is not in the run identity: {header}"
    # control: the public-access requirement's row in the matrix; check: its NON-CONFORMANT dev cell
    row = page.locator("#matrix tr", has=page.locator("code", has_text=DRIFTED_CHECK))
    row.locator("a[href^='#r-']", has_text="non-conformant").first.click()
    article = page.locator("article.result:target")
    article = page.locator(f"#{article.get_attribute('id')}")  # stays the check when the target moves on
    assert f"{DRIFTED_CHECK}[dev]" in article.inner_text(), article.inner_text()[:300]
    assert "severity" in article.inner_text() and "blocker" not in article.inner_text()
    # evidence: the check's first evidence link lands on the attachment, inline
    article.locator("a[href^='#e-']").first.click()
    evidence = page.locator("section.evidence:target")
    assert "RestrictPublicBuckets" in evidence.inner_text(), evidence.inner_text()[:300]
    # and back to the control from the check
    article.locator("a[href^='#c-PCI-DSS-4.0']").first.click()
    assert page.locator("th:target").count() == 1
    page.wait_for_load_state("networkidle")
    _screenshot(page, "report-single-file.png")
    own = single.as_uri()
    outbound = [u for u in requests.all if u.split("#", 1)[0] != own]
    assert requests.all, "no request was recorded at all"
    assert not outbound, f"the single file made {len(outbound)} request(s) beyond itself: {outbound}"
    assert not requests.outside


def test_matrix_is_true_to_what_ran(attach_run: AttachRun) -> None:
    """Every check of a three-environment run has an outcome in each column: none "not run"
    (the template suite's run-wide results stand in every column), and no Allure severity word."""
    rows = list(csv.DictReader((attach_run.report / "control-matrix.csv").open()))
    assert rows
    not_run = [(r["check"], e) for r in rows for e in ("dev", "staging", "prod") if r[f"status {e}"] == "not run"]
    assert not not_run, f"{len(not_run)} cells say not run after a full run: {not_run[:10]}"
    template = [r for r in rows if r["suite"] == "template"]
    assert template and all(r[f"status {e}"] == "conforms" for r in template for e in ("dev", "staging", "prod"))
    cases = [json.loads(p.read_text()) for p in (attach_run.report / "html" / "data" / "test-cases").glob("*.json")]
    assert not [c["name"] for c in cases if (c.get("extra") or {}).get("severity")], "Allure's severity is shown"
    fixture_noise = [c["name"] for c in cases if c.get("beforeStages") or c.get("afterStages")]
    assert not fixture_noise, f"fixture set-up/tear-down on the check page: {fixture_noise[:5]}"


def test_control_matrix_links_into_the_report(browser, served, attach_run: AttachRun) -> None:
    page, requests = _page(browser, served)
    page.goto(served + "control-matrix.html")
    # the drifted check's own row: the same drift also makes other checks red (the stack's drift detection)
    row = page.locator("tr", has=page.locator("code", has_text=DRIFTED_CHECK))
    link = row.locator("a[href*='#testresult/']", has_text="NON-CONFORMANT").first
    link.click()
    page.wait_for_selector(f"text={DRIFTED_CHECK}[dev]", timeout=30_000)
    assert not requests.outside, f"the control matrix made requests outside the report: {requests.outside}"
