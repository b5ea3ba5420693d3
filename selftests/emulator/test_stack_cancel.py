"""emulator/faithful/stack_cancel.py: a stack deleted while being created ends DELETE_COMPLETE, not resurrected."""

from __future__ import annotations

import time

from core.aws import AwsSession
from core.rehearsalimage import with_rehearsal_image
from core.selfsigned import with_self_signed_certificate
from core.spec import load_environment
from core.template import compact_json
from deploy.artifacts import ArtifactsBucket
from selftests.emulator.platform import settled_stack

NAME = "payments-dev-cancel"


def _events(cfn, logical_id: str) -> list[str]:
    events = cfn.describe_stack_events(StackName=NAME)["StackEvents"]
    return [e["ResourceStatus"] for e in events if e["LogicalResourceId"] == logical_id]


def test_delete_during_creation_cancels_it(emulator, aws):
    emulator.reset()
    cfn = aws("cloudformation")
    session = AwsSession(region="us-east-1", endpoint_url=emulator.endpoint_url)
    spec = with_rehearsal_image(
        with_self_signed_certificate(load_environment("dev").with_overrides(suffix="cancel"), session), session
    )
    cfn.create_stack(
        StackName=NAME,
        # as the deployer sends it: by TemplateURL from the artifacts bucket
        TemplateURL=ArtifactsBucket(session, out=lambda _: None).upload_template(compact_json()),
        Parameters=spec.template_parameters(),  # the parameters and the HTTPS listener's certificate
        Capabilities=["CAPABILITY_NAMED_IAM"],
    )
    deadline = time.monotonic() + 30
    while "CREATE_IN_PROGRESS" not in _events(cfn, "DefaultSecurityGroupRestriction") and time.monotonic() < deadline:
        time.sleep(0.05)  # the custom resource is being created: its Lambda handler runs for a while
    assert cfn.describe_stacks(StackName=NAME)["Stacks"][0]["StackStatus"] == "CREATE_IN_PROGRESS"
    cfn.delete_stack(StackName=NAME)
    # the creation keeps running until the handler answers; wait for that answer
    while len(_events(cfn, "DefaultSecurityGroupRestriction")) < 2 and time.monotonic() < deadline:
        time.sleep(0.1)
    time.sleep(1.0)  # the creation's end, which used to resurrect the stack
    stack = settled_stack(cfn, NAME)
    assert stack["StackStatus"] == "DELETE_COMPLETE", stack
    assert not aws("ec2").describe_vpcs(Filters=[{"Name": "tag:aws:cloudformation:stack-name", "Values": [NAME]}])[
        "Vpcs"
    ]
