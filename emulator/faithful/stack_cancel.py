"""A stack deleted while it is being created: the creation is cancelled, as on AWS.

Gap in MiniStack 1.5.33 (measured with the platform template, whose CIS 5.4 custom resource
keeps a creation busy for a second or two): DeleteStack during CREATE_IN_PROGRESS deleted the
resources made so far and marked the stack DELETE_COMPLETE, but the creation kept running.
What it created afterwards was left behind, and its end overwrote DELETE_COMPLETE: a resource
that then failed (the custom resource, its VPC gone) started a rollback of the deleted stack,
which ended ROLLBACK_FAILED ("No delete handler for resource type"); a creation that succeeded
set CREATE_COMPLETE on it. On AWS a delete during creation cancels the creation, what it made
is deleted, and the stack ends DELETE_COMPLETE.

Here the delete marks the stack record; a creation that ends on a marked record neither rolls
back nor completes it: what it made after the delete is deleted by running the delete again,
so the stack ends DELETE_COMPLETE (or DELETE_FAILED, for what truly cannot be deleted).
"""

from __future__ import annotations

import logging
from typing import Any

log = logging.getLogger("faithful.stack_cancel")

_installed = False
MARK = "_faithful_delete_requested"


def install() -> None:
    global _installed
    if _installed:
        return
    from ministack.services.cloudformation import _stacks, changesets, handlers, stacks

    original_delete = stacks._delete_stack_async
    original_rollback = stacks._roll_back_operation
    original_deploy = stacks._deploy_stack_async

    async def _delete_stack_async(stack_name: str, stack_id: str, *args: Any, **kwargs: Any) -> Any:
        stack = _stacks.get(stack_name)
        if stack is not None:
            stack[MARK] = True
        return await original_delete(stack_name, stack_id, *args, **kwargs)

    async def _roll_back_operation(stack_name: str, stack_id: str, stack: dict, *args: Any, **kwargs: Any) -> Any:
        if stack.get(MARK):  # deleted while the operation ran: nothing to roll back to
            log.info("rollback of %s skipped: the stack was deleted during the operation", stack_name)
            return None
        return await original_rollback(stack_name, stack_id, stack, *args, **kwargs)

    async def _deploy_stack_async(stack_name: str, stack_id: str, *args: Any, **kwargs: Any) -> Any:
        stack = _stacks.get(stack_name)
        try:
            return await original_deploy(stack_name, stack_id, *args, **kwargs)
        finally:
            if stack is not None and stack.get(MARK) and stack.get("StackStatus") not in (
                "DELETE_COMPLETE", "DELETE_IN_PROGRESS", "DELETE_FAILED",
            ):  # fmt: skip
                log.info("creation of %s ended after its delete: deleting what it made since", stack_name)
                await original_delete(stack_name, stack_id)

    for module in (stacks, handlers, changesets):
        for name, fn in (
            ("_delete_stack_async", _delete_stack_async),
            ("_roll_back_operation", _roll_back_operation),
            ("_deploy_stack_async", _deploy_stack_async),
        ):
            if hasattr(module, name):
                setattr(module, name, fn)
    _installed = True
    log.info("stack_cancel extension installed")
