"""The deployer against the real emulator: create, update through change sets, refuse, tear down."""

from __future__ import annotations

import textwrap

import pytest

from core.aws import AwsSession
from core.errors import DeploymentFailed, RefusedError, StackStateError
from core.selfsigned import with_self_signed_certificate
from core.spec import load_environment
from deploy.deployer import CREATOR_TAG, RUN_ID_TAG, Deployer
from selftests.emulator.platform import settled_stack

WRITES = {"CreateStack", "UpdateStack", "DeleteStack", "CreateChangeSet", "ExecuteChangeSet",
          "UpdateTerminationProtection"}  # fmt: skip


def _writes(session: AwsSession) -> list[str]:
    return [op for op in session.call_log.calls if op.split(":", 1)[1] in WRITES]


@pytest.fixture
def session(emulator):
    emulator.reset()
    return AwsSession(region="us-east-1", endpoint_url=emulator.endpoint_url)


def _deployer(session, env="dev", suffix="t1", **kw):
    lines: list[str] = []
    # the environment file's certificate is the real account's: the emulator's ACM gets a self-signed
    # one, as `python -m deploy up` imports it there (a listener refuses a certificate ACM lacks)
    spec = with_self_signed_certificate(load_environment(env).with_overrides(suffix=suffix), session)
    return Deployer(spec, session, out=lines.append, **kw), lines


def test_up_creates_tags_and_returns_typed_outputs(session):
    deployer, lines = _deployer(session)
    outputs = deployer.up()
    state = deployer.state()
    assert state.status == "CREATE_COMPLETE"
    assert state.tags["Environment"] == "dev" and state.tags["Application"] == "payments"
    assert state.tags["ManagedBy"] == "cloudformation" and state.tags["Owner"] == "platform-team"
    assert state.tags[CREATOR_TAG] and state.tags[RUN_ID_TAG] == deployer.run_id
    assert state.termination_protection is False
    assert outputs.VpcCidr == "10.2.0.0/16"
    assert len(outputs.PublicSubnetIds) == 3 and len(outputs.PrivateSubnetIds) == 3
    assert any("CREATE_COMPLETE" in line and "/" in line for line in lines), lines


def test_second_up_is_a_no_op(session):
    deployer, lines = _deployer(session)
    deployer.up()
    lines.clear()
    before = dict(session.call_log.calls)
    deployer.up()
    assert any("no changes" in line for line in lines), lines
    new_ops = {op for op, n in session.call_log.calls.items() if n > before.get(op, 0)}
    assert "cloudformation:ExecuteChangeSet" not in new_ops
    assert "cloudformation:UpdateStack" not in new_ops


def test_changed_parameter_goes_through_a_printed_change_set(session):
    deployer, _ = _deployer(session)
    deployer.up()
    spec = deployer.spec.model_copy(
        update={"parameters": deployer.spec.parameters.model_copy(update={"DesiredCount": 2})}
    )
    lines: list[str] = []
    Deployer(spec, session, out=lines.append).up()
    header = next(line for line in lines if "change set" in line)
    changed = [line.split()[1] for line in lines if line.lstrip().startswith(("Modify", "Add", "Remove"))]
    assert "ECSService" in changed, lines
    assert len(changed) < 10, f"a DesiredCount change should touch the service and its dependants only: {changed}"
    assert f"with {len(changed)} change(s)" in header
    assert deployer.state().status == "UPDATE_COMPLETE"


def test_staging_gets_termination_protection_and_down_refuses_it(session):
    deployer, _ = _deployer(session, env="staging")
    deployer.up()
    assert deployer.state().termination_protection is True
    with pytest.raises(RefusedError, match="termination protection"):
        deployer.down()
    assert "cloudformation:DeleteStack" not in session.call_log.calls
    assert deployer.state().status == "CREATE_COMPLETE"


def test_down_refuses_prod_without_a_delete_call(session):
    deployer, _ = _deployer(session, env="prod")
    deployer.up()
    with pytest.raises(RefusedError, match="never deletes prod"):
        deployer.down()
    assert "cloudformation:DeleteStack" not in session.call_log.calls


def test_down_refuses_a_stack_the_suite_did_not_create(session):
    cfn = session.client("cloudformation")
    cfn.create_stack(StackName="payments-dev-t1", TemplateBody=_MINIMAL)
    deployer, _ = _deployer(session)
    with pytest.raises(RefusedError, match="did not create"):
        deployer.down()
    assert "cloudformation:DeleteStack" not in session.call_log.calls


def test_down_deletes_what_it_created_and_purges_the_retained_bucket(session):
    deployer, _ = _deployer(session)
    outputs = deployer.up()
    retained = deployer.down()
    assert deployer.state() is None
    assert any(outputs.TransactionLogsBucket in r for r in retained)
    deployer.purge_retained(retained)
    buckets = [b["Name"] for b in session.client("s3").list_buckets().get("Buckets", [])]
    assert outputs.TransactionLogsBucket not in buckets


_MINIMAL = textwrap.dedent(
    """
    Resources:
      Topic:
        Type: AWS::SNS::Topic
    """
)

_FAILING = textwrap.dedent(
    """
    Resources:
      Topic:
        Type: AWS::SNS::Topic
      Broken:
        Type: AWS::SNS::Topic
        Properties:
          TopicName: !GetAtt Topic.NoSuchAttribute
    """
)


def _rollback_complete(session, name="payments-dev-t1"):
    cfn = session.client("cloudformation")
    cfn.create_stack(StackName=name, TemplateBody=_FAILING)
    return settled_stack(cfn, name)["StackStatus"]


def test_rollback_complete_stack_is_refused_never_deleted(session):
    assert _rollback_complete(session) == "ROLLBACK_COMPLETE"
    deployer, _ = _deployer(session)
    session.call_log.calls.clear()
    with pytest.raises(StackStateError) as err:
        deployer.up()
    assert "ROLLBACK_COMPLETE" in str(err.value) and "delete-stack" in str(err.value)
    assert _writes(session) == []
    assert deployer.state().status == "ROLLBACK_COMPLETE"
    with pytest.raises(StackStateError, match="ROLLBACK_COMPLETE"):
        deployer.outputs()


def test_failed_create_lists_failed_resources_root_cause_first(session, tmp_path):
    """A variant of the real template with one resource that cannot be created."""
    import json

    from core.template import load_template

    doc = json.loads(json.dumps(load_template()))
    doc["Resources"]["Broken"] = {
        "Type": "AWS::SNS::Topic",
        "Properties": {"TopicName": {"Fn::GetAtt": ["VPC", "NoSuchAttribute"]}},
    }
    template = tmp_path / "broken.json"
    template.write_text(json.dumps(doc))
    deployer, _ = _deployer(session, template_path=template)
    with pytest.raises(DeploymentFailed) as err:
        deployer.up()
    message = str(err.value)
    assert message.startswith(f"stack {deployer.stack_name} ended in ROLLBACK_COMPLETE")
    first = message.splitlines()[1]
    assert "Broken (AWS::SNS::Topic)" in first, message
    assert deployer.state().status == "ROLLBACK_COMPLETE"  # kept for inspection, never deleted
