"""The suite's loadgroup scheduler: a check that crashed its worker is reported once and never re-run."""

from __future__ import annotations

from collections import OrderedDict
from types import SimpleNamespace

from xdist.remote import Producer

from conformance.scheduling import CrashOnceLoadGroupScheduling, is_crash_report

TESTS = [f"tests/compute/test_ecs.py::test_{i}[dev]" for i in range(6)]


class Node:
    def __init__(self, name: str) -> None:
        self.name = name
        self.sent: list[list[int]] = []
        self.shutting_down = False

    def send_runtest_some(self, indices: list[int]) -> None:
        self.sent.append(list(indices))

    def shutdown(self) -> None:
        self.shutting_down = True

    def __repr__(self) -> str:
        return self.name


def _scheduler() -> CrashOnceLoadGroupScheduling:
    sched = CrashOnceLoadGroupScheduling.__new__(CrashOnceLoadGroupScheduling)
    sched.numnodes = 2
    sched.collection = list(TESTS)
    sched.workqueue = OrderedDict()
    sched.assigned_work = {}
    sched.registered_collections = {}
    sched.log = Producer("test", enabled=False)
    return sched


def test_the_crashed_check_is_not_queued_again_and_the_rest_of_its_unit_is():
    sched = _scheduler()
    dead, alive = Node("gw0"), Node("gw1")
    for node in (dead, alive):
        sched.add_node(node)
        sched.registered_collections[node] = list(TESTS)
    sched.assigned_work[dead] = {"unit": {TESTS[0]: True, TESTS[1]: False, TESTS[2]: False}}
    sched.assigned_work[alive] = {"other": {TESTS[3]: True}}
    assert sched.remove_node(dead) == TESTS[1]
    assert alive.sent == [[2]]  # the rest of the unit, without the crashed check


def test_a_replacement_still_collecting_gets_no_work():
    sched = _scheduler()
    old, replacement = Node("gw1"), Node("gw2")
    sched.add_node(old)
    sched.registered_collections[old] = list(TESTS)
    sched.add_node(replacement)
    sched.workqueue["unit"] = {TESTS[4]: False}
    sched.assigned_work[old] = {"busy": {TESTS[5]: False, TESTS[0]: False, TESTS[1]: False}}
    sched._reschedule(replacement)  # xdist 3.8: KeyError here
    assert replacement.sent == [] and "unit" in sched.workqueue


def test_crash_reports_are_told_apart_from_failures():
    crash = SimpleNamespace(failed=True, longrepr="worker 'gw1' crashed while running 'tests/x.py::test_y'")
    failure = SimpleNamespace(failed=True, longrepr=SimpleNamespace())
    assert is_crash_report(crash) and not is_crash_report(failure)
