"""`-n auto`: no workers for the embedded emulator (they cost more than they save), xdist's
choice against an endpoint or AWS, and an explicit PYTEST_XDIST_AUTO_NUM_WORKERS always wins."""

from types import SimpleNamespace

import pytest

from conformance.plugin import pytest_xdist_auto_num_workers


def _config(**options):
    defaults = {"conformance_envs": None, "conformance_emulator": False, "conformance_endpoint_url": None}
    return SimpleNamespace(option=SimpleNamespace(**(defaults | options)))


@pytest.fixture(autouse=True)
def _clean(monkeypatch):
    for name in ("PYTEST_XDIST_AUTO_NUM_WORKERS", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)


def test_offline_rehearsal_runs_in_one_process():
    assert pytest_xdist_auto_num_workers(_config()) == 0
    assert pytest_xdist_auto_num_workers(_config(conformance_envs=["dev"], conformance_emulator=True)) == 0


def test_endpoint_and_aws_keep_xdists_choice():
    assert pytest_xdist_auto_num_workers(_config(conformance_endpoint_url="http://127.0.0.1:4566")) is None
    assert pytest_xdist_auto_num_workers(_config(conformance_envs=["staging"])) is None


def test_explicit_worker_count_wins(monkeypatch):
    monkeypatch.setenv("PYTEST_XDIST_AUTO_NUM_WORKERS", "3")
    assert pytest_xdist_auto_num_workers(_config()) is None


def test_usage_errors_are_left_to_configure():
    assert (
        pytest_xdist_auto_num_workers(_config(conformance_emulator=True, conformance_endpoint_url="http://x")) is None
    )
