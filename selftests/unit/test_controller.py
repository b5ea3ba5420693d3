"""The controller's side of a run, without pytest: the emulator's own error in the suite's exit
contract, and the settings it was given shown as the report header shows them."""

from __future__ import annotations

import socket

import pytest

from conformance.controller import Controller
from conformance.settings import RunSettings
from core.errors import ExitCode, InfrastructureError
from emulator.errors import EmulatorError
from emulator.launcher import Emulator


def _controller(lines: list[str]) -> Controller:
    settings = RunSettings.resolve(envs=["dev"], emulator=True, endpoint_url=None, deploy=False, teardown=False)
    return Controller(settings, out=lines.append)


def test_an_emulator_that_cannot_start_is_could_not_observe():
    lines: list[str] = []
    controller = _controller(lines)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        with pytest.raises(InfrastructureError, match=f"port {port} on 127.0.0.1 is already in use") as caught:
            controller._start_emulator(Emulator(port=port))
    assert caught.value.exit_code == ExitCode.CANNOT_OBSERVE == EmulatorError.exit_code == 3
    assert lines == []  # no "emulator: ready" line


def test_report_header_names_each_setting_and_its_source(pytestconfig: pytest.Config) -> None:
    controller = _controller([])
    header = controller.pytest_report_header(config=pytestconfig)  # the header reads only the settings
    assert header[0] == "conformance environments: dev (from --env)"
    assert header[1] == "conformance target: emulator (from --emulator)"
    assert header[-1] == f"conformance run id: {controller.settings.run_id}"
