"""Deploy the real platform template on the self-tests' emulator (shared by extension tests)."""

from __future__ import annotations

import time
from typing import Any

from core.aws import AwsSession
from core.outputs import StackOutputs
from core.rehearsalimage import with_rehearsal_image
from core.selfsigned import with_self_signed_certificate
from core.spec import load_environment
from deploy.deployer import Deployer


def deploy_platform(endpoint_url: str, env: str = "dev", suffix: str = "ext", **overrides: object) -> StackOutputs:
    spec = load_environment(env).with_overrides(suffix=suffix)
    if overrides:
        spec = spec.model_copy(update={"parameters": spec.parameters.model_copy(update=overrides)})
    aws = AwsSession(region=spec.region, endpoint_url=endpoint_url)
    spec = with_rehearsal_image(with_self_signed_certificate(spec, aws), aws)
    return Deployer(spec, aws, out=lambda _line: None).up()


def settled_stack(cfn: Any, name: str, timeout: float = 60.0) -> dict[str, Any]:
    """The stack once no operation is in progress (a stack deleted by name reports DELETE_COMPLETE)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            stack: dict[str, Any] = cfn.describe_stacks(StackName=name)["Stacks"][0]
        except cfn.exceptions.ClientError as exc:
            if "does not exist" in str(exc):
                return {"StackStatus": "DELETE_COMPLETE"}
            raise
        if not stack["StackStatus"].endswith("IN_PROGRESS"):
            return stack
        if time.monotonic() > deadline:
            raise AssertionError(f"stack {name} still {stack['StackStatus']} after {timeout:.0f} s")
        time.sleep(0.1)
