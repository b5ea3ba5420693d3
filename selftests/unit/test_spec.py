"""Environment specifications: validated at load, one sentence naming the file and the field."""

from pathlib import Path

import pytest
import yaml

from core.errors import ExitCode, SpecError
from core.spec import ENVIRONMENTS_DIR, KNOWN_ENVIRONMENTS, SPEC_PARAMETERS, TemplateParameters, load_environment


@pytest.mark.parametrize("name", KNOWN_ENVIRONMENTS)
def test_shipped_environments_load(name):
    spec = load_environment(name)
    assert spec.name == name
    assert spec.stack_name == f"payments-{name}-{spec.suffix}"


def test_platform_table_is_what_the_files_say():
    """PLATFORM.md's environment table, as the environment files declare it."""
    table = {
        "prod": ("10.0.0.0/16", 3, (3, 3, 10), 35, "true"),
        "staging": ("10.1.0.0/16", 3, (2, 2, 6), 14, "true"),
        "dev": ("10.2.0.0/16", 3, (1, 1, 3), 7, "false"),
    }
    for name, (cidr, azs, (desired, low, high), backup, protection) in table.items():
        p = load_environment(name).parameters
        e = load_environment(name).expectations
        assert (p.VpcCidr, e.az_count, p.DesiredCount, p.MinCapacity, p.MaxCapacity) == (
            cidr,
            azs,
            desired,
            low,
            high,
        )
        assert (p.BackupRetentionDays, p.DeletionProtection, e.aurora_instances) == (backup, protection, 2)


def _write(tmp_path: Path, name: str, data) -> Path:
    path = tmp_path / f"{name}.yaml"
    path.write_text(data if isinstance(data, str) else yaml.safe_dump(data))
    return path


def _dev() -> dict:
    return yaml.safe_load((ENVIRONMENTS_DIR / "dev.yaml").read_text())


def test_unknown_environment_names_the_file_and_the_choices(tmp_path):
    _write(tmp_path, "dev", _dev())
    with pytest.raises(SpecError) as err:
        load_environment("qa", tmp_path)
    assert "unknown environment 'qa'" in str(err.value)
    assert "qa.yaml" in str(err.value) and "dev" in str(err.value)
    assert err.value.exit_code == ExitCode.USAGE


def test_malformed_yaml_names_the_line(tmp_path):
    _write(tmp_path, "dev", "name: dev\nparameters: [unclosed\n")
    with pytest.raises(SpecError, match=r"dev\.yaml is not valid YAML at line \d+"):
        load_environment("dev", tmp_path)


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda d: d["parameters"].update(VpcCidr="10.2.0.0/33"), "parameters.VpcCidr"),
        (lambda d: d["parameters"].update(environmentSuffix="x"), "parameters.environmentSuffix"),
        (lambda d: d["parameters"].pop("DesiredCount"), "parameters.DesiredCount"),
        (lambda d: d["parameters"].update(EnvironmentSuffix="Main"), "parameters.EnvironmentSuffix"),
        (lambda d: d["expectations"].update(az_count="three"), "expectations.az_count"),
        (lambda d: d.update(region="mars-1"), "region"),
        (lambda d: d["parameters"].update(DesiredCount=9), "parameters"),
        (lambda d: d["parameters"].update(EnvironmentName="prod"), "parameters.EnvironmentName"),
    ],
)
def test_malformed_field_is_named(tmp_path, mutate, field):
    data = _dev()
    mutate(data)
    _write(tmp_path, "dev", data)
    with pytest.raises(SpecError) as err:
        load_environment("dev", tmp_path)
    message = str(err.value)
    assert message.startswith("dev.yaml") or "dev.yaml" in message
    assert field in message
    assert message.endswith(".")
    assert "\n" not in message


def test_file_must_be_a_mapping(tmp_path):
    _write(tmp_path, "dev", "- just\n- a list\n")
    with pytest.raises(SpecError, match="must hold a mapping"):
        load_environment("dev", tmp_path)


def test_parameters_pass_to_cloudformation_as_strings():
    params = load_environment("dev").parameters.as_cloudformation()
    assert {p["ParameterKey"] for p in params} == set(TemplateParameters.model_fields)
    assert all(isinstance(p["ParameterValue"], str) for p in params)


def test_certificate_arn_reaches_the_template_and_can_be_overridden():
    spec = load_environment("dev")
    sent = {p["ParameterKey"]: p["ParameterValue"] for p in spec.template_parameters()}
    assert sent["CertificateArn"] == spec.certificate_arn
    assert set(sent) == set(TemplateParameters.model_fields) | set(SPEC_PARAMETERS.values())
    imported = "arn:aws:acm:us-east-1:000000000000:certificate/0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"
    assert spec.with_overrides(certificate_arn=imported).certificate_arn == imported
    with pytest.raises(SpecError, match="certificate_arn"):
        spec.with_overrides(certificate_arn="not-an-arn")


def test_suffix_override_changes_stack_name():
    spec = load_environment("dev").with_overrides(suffix="pr42")
    assert spec.stack_name == "payments-dev-pr42"
    with pytest.raises(SpecError, match="EnvironmentSuffix"):
        load_environment("dev").with_overrides(suffix="PR 42")


def test_a_second_deployment_of_a_tier_is_its_own_environment(tmp_path):
    """dev-eu.yaml: another deployment of the dev tier (a region, a load-test copy), own stack."""
    data = _dev() | {"name": "dev-eu"}
    data["parameters"] |= {"EnvironmentSuffix": "eu", "VpcCidr": "10.12.0.0/16"}
    _write(tmp_path, "dev-eu", data)
    spec = load_environment("dev-eu", tmp_path)
    assert (spec.name, spec.tier, spec.stack_name) == ("dev-eu", "dev", "payments-dev-eu")


def test_a_deployment_name_must_belong_to_its_tier(tmp_path):
    data = _dev() | {"name": "prod-eu"}  # a prod name deploying the dev tier
    _write(tmp_path, "prod-eu", data)
    with pytest.raises(SpecError, match=r"EnvironmentName is 'dev' but the file is for 'prod-eu'"):
        load_environment("prod-eu", tmp_path)
    _write(tmp_path, "qa", _dev() | {"name": "qa"})
    with pytest.raises(SpecError, match=r"qa\.yaml.*name"):
        load_environment("qa", tmp_path)


def test_two_environments_on_one_stack_are_refused(tmp_path, monkeypatch):
    from conformance.settings import RunSettings
    from core import spec as spec_module
    from core.errors import UsageError

    _write(tmp_path, "dev", _dev())
    _write(tmp_path, "dev-copy", _dev() | {"name": "dev-copy"})  # same suffix: same stack name
    monkeypatch.setattr(spec_module, "ENVIRONMENTS_DIR", tmp_path)
    monkeypatch.setattr(spec_module.load_environment, "__defaults__", (tmp_path,))
    settings = RunSettings.resolve(envs=["dev,dev-copy"], emulator=True, endpoint_url=None, deploy=True, teardown=False)
    with pytest.raises(UsageError, match=r"environments dev and dev-copy would both be stack payments-dev-main"):
        settings.specs()


def test_teardown_refuses_every_prod_deployment():
    from conformance.settings import RunSettings
    from core.errors import UsageError

    with pytest.raises(UsageError, match="never deletes prod"):
        RunSettings.resolve(envs=["prod-eu"], emulator=True, endpoint_url=None, deploy=True, teardown=True)
