"""Shared library of the payments platform conformance suite.

Modules: ``errors`` (exception hierarchy and exit codes), ``spec`` (environment
specifications), ``aws`` (sessions and clients), ``outputs`` (the stack's typed outputs),
``plugin`` (the pytest plugin that ``conftest.py`` loads).
"""

__version__ = "0.1.0"
