"""Extensions that make MiniStack faithful to AWS for this platform.

This package runs *inside* the emulator's own virtual environment (``.venv-emulator``), in
the MiniStack process, never in the suite's. Every module here that defines ``install()``
is an extension; :func:`install_all` imports them in name order and calls each once before
the server starts serving. Each extension closes one measured gap (see
``docs/emulator.md``) and has a self-test in ``selftests/emulator/``.

These hook MiniStack internals, so ``emulator/requirements.lock`` pins MiniStack exactly:
an upgrade that moves an internal must fail a self-test, not pass silently.
"""

from __future__ import annotations

import importlib
import logging
import pkgutil

log = logging.getLogger("faithful")


def install_all() -> list[str]:
    """Install every extension module of this package; return their names."""
    installed = []
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        install = getattr(module, "install", None)
        if callable(install):
            install()
            installed.append(info.name)
            log.info("faithful extension installed: %s", info.name)
    return installed
