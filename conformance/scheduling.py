"""xdist scheduling for the suite: a check that crashed its worker is reported once, never re-run.

The suite runs with ``--dist load`` (pytest.ini), whose scheduler reports the check a dead worker
was running and does not run it again. For ``--dist loadgroup``: when a worker dies (OOM killer,
segfault, ``os._exit``), xdist's loadscope/loadgroup scheduler reports the check it was
running as failed ("worker 'gw1' crashed while running ...") and then puts that check back
in the queue with the rest of the worker's unit: a check that crashes deterministically
takes down every replacement worker in turn, and two replacements collecting at once make
the scheduler raise ``KeyError`` (INTERNALERROR) in xdist 3.8. ``--dist load`` does not
re-run the crashed test; this scheduler does the same for ``loadgroup``:

* the crashed check is marked done (its report is xdist's crash report), the rest of the
  unit goes back to the queue and runs on the other or the replacement workers;
* a replacement worker receives work only once its collection is registered.

The plugin turns a crash report into "could not observe" (exit 3, unless a real
non-conformance was found as well): see ``conformance.outcomes.Outcomes``.
"""

from __future__ import annotations

from typing import Any

from xdist.scheduler import LoadGroupScheduling

CRASH_MESSAGE = "crashed while running"  # xdist's own words in the crash report


def is_crash_report(report: Any) -> bool:
    """True for the report xdist makes for the check a dead worker was running."""
    return bool(report.failed) and isinstance(report.longrepr, str) and CRASH_MESSAGE in report.longrepr


class CrashOnceLoadGroupScheduling(LoadGroupScheduling):
    def remove_node(self, node: Any) -> str | None:
        workload: dict[str, dict[str, bool]] = self.assigned_work.pop(node)
        pending = [(scope, nodeid) for scope, unit in workload.items() for nodeid, done in unit.items() if not done]
        if not pending:
            return None
        scope, crashitem = pending[0]
        workload[scope][crashitem] = True  # reported by xdist as crashed; never run again
        self.workqueue.update({s: unit for s, unit in workload.items() if not all(unit.values())})
        for other in self.assigned_work:
            self._reschedule(other)
        return crashitem

    def _reschedule(self, node: Any) -> None:
        if node not in self.registered_collections:
            return  # a replacement worker still collecting: it is scheduled when it has finished
        super()._reschedule(node)
