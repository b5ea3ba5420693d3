"""One exception hierarchy and one exit-code contract for the whole suite.

Every error the suite raises on purpose is a :class:`ConformanceError` whose message is one
sentence naming the problem and the fix. Its ``exit_code`` follows the documented contract,
which is pytest's own where the two overlap:

====  ======================================================================
code  meaning
====  ======================================================================
0     every check conforms
1     non-conformance found (a check failed)
2     interrupted (Ctrl-C, SIGTERM)
3     the suite could not observe: infrastructure, credentials, endpoint, probe error
4     usage error: unknown environment, malformed file, bad option, refused operation
====  ======================================================================
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0
    NON_CONFORMANT = 1
    INTERRUPTED = 2
    CANNOT_OBSERVE = 3
    USAGE = 4


class ConformanceError(Exception):
    """Base class: a one-sentence message and an exit code."""

    exit_code: ExitCode = ExitCode.CANNOT_OBSERVE


class UsageError(ConformanceError):
    """Bad input from the user: nothing was called, nothing was changed."""

    exit_code = ExitCode.USAGE


class SpecError(UsageError):
    """An environment specification is unknown or malformed."""


class RefusedError(UsageError):
    """A requested operation is refused for safety (prod teardown, foreign stack, ...)."""


class InfrastructureError(ConformanceError):
    """The target could not be reached or observed (endpoint, credentials, throttling)."""

    exit_code = ExitCode.CANNOT_OBSERVE


class EndpointUnreachable(InfrastructureError):
    pass


class CredentialsError(InfrastructureError):
    pass


class StackStateError(InfrastructureError):
    """A stack is in a state the suite will not deploy over or attach to."""


class DeploymentFailed(InfrastructureError):
    """A create, update or delete ended in failure; the message lists the failed resources."""
