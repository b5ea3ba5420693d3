"""The report in a real headless browser (Debian's chromium through Playwright, never a
downloaded browser): it renders, every check appears once per environment, the failed check
shows its evidence, and opening it (the HTML folder over a 127.0.0.1 server, and the single
file from disk) makes no request that leaves the report.

``CONFORMANCE_SCREENSHOTS=docs`` also writes the overview and the failed check to that folder.
"""

from __future__ import annotations

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
from urllib.parse import urlsplit

import pytest

from selftests.report.conftest import DRIFTED_CHECK, REPO, AttachRun

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
def browser() -> Iterator[object]:
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

    def route(self, route: object) -> None:
        url = route.request.url  # type: ignore[attr-defined]
        self.all.append(url)
        if self.inside(url):
            route.continue_()  # type: ignore[attr-defined]
        else:
            self.outside.append(url)
            route.abort()  # type: ignore[attr-defined]


def _page(browser: object, origin: str) -> tuple[object, Requests]:
    context = browser.new_context(viewport={"width": 1440, "height": 1000})  # type: ignore[attr-defined]
    recorder = Requests(origin)
    context.route("**/*", recorder.route)
    page = context.new_page()
    page.on("request", lambda r: recorder.all.append(r.url) if r.url not in recorder.all else None)
    return page, recorder


def _expected_tests(junit: Path) -> Counter[str]:
    return Counter(case.get("name", "") for case in ET.parse(junit).getroot().iter("testcase"))


def _screenshot(page: object, name: str) -> None:
    folder = os.environ.get("CONFORMANCE_SCREENSHOTS")
    if folder:
        target = (REPO / folder / name) if not Path(folder).is_absolute() else Path(folder) / name
        target.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(target), full_page=False)  # type: ignore[attr-defined]


def test_report_renders_every_check_once_per_environment_offline(browser, served, attach_run: AttachRun) -> None:
    page, requests = _page(browser, served)
    page.goto(served + "index.html")
    page.wait_for_selector(".widget", timeout=30_000)
    page.wait_for_load_state("networkidle")
    body = page.inner_text("body")
    assert "test cases" in body.lower(), body[:500]
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
    for check in checks:
        assert {f"{check}[{e}]" for e in envs} <= set(leaves), f"{check} is not there once per environment"
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
    page.locator("text=GetBucketVersioning >> visible=true").first.click()  # open the evidence attachment
    page.wait_for_selector("text=Suspended", timeout=10_000)
    body = page.inner_text("body")
    for expected in ("Non-conformance (the platform is wrong)", "PCI DSS v4.0 10.3.2", "versioning Suspended", "dev"):
        assert expected in body, f"{expected!r} is not on the failed check's page"
    _screenshot(page, "report-failed-check.png")
    assert not requests.outside, f"the report made requests outside itself: {requests.outside}"


def test_single_file_report_makes_no_request_outside_the_file(browser, attach_run: AttachRun) -> None:
    single = attach_run.report / "single" / "index.html"
    page, requests = _page(browser, single.as_uri())
    page.goto(single.as_uri())
    page.wait_for_selector(".widget", timeout=30_000)
    page.wait_for_load_state("networkidle")
    assert "Allure" in page.inner_text("body")
    assert not requests.outside, f"the single-file report made requests outside itself: {requests.outside}"


def test_control_matrix_links_into_the_report(browser, served, attach_run: AttachRun) -> None:
    page, requests = _page(browser, served)
    page.goto(served + "control-matrix.html")
    # the drifted check's own row: the same drift also makes other checks red (the stack's drift detection)
    row = page.locator("tr", has=page.locator("code", has_text=DRIFTED_CHECK))
    link = row.locator("a[href*='#testresult/']", has_text="NON-CONFORMANT").first
    link.click()
    page.wait_for_selector(f"text={DRIFTED_CHECK}[dev]", timeout=30_000)
    assert not requests.outside, f"the control matrix made requests outside the report: {requests.outside}"
