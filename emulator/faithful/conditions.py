"""Template conditions read the pseudo parameters, as CloudFormation's do.

Gap in MiniStack 1.5.33 (measured with create_stack against the running emulator): a condition's
``Ref`` to a pseudo parameter (``!Equals [!Ref 'AWS::Region', us-east-1]``) compared the pseudo
parameter's *name*: ``_evaluate_conditions`` looks a ``Ref`` up in the stack's parameters only and
otherwise returns the name itself, so every condition on the Region, the account or the partition
was false. (Resource properties were right: ``_resolve_refs`` knows the pseudo parameters.) The
platform's template chooses Elastic Load Balancing's access-log grant by the Region
(``ElbLogsByAccount``), so the stack granted the wrong principal and its load balancer failed.

Here the condition evaluator is given ``AWS::Region`` (the request's Region), ``AWS::AccountId``,
``AWS::Partition`` and ``AWS::URLSuffix`` beside the parameters; a parameter of the template never
has such a name (CloudFormation refuses ``AWS::`` parameter names), so none is shadowed.
Self-test: ``selftests/emulator/test_conditions.py``.
"""

from __future__ import annotations

import logging
from typing import Any

log = logging.getLogger("faithful.conditions")


def pseudo_parameters(region: str, account: str) -> dict[str, dict[str, str]]:
    """The pseudo parameters a condition may name, in the shape of the stack's resolved parameters."""
    partition = "aws-cn" if region.startswith("cn-") else "aws-us-gov" if region.startswith("us-gov-") else "aws"
    values = {
        "AWS::Region": region,
        "AWS::AccountId": account,
        "AWS::Partition": partition,
        "AWS::URLSuffix": "amazonaws.com.cn" if partition == "aws-cn" else "amazonaws.com",
    }
    return {name: {"Value": value, "Type": "String"} for name, value in values.items()}


def install() -> None:
    from ministack.core.responses import get_account_id, get_region
    from ministack.services.cloudformation import changesets, engine, handlers, stacks

    evaluate = engine._evaluate_conditions

    def _evaluate_conditions(template: dict[str, Any], params: dict[str, Any]) -> dict[str, bool]:
        return evaluate(template, {**pseudo_parameters(get_region(), get_account_id()), **(params or {})})

    # each module bound the name at import (provisioners imports it from engine when it runs)
    for module in (engine, changesets, handlers, stacks):
        module._evaluate_conditions = _evaluate_conditions  # type: ignore[attr-defined]
    log.info("conditions read the pseudo parameters")
