"""The end of a run that deployed: the stacks it created deleted (--teardown), or, interrupted, said.

Part of the controller (``conformance.controller``, which calls it from ``Controller.finish``):
:meth:`RunTeardown.delete_created` deletes, one after the other, the stacks this run created;
on Ctrl-C or SIGTERM :meth:`RunTeardown.delete_created_now` starts their deletion and watches it
for at most INTERRUPT_GRACE_SECONDS, and :meth:`RunTeardown.interrupted_line` says in one line
what became of each. A stack that existed before the run is never deleted.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

import botocore.exceptions

from conformance.interrupts import INTERRUPTS
from conformance.settings import RunSettings
from core.errors import ConformanceError

if TYPE_CHECKING:
    from deploy.deployer import Deployer

# After Ctrl-C or SIGTERM, how long the run watches the deletions it started before it exits.
INTERRUPT_GRACE_SECONDS = 5.0


class RunTeardown:
    """The stacks a run deployed (``deployers``, filled by the controller as it deploys) at the run's end."""

    def __init__(
        self,
        settings: RunSettings,
        deployers: dict[str, Deployer],
        out: Callable[[str], None],
        interrupted: Callable[[], bool],
    ) -> None:
        self.settings = settings
        self.deployers = deployers  # the controller's own dict: environment -> its deployer
        self.out = out
        self.interrupted = interrupted  # a signal came, or the run was interrupted otherwise

    def delete_created(self) -> list[str]:
        """--teardown: delete, one after the other, the stacks this run created; stop at a signal."""
        problems: list[str] = []
        for name, deployer in self.deployers.items():
            if self.interrupted():
                break
            if deployer.created_stack_id is None:
                self.out(f"{deployer.stack_name}: existed before this run; --teardown leaves it")
                continue
            try:
                deployer.down()
                deployer.release_retained()  # empty buckets, final snapshots, then the key
                deployer.left_behind()  # retained or failed resources: one message, exit 3
            except ConformanceError as exc:
                if self.interrupted():  # its wait stopped at the signal: the interrupt path takes over
                    break
                problems.append(f"{name}: {exc}")
        return problems

    def delete_created_now(self) -> list[str]:
        """The interrupt path: start deleting every stack this run created, watch for a few seconds."""
        for deployer in self.deployers.values():
            deployer.abandon()  # polls still running in the prepare threads stop at their next turn
        if self.settings.mode.value == "emulator":
            return []  # the offline rehearsal's emulator is discarded with everything in it
        deadline = time.monotonic() + INTERRUPT_GRACE_SECONDS
        for deployer in self.deployers.values():  # a CreateStack still on the wire: wait for its answer
            while not deployer.create_settled.wait(0.1) and time.monotonic() < deadline and not INTERRUPTS.abandoned:
                pass
        problems: list[str] = []
        for deployer in self.deployers.values():
            if not deployer.create_settled.is_set():
                problems.append(
                    f"CreateStack for {deployer.stack_name} was still unanswered when the run stopped; "
                    f"see `python -m deploy status --env {deployer.spec.name}` and delete it if it exists"
                )
        created = self.created()
        if not created or not self.settings.teardown.value:
            return problems
        started: dict[str, Deployer] = {}
        for name, deployer in created.items():
            if INTERRUPTS.abandoned:
                break
            try:
                if deployer.start_deleting_created():
                    started[name] = deployer
            except (ConformanceError, botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as exc:
                problems.append(f"{name}: could not start deleting {deployer.stack_name}: {exc}")
        deadline = max(deadline, time.monotonic() + 2.0)
        while not INTERRUPTS.abandoned and time.monotonic() < deadline:
            deleting = [d for d in started.values() if d.last_status != "DELETE_COMPLETE"]
            if not deleting:
                break
            for deployer in deleting:
                if INTERRUPTS.abandoned:
                    break
                with contextlib.suppress(botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError):
                    deployer.state()  # its last_status: what the line says
            INTERRUPTS.sleep(0.25)
        return problems

    def created(self) -> dict[str, Deployer]:
        return {n: d for n, d in self.deployers.items() if d.created_stack_id is not None}

    def interrupted_line(self) -> str:
        """The interrupted run's one line: every stack it created, named, with what became of it.

        Built from what was last seen (no call): it is also said by a signal that comes after
        the teardown, when the process must end at once.
        """
        created = self.created()
        unanswered = [d.stack_name for d in self.deployers.values() if not d.create_settled.is_set()]
        tail = (
            f"; CreateStack unanswered for {', '.join(unanswered)}: see python -m deploy status" if unanswered else ""
        )
        names = ", ".join(d.stack_name for d in created.values())
        if self.settings.mode.value == "emulator":
            if not created:
                return "interrupted: the run's own emulator was stopped; nothing else was touched"
            return f"interrupted: the run's own emulator was stopped; what it deployed there went with it: {names}"
        if INTERRUPTS.abandoned and created and self.settings.teardown.value:
            parts = [
                f"{d.stack_name} ({_shown(d.last_status)}, deletion {'started' if d.delete_started else 'not started'}"
                f": python -m deploy status --env {n})"
                for n, d in created.items()
                if d.last_status != "DELETE_COMPLETE"
            ]
            gone = [f"{d.stack_name} (deleted)" for d in created.values() if d.last_status == "DELETE_COMPLETE"]
            return f"interrupted twice: deletion abandoned; left: {', '.join(parts + gone) or 'nothing'}{tail}"
        if not created:
            what = "attach mode" if not self.settings.deploy.value else "this run created no stack"
            return f"interrupted: {what}; nothing was deleted{tail}"
        if not self.settings.teardown.value:
            return f"interrupted: {names} (created by this run) left in place: no --teardown{tail}"
        parts = []
        for n, d in created.items():
            if d.last_status == "DELETE_COMPLETE":
                parts.append(f"{d.stack_name} (deleted)")
            elif d.delete_started:
                parts.append(f"{d.stack_name} (still deleting: python -m deploy status --env {n})")
            else:
                parts.append(f"{d.stack_name} (left in {_shown(d.last_status)}: its deletion could not be started)")
        return (
            f"interrupted: deletion started for the stacks this run created, not awaited past "
            f"{INTERRUPT_GRACE_SECONDS:.0f} s: {', '.join(parts)}{tail}"
        )


def _shown(status: str | None) -> str:
    return status or "a state not seen"
