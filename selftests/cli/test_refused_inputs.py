"""More bad input (issue 15): exit 4, one sentence with the fix, before any AWS call, from pytest and the
deployer alike.

"Before any AWS call" is shown by the endpoint: a closed port on 127.0.0.1, where any call
(even the endpoint's first request) would end in exit 3. A file that cannot be read, even by
root, is a symbolic link to ``/proc/self/mem`` (a regular file whose first byte cannot be read).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PYTEST = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-p", "no:pytest_httpserver", "-n", "0"]
DEPLOY = [sys.executable, "-m", "deploy"]


def _closed_port_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}"


CLOSED = _closed_port_url()


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(
        AWS_CONFIG_FILE="/nonexistent/aws-config",
        AWS_SHARED_CREDENTIALS_FILE="/nonexistent/aws-credentials",
        AWS_EC2_METADATA_DISABLED="true",
        **extra,
    )
    return env


def _run(cmd: list[str], **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, cwd=REPO, env=_env(**env), capture_output=True, text=True, timeout=60)


def _one_sentence(r: subprocess.CompletedProcess[str], *needles: str) -> None:
    out = r.stdout + r.stderr
    assert r.returncode == 4, out[-3000:]
    for needle in needles:
        assert needle in out, (needle, out[-3000:])
    assert "Traceback" not in out and "INTERNALERROR" not in out, out[-3000:]
    assert "cannot be reached" not in out, out[-3000:]  # refused before the endpoint was asked anything


def _unreadable(path: Path) -> Path:
    path.symlink_to("/proc/self/mem")
    return path


@pytest.fixture
def environments(tmp_path: Path) -> Path:
    d = tmp_path / "environments"
    d.mkdir()
    for name in ("dev", "staging", "prod"):
        (d / f"{name}.yaml").write_bytes((REPO / "deploy/environments" / f"{name}.yaml").read_bytes())
    return d


@pytest.mark.parametrize("damage", ["unreadable", "not utf-8"])
def test_a_damaged_environment_file_is_refused_by_pytest_and_deploy(environments, damage):
    target = environments / "dev.yaml"
    target.unlink()
    if damage == "unreadable":
        _unreadable(target)
        needle = "cannot be read"
    else:
        target.write_bytes(b"name: dev\nregion: \xff\xfe us-east-1\n")
        needle = "is not UTF-8 text"
    where = {"PAYMENTS_ENVIRONMENTS_DIR": str(environments)}
    _one_sentence(_run([*PYTEST, "--env=dev", f"--endpoint-url={CLOSED}"], **where), "dev.yaml", needle)
    r = _run([*DEPLOY, "status", "--env", "dev", "--endpoint-url", CLOSED], **where)
    _one_sentence(r, "dev.yaml", needle)
    assert r.stderr.startswith("deploy: error:") and r.stderr.count("\n") == 1, r.stderr


def test_an_empty_env_is_refused_before_any_worker_starts():
    started = time.monotonic()
    r = _run([*PYTEST[:-2], "-n", "2", "--env=", f"--endpoint-url={CLOSED}"])
    _one_sentence(r, "--env names no environment")
    assert "created: 2/2 workers" not in r.stdout and "max_workers" not in r.stdout + r.stderr
    assert time.monotonic() - started < 30


TEMPLATES = {
    "missing": (None, "no such file"),
    "unreadable": ("unreadable", "cannot be read"),
    "binary": (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\xff\xfe", "is not a text file"),
    "malformed": (b"Resources:\n  Topic: [unclosed\n", "is not valid YAML at line"),
    "not a template": (b"- just\n- a list\n", "has no Resources mapping"),
}


@pytest.mark.parametrize("case", list(TEMPLATES))
def test_a_bad_template_is_refused_by_pytest_and_deploy_before_any_call(tmp_path, case):
    content, needle = TEMPLATES[case]
    path = tmp_path / "template.yaml"
    if content == "unreadable":
        _unreadable(path)
    elif isinstance(content, bytes):
        path.write_bytes(content)
    _one_sentence(_run([*PYTEST, "--env=dev", f"--endpoint-url={CLOSED}", f"--template={path}"]), "--template", needle)
    r = _run([*DEPLOY, "up", "--env", "dev", "--endpoint-url", CLOSED, f"--template={path}"])
    _one_sentence(r, "--template", needle)
    assert r.stderr.count("\n") == 1, r.stderr


@pytest.mark.parametrize("content", [b"{not json", b"[1, 2]", b'{"run_id": "x"}', b"\xff\xfe"])
def test_a_malformed_saved_state_is_refused(tmp_path, content):
    (tmp_path / "state.json").write_bytes(content)
    r = _run([*PYTEST, f"--from-run={tmp_path}"])
    _one_sentence(r, f"--from-run {tmp_path}: state.json is not the state of a conformance run")


def test_an_unusable_run_dir_is_refused(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    r = _run([*PYTEST, "--env=dev", f"--endpoint-url={CLOSED}", f"--run-dir={blocker / 'run'}"])
    _one_sentence(r, "--run-dir", "cannot be written", "pass a directory you can write to")


@pytest.mark.parametrize("url", ["ftp://x", "http://", "127.0.0.1:4566", "http://127.0.0.1:99999"])
def test_an_endpoint_url_that_is_not_http_with_a_host_is_a_usage_error(url):
    not_http = f"{url!r} is not an http(s) URL"
    _one_sentence(_run([*PYTEST, "--env=dev", f"--endpoint-url={url}"]), f"--endpoint-url {not_http}")
    _one_sentence(_run([*PYTEST, "--env=dev"], AWS_ENDPOINT_URL=url), f"AWS_ENDPOINT_URL {not_http}")
    r = _run([*DEPLOY, "status", "--env", "dev", f"--endpoint-url={url}"])
    _one_sentence(r, f"--endpoint-url {not_http}")
    _one_sentence(_run([*DEPLOY, "status", "--env", "dev"], AWS_ENDPOINT_URL=url), f"AWS_ENDPOINT_URL {not_http}")


def test_deploy_down_of_prod_is_refused_before_any_call_stack_or_not():
    """No call at all (the endpoint is a closed port): no lock parameter written, no stack looked up."""
    r = _run([*DEPLOY, "down", "--env", "prod", "--endpoint-url", CLOSED])
    _one_sentence(r, "never deletes prod")
    assert r.stderr.count("\n") == 1, r.stderr


def test_saved_state_that_is_a_real_run_still_loads(tmp_path):
    """The check does not refuse what a run writes (the same loader)."""
    from conformance.inputs import check_saved_runs

    state: dict[str, object] = {
        "run_id": "r", "mode": "emulator", "endpoint_url": None, "template_sha256": "0", "template_version": "1",
        "template_path": "t", "environments": {}, "suffix": None, "region": None,
    }  # fmt: skip
    (tmp_path / "state.json").write_text(json.dumps(state))
    check_saved_runs([tmp_path])


def test_an_endpoint_url_with_credentials_is_refused_by_the_deployer_too_with_the_password_masked():
    url = "http://user:hunter2-secret@127.0.0.1:4566"
    r = _run([*DEPLOY, "status", "--env", "dev", f"--endpoint-url={url}"])
    _one_sentence(r, "--endpoint-url", "carries credentials in the URL")
    assert "hunter2-secret" not in r.stdout + r.stderr
    r = _run([*PYTEST, "--env=dev", f"--endpoint-url={url}"])
    _one_sentence(r, "--endpoint-url", "carries credentials in the URL")
    assert "hunter2-secret" not in r.stdout + r.stderr
