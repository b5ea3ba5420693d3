"""Deploy the real platform template on the self-tests' emulator (shared by extension tests)."""

from __future__ import annotations

from conformance.aws import AwsSession
from conformance.outputs import StackOutputs
from conformance.spec import load_environment
from deploy.deployer import Deployer


def deploy_platform(endpoint_url: str, env: str = "dev", suffix: str = "ext", **overrides: object) -> StackOutputs:
    spec = load_environment(env).with_overrides(suffix=suffix)
    if overrides:
        spec = spec.model_copy(update={"parameters": spec.parameters.model_copy(update=overrides)})
    aws = AwsSession(region=spec.region, endpoint_url=endpoint_url)
    return Deployer(spec, aws, out=lambda _line: None).up()
