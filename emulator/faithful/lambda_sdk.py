"""Lambda: the Python runtimes' bundled AWS SDK (boto3), as AWS's managed runtimes ship it.

Measured against MiniStack 1.5.33: CloudFormation does invoke a Lambda-backed custom resource
(``Custom::*``) and waits for the handler's PUT to the ``ResponseURL`` it serves; Lambda runs an
inline ``ZipFile`` Python handler without Docker, in a local worker process of the emulator's
own interpreter, with ``AWS_ENDPOINT_URL`` pointing at the emulator. But that interpreter has
no ``boto3`` (``.venv-emulator`` is MiniStack alone), so a handler that imports it, as AWS's
python3.x runtimes allow, dies at init ("No module named 'boto3'") and the custom resource
never answers. This extension gives Python workers the SDK the AWS runtime bundles (boto3,
botocore, s3transfer, jmespath, dateutil, urllib3, six), linked from the suite's virtual
environment into a directory of those packages alone, through ``PYTHONPATH`` (inherited by
the workers the emulator spawns; the emulator process itself is already running).
Self-test: ``selftests/emulator/test_lambda_sdk.py``.
"""

from __future__ import annotations

import atexit
import glob
import os
import shutil
import tempfile
from pathlib import Path

SDK_PACKAGES = ("boto3", "botocore", "s3transfer", "jmespath", "dateutil", "urllib3", "six.py")
ROOT = Path(__file__).resolve().parents[2]


def _suite_site_packages() -> Path | None:
    override = os.environ.get("FAITHFUL_LAMBDA_SDK_SITE_PACKAGES")
    candidates = [override] if override else sorted(glob.glob(str(ROOT / ".venv/lib/python3*/site-packages")))
    for candidate in candidates:
        if candidate and (Path(candidate) / "boto3").is_dir():
            return Path(candidate)
    return None


def install() -> None:
    site = _suite_site_packages()
    if site is None:
        return
    sdk = Path(tempfile.mkdtemp(prefix="faithful-lambda-sdk-"))
    atexit.register(shutil.rmtree, sdk, True)  # links only: nothing of the suite's is removed with them
    for name in SDK_PACKAGES:
        if (site / name).exists():
            (sdk / name).symlink_to(site / name)
    existing = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = os.pathsep.join([str(sdk), existing] if existing else [str(sdk)])
