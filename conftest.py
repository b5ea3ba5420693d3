"""Thin root conftest: the suite's behaviour lives in the plugin module."""

pytest_plugins = ["conformance.plugin", "conformance.reporting"]
