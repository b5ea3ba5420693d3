"""The conformance report: Allure HTML (and single file), trend history, the control matrix.

``python -m conformance.report`` builds it from ``build/allure-results``; see ``docs/report.md``.
"""
