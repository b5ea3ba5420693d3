"""Options with a value reach xdist's workers as ``--opt=value``, whichever form the user typed.

pytest decides its rootdir, and so whether it reads ``pytest.ini`` and the root ``conftest.py``,
from a first parse of the command line that knows only pytest's own options: for ``--run-dir
DIR`` (or allure's ``--alluredir DIR``) that parse takes ``DIR`` for a test path, and when DIR
exists, pytest roots itself there. The controller usually parses before the run creates DIR;
xdist's workers parse the same command line again after it, found no ``pytest.ini``, no plugin,
and failed on ``--env`` ("unrecognized arguments", exit 5) or collected from the working folder
(the self-tests too). The controller hands its workers the command line with every long option
and its value joined by ``=``, which no parse can take for a path.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

import pytest


def joined_values(args: Sequence[str], takes_value: set[str]) -> list[str]:
    """``args`` with each ``--opt value`` of ``takes_value`` written ``--opt=value``."""
    out: list[str] = []
    i = 0
    while i < len(args):
        arg = args[i]
        if arg in takes_value and i + 1 < len(args) and arg.startswith("--"):
            out.append(f"{arg}={args[i + 1]}")
            i += 2
            continue
        if arg == "--":
            out.extend(args[i:])
            break
        out.append(arg)
        i += 1
    return out


def long_options_with_values(config: pytest.Config) -> set[str]:
    """Every long option the fully loaded parser knows that takes a value (pytest's, the plugins', ours)."""
    parser: Any = config._parser.optparser  # argparse's table of options, read only
    return {
        name for name, action in parser._option_string_actions.items() if name.startswith("--") and action.nargs != 0
    }


def hand_workers_joined_options(config: pytest.Config) -> None:
    """Rewrite the invocation arguments xdist sends its workers (``--opt value`` → ``--opt=value``)."""
    params = config.invocation_params
    args = joined_values(list(params.args), long_options_with_values(config))
    if tuple(args) != tuple(params.args):
        config.invocation_params = dataclasses.replace(params, args=tuple(args))
