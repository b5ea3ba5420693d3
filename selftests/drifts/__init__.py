"""The drift catalogue: for every check, a change that breaks the platform in exactly that way.

Each drift module (``network.py``, ``database.py``, ...) registers drifts with :func:`drift`.
``test_drifts.py`` deploys a fresh environment on the emulator for each drift, applies it,
runs the real conformance suite against the stack and asserts that the intended check fails
with a message naming the resource.
"""
