"""The pages we write ourselves (Jinja2, autoescaped): the control matrix and the single file.

The single file (``conformance-report.html``) is what an auditor keeps: the overview, the control
matrix and every check with its evidence, linked control → check → evidence by in-page anchors
(``#c-<control>``, ``#r-<result id>``, ``#e-<attachment id>``), with the run's identity on top.
It holds no script and its Content-Security-Policy allows no request: opened from disk it loads
nothing from anywhere.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from pathlib import Path
from typing import Any

import jinja2

from conformance.report.controls import control
from conformance.report.matrix import Matrix
from conformance.report.model import ENV_ORDER, OUTCOME_CSS, OUTCOME_ORDER, RUN_WIDE, Model, Result, worst

TEMPLATES = Path(__file__).resolve().parent / "templates"
EMULATOR_BANNER = "EMULATOR: a rehearsal, not audit evidence"


def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES)),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def _utc(value: str | None) -> str:
    return value or "unknown"


def identity(model: Model) -> dict[str, Any]:
    """What the run was: ids, UTC start and end, target per environment, commit, template, suite."""
    runs = model.runs

    def joined(key: str) -> str:
        return ", ".join(dict.fromkeys(str(r.get(key) or "unknown") for r in runs)) or "unknown"

    starts = [r["started_utc"] for r in runs if r.get("started_utc")]
    ends = [r["finished_utc"] for r in runs if r.get("finished_utc")]
    targets = []
    for run in runs:
        for name, env in run.get("environments", {}).items():
            where = f"account {env.get('account') or 'unknown'}, region {env.get('region') or 'unknown'}"
            if run.get("emulated"):
                where += f" (emulator: {run.get('target', '')})"
            targets.append({"environment": name, "text": f"{where}, stack {env.get('stack', '')}"})
    order = {e: i for i, e in enumerate(ENV_ORDER)}
    targets.sort(key=lambda t: order.get(t["environment"], len(order)))
    return {
        "run_ids": [r.get("run_id", "unknown") for r in runs] or ["unknown"],
        "started": min(starts) if starts else "unknown",
        "finished": max(ends) if ends else "unknown",
        "targets": targets,
        "emulated": model.emulated,
        "git_commit": joined("git_commit"),
        "template_sha256": joined("template_sha256"),
        "suite_version": joined("suite_version"),
    }


def _verdicts(model: Model) -> list[dict[str, Any]]:
    rows = []
    groups: dict[str, list[Result]] = {}
    for r in model.results:
        groups.setdefault(r.environment, []).append(r)
    for env in [*model.environments, RUN_WIDE]:
        results = groups.get(env, [])
        if not results:
            continue
        counts = Counter(r.outcome for r in results)
        verdict = worst([r.outcome for r in results])
        rows.append({
            "environment": "run-wide (template, consistency)" if env == RUN_WIDE else env,
            "verdict": verdict, "css": OUTCOME_CSS.get(verdict, ""), "counts": counts, "total": len(results),
        })  # fmt: skip
    return rows


def _sorted_results(model: Model) -> list[Result]:
    envs = {e: i for i, e in enumerate([*model.environments, RUN_WIDE])}
    return sorted(model.results, key=lambda r: (envs.get(r.environment, len(envs)), r.suite, r.check))


def _target_lookup(model: Model) -> dict[str, str]:
    out = {}
    for run in model.runs:
        for name, env in run.get("environments", {}).items():
            out[name] = f"account {env.get('account') or 'unknown'}, region {env.get('region') or 'unknown'}"
    return out


def _when(r: Result) -> str:
    if not r.start_ms:
        return "at an unknown time"
    start = dt.datetime.fromtimestamp(r.start_ms / 1000, dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    return f"at {start}" + (f" for {(r.stop_ms - r.start_ms) / 1000:.3f} s" if r.stop_ms else "")


def write_matrix_html(matrix: Matrix, model: Model, path: Path, allure_index: str) -> None:
    """The control matrix alone, its links into the Allure HTML report (``allure_index``)."""
    page = _environment().get_template("control-matrix.html.j2").render(
        matrix=matrix, identity=identity(model), report_index=allure_index,
        link=lambda r: f"{allure_index}#testresult/{r.uid}",
    )  # fmt: skip
    path.write_text(page)


def write_single_file(matrix: Matrix, model: Model, path: Path) -> None:
    targets = _target_lookup(model)
    results = _sorted_results(model)
    attention = [r for r in results if r.outcome in ("non-conformant", "probe error", "suite defect")]
    page = _environment().get_template("single.html.j2").render(
        matrix=matrix, identity=identity(model), verdicts=_verdicts(model), results=results,
        attention=attention, outcomes=[o for o in OUTCOME_ORDER], css=OUTCOME_CSS,
        link=lambda r: f"#r-{r.uid}", label=lambda c: control(c).label,
        target_of=lambda r: targets.get(r.environment, ""), when=_when,
    )  # fmt: skip
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(page)


def summary_markdown(model: Model, matrix: Matrix) -> str:
    """A short Markdown verdict (CI job summaries): the run's identity and a row per environment."""
    ident = identity(model)
    targets = _target_lookup(model)
    outcomes = [o for o in OUTCOME_ORDER if any(r.outcome == o for r in model.results)]
    verdicts = _verdicts(model)
    overall = worst([r.outcome for r in model.results])
    lines = [f"## Payments platform conformance: {overall}", ""]
    if ident["emulated"]:
        lines += [f"> **{EMULATOR_BANNER}**", ""]
    lines += [
        f"Run {', '.join(ident['run_ids'])}, {ident['started']} to {ident['finished']} (UTC); commit "
        f"`{ident['git_commit']}`; template SHA-256 `{ident['template_sha256']}`; suite {ident['suite_version']}.",
        "",
        "| environment | target | verdict | " + " | ".join(outcomes) + " |",
        "|---|---|---|" + "---|" * len(outcomes),
    ]
    for v in verdicts:
        env = v["environment"]
        counts = " | ".join(str(v["counts"].get(o, 0)) for o in outcomes)
        lines.append(f"| {env} | {targets.get(env, '')} | **{v['verdict']}** | {counts} |")
    failing = [r for r in _sorted_results(model) if r.outcome in ("non-conformant", "probe error", "suite defect")]
    if failing:
        lines += ["", "Needs attention:", ""]
        lines += [f"- `{r.name}`: {r.outcome}: {r.summary}" for r in failing[:30]]
        if len(failing) > 30:
            lines.append(f"- ... and {len(failing) - 30} more (see the report)")
    lines += ["", f"{len(matrix.controls)} requirements and {len(matrix.operational)} operational checks in the "
              "control matrix.", ""]  # fmt: skip
    return "\n".join(lines)


def add_identity_to_allure(model: Model, report_html: Path) -> None:
    """The run's identity (and the emulator banner) on every page of Allure's report: a banner at
    the top of its one HTML page, which every view of the report is rendered into."""
    index = report_html / "index.html"
    page = index.read_text()
    if 'id="conformance-run"' in page or "<body>" not in page:
        return
    banner = _environment().get_template("allure_banner.html.j2").render(identity=identity(model))
    title = "Payments platform conformance" + (" (EMULATOR rehearsal)" if model.emulated else "")
    page = page.replace("<body>", "<body>\n" + banner, 1).replace(
        "<title>Allure Report</title>", f"<title>{title}</title>"
    )
    index.write_text(page)
