"""Typed views of the MiniStack internals the extensions patch, where MiniStack's own types are too weak.

Not an extension (its name starts with ``_``, so :func:`faithful.install_all` skips it).
``mypy`` reads MiniStack's source (see "Type checking" in ``docs/emulator.md``) and infers
its tables from their literals; where that inference is too weak to patch through, the
table's real shape is declared here once, rather than cast or ignored at each use.
"""

from __future__ import annotations

from typing import Any, cast

#: One resource type's provider: ``create``, ``update``, ``delete`` (and ``import``) functions,
#: plus flags such as ``update_with_logical_id``.
Handler = dict[str, Any]


def resource_handlers() -> dict[str, Handler]:
    """``provisioners._RESOURCE_HANDLERS``, by resource type.

    MiniStack declares it as a bare literal whose entries mix functions and booleans, which
    mypy infers as ``dict[str, object]``: nothing could be read out of an entry, or patched in.
    """
    from ministack.services.cloudformation import provisioners

    return cast(dict[str, Handler], provisioners._RESOURCE_HANDLERS)
