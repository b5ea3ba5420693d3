"""deploy/preflight.py counts the Elastic IPs a template needs for an environment, honouring Conditions;
core/aws.py reads PAYMENTS_READ_TIMEOUT."""

from __future__ import annotations

import textwrap

import pytest

from core.aws import client_config, read_timeout_setting
from core.errors import UsageError
from core.spec import load_environment
from deploy.preflight import template_needs

_TEMPLATE = textwrap.dedent(
    """
    Parameters:
      EnvironmentName: {Type: String}
    Conditions:
      IsProd: !Equals [!Ref EnvironmentName, prod]
      NotProd: !Not [!Condition IsProd]
      ProdOrStaging: !Or [!Condition IsProd, !Equals [!Ref EnvironmentName, staging]]
    Resources:
      Always:
        Type: AWS::EC2::EIP
      OnlyProd:
        Type: AWS::EC2::EIP
        Condition: IsProd
      OnlyElsewhere:
        Type: AWS::EC2::EIP
        Condition: NotProd
      Nat:
        Type: AWS::EC2::NatGateway
        Condition: ProdOrStaging
    """
)


@pytest.mark.parametrize(("env", "eips", "nats"), [("dev", 2, 0), ("staging", 2, 1), ("prod", 2, 1)])
def test_conditions_decide_what_is_counted(tmp_path, env, eips, nats):
    path = tmp_path / "t.yaml"
    path.write_text(_TEMPLATE)
    need = template_needs(load_environment(env), path)
    assert (need.eips, need.nat_gateways) == (eips, nats)


def test_read_timeout_comes_from_the_environment(monkeypatch):
    monkeypatch.delenv("PAYMENTS_READ_TIMEOUT", raising=False)
    assert read_timeout_setting() == 20.0
    monkeypatch.setenv("PAYMENTS_READ_TIMEOUT", "1.5")
    assert client_config().read_timeout == 1.5
    monkeypatch.setenv("PAYMENTS_READ_TIMEOUT", "soon")
    with pytest.raises(UsageError, match="PAYMENTS_READ_TIMEOUT='soon'"):
        client_config()
