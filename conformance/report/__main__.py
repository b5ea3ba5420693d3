"""``python -m conformance.report``: build the HTML report, its single-file form and the control matrix."""

from __future__ import annotations

import sys

from conformance.report.build import main

if __name__ == "__main__":
    sys.exit(main())
