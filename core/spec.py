"""Environment specifications: ``deploy/environments/<name>.yaml``, validated at load.

A specification says where an environment lives (region, optional account and profile),
which template parameters it is deployed with (``parameters``, names exactly as in
``deploy/template.yaml``) and what the checks hold it to (``expectations``). Loading fails
before any AWS call with one sentence naming the file and the field.
"""

from __future__ import annotations

import ipaddress
import os
import re
from functools import cached_property
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from core.errors import SpecError

REPO_ROOT = Path(__file__).resolve().parent.parent
# PAYMENTS_ENVIRONMENTS_DIR points the suite at another folder of environment files.
ENVIRONMENTS_DIR = Path(os.environ.get("PAYMENTS_ENVIRONMENTS_DIR") or REPO_ROOT / "deploy" / "environments")
TEMPLATE_PATH = REPO_ROOT / "deploy" / "template.yaml"

# The three tiers of the platform (the template's EnvironmentName). An environment file is one
# deployment of a tier: named by the tier (dev.yaml) or by the tier and a qualifier (dev-eu.yaml),
# e.g. a second region or a load-test copy; it then needs its own EnvironmentSuffix and CIDR.
EnvName = Literal["dev", "staging", "prod"]
KNOWN_ENVIRONMENTS: tuple[str, ...] = ("dev", "staging", "prod")
DeploymentName = Annotated[str, Field(pattern=r"^(dev|staging|prod)(-[a-z0-9]{1,12})?$")]
Region = Annotated[str, Field(pattern=r"^[a-z]{2}(-gov)?-[a-z]+-\d$")]
Suffix = Annotated[str, Field(pattern=r"^[a-z0-9]{1,12}$")]
STACK_NAME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9-]{0,127}$")
CertificateArn = Annotated[str, Field(pattern=r"^arn:aws[a-z-]*:acm:[a-z0-9-]+:\d{12}:certificate/[A-Za-z0-9-]+$")]
# The application image: a private ECR repository of the environment's own account and region,
# pinned by manifest digest (a tag can be moved to other content; a digest cannot)
ContainerImage = Annotated[
    str,
    Field(pattern=r"^\d{12}\.dkr\.ecr\.[a-z0-9-]+\.amazonaws\.com/[a-z0-9]+([._/-][a-z0-9]+)*@sha256:[a-f0-9]{64}$"),
]
# Fields of the environment file, outside ``parameters``, that reach the template as a parameter:
# field -> template parameter (the deployer sends both kinds; the template suite checks the names).
SPEC_PARAMETERS: dict[str, str] = {"certificate_arn": "CertificateArn", "container_image": "ContainerImage"}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TemplateParameters(_Strict):
    """The template's parameters. Field names are the CloudFormation parameter names."""

    EnvironmentName: EnvName
    EnvironmentSuffix: Suffix
    VpcCidr: str
    Owner: Annotated[str, Field(min_length=1, max_length=64)]
    CostCenter: Annotated[str, Field(min_length=1, max_length=64)]
    AlarmEmail: Annotated[str, Field(pattern=r"^[^@\s]+@[^@\s]+\.[a-z]{2,}$")]
    ContainerPort: Annotated[int, Field(ge=1, le=65535)]
    TaskCpu: Literal[256, 512, 1024, 2048, 4096]
    TaskMemory: Annotated[int, Field(ge=512, le=30720)]
    DesiredCount: Annotated[int, Field(ge=0, le=100)]
    MinCapacity: Annotated[int, Field(ge=0, le=100)]
    MaxCapacity: Annotated[int, Field(ge=1, le=100)]
    DBInstanceClass: Annotated[str, Field(pattern=r"^db\.[a-z0-9]+\.[a-z0-9]+$")]
    BackupRetentionDays: Annotated[int, Field(ge=1, le=35)]
    DeletionProtection: Literal["true", "false"]

    @field_validator("VpcCidr")
    @classmethod
    def _cidr(cls, value: str) -> str:
        try:
            net = ipaddress.IPv4Network(value, strict=True)
        except ValueError as exc:
            raise ValueError(f"{value!r} is not an IPv4 network in CIDR form ({exc})") from None
        if not net.is_private or not 16 <= net.prefixlen <= 20:
            raise ValueError(f"{value!r} must be a private network between /16 and /20")
        return value

    @model_validator(mode="after")
    def _capacity(self) -> TemplateParameters:
        if not self.MinCapacity <= self.DesiredCount <= self.MaxCapacity:
            raise ValueError(
                f"DesiredCount {self.DesiredCount} must lie within MinCapacity {self.MinCapacity} "
                f"and MaxCapacity {self.MaxCapacity}"
            )
        return self

    def as_cloudformation(self) -> list[dict[str, str]]:
        return [{"ParameterKey": k, "ParameterValue": str(v)} for k, v in self.model_dump().items()]


class Expectations(_Strict):
    """What the checks hold the deployed environment to, beyond its parameters."""

    az_count: Annotated[int, Field(ge=2, le=6)]
    aurora_instances: Annotated[int, Field(ge=2, le=15)]
    engine: Literal["aurora-mysql"]
    engine_version: Annotated[str, Field(pattern=r"^8\.0\.mysql_aurora\.3\.\d{2}\.\d+$")]
    log_retention_days: Literal[1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1827, 3653]
    termination_protection: bool
    # the longest the database master password may live: its rotation schedule and the age of the
    # current password must stay within it (RDS rotates a managed password every 7 days by default)
    master_password_rotation_days: Annotated[int, Field(ge=1, le=90)]


class EnvironmentSpec(_Strict):
    name: DeploymentName
    region: Region
    candidate_regions: Annotated[list[Region], Field(min_length=1)]
    account_id: Annotated[str, Field(pattern=r"^\d{12}$")] | None = None
    profile: str | None = None
    # the ACM certificate of the HTTPS listener (template parameter CertificateArn); the offline
    # rehearsal overrides it with the certificate it imports into the emulator's ACM
    certificate_arn: CertificateArn
    # the application's image (template parameter ContainerImage), by digest from the account's ECR
    # repository; the offline rehearsal overrides it with the image it publishes into the emulator's
    container_image: ContainerImage
    parameters: TemplateParameters
    expectations: Expectations

    @model_validator(mode="after")
    def _consistent(self) -> EnvironmentSpec:
        if tier_of(self.name) != self.parameters.EnvironmentName:
            raise ValueError(
                f"parameters.EnvironmentName is {self.parameters.EnvironmentName!r} but the file is for {self.name!r}"
            )
        if self.region not in self.candidate_regions:
            raise ValueError(f"region {self.region!r} must be one of candidate_regions")
        return self

    @property
    def suffix(self) -> str:
        return self.parameters.EnvironmentSuffix

    @property
    def tier(self) -> str:
        """dev, staging or prod: what the template is told, and what the protections key on."""
        return self.parameters.EnvironmentName

    @property
    def platform_tags(self) -> dict[str, str]:
        """The five tags every taggable resource carries (PLATFORM.md), with this environment's values."""
        return {
            "Environment": self.tier,
            "Application": "payments",
            "Owner": self.parameters.Owner,
            "CostCenter": self.parameters.CostCenter,
            "ManagedBy": "cloudformation",
        }

    @property
    def stack_name(self) -> str:
        return f"payments-{self.tier}-{self.suffix}"

    @cached_property
    def vpc_network(self) -> ipaddress.IPv4Network:
        return ipaddress.IPv4Network(self.parameters.VpcCidr)

    def template_parameters(self) -> list[dict[str, str]]:
        """Every template parameter the deployer sends: ``parameters`` and the fields of SPEC_PARAMETERS."""
        extra = [{"ParameterKey": p, "ParameterValue": str(getattr(self, f))} for f, p in SPEC_PARAMETERS.items()]
        return self.parameters.as_cloudformation() + extra

    def with_overrides(
        self,
        *,
        suffix: str | None = None,
        region: str | None = None,
        certificate_arn: str | None = None,
        container_image: str | None = None,
    ) -> EnvironmentSpec:
        data = self.model_dump()
        if certificate_arn is not None:
            data["certificate_arn"] = certificate_arn
        if container_image is not None:
            data["container_image"] = container_image
        if suffix is not None:
            data["parameters"]["EnvironmentSuffix"] = suffix
        if region is not None:
            data["region"] = region
            if region not in data["candidate_regions"]:
                data["candidate_regions"] = [region, *data["candidate_regions"]]
        return _validate(data, f"{self.name} (with overrides)")


def _describe_error(exc: ValidationError) -> str:
    first = exc.errors()[0]
    field = ".".join(str(p) for p in first["loc"]) or "(top level)"
    msg = first["msg"]
    if first["type"] == "extra_forbidden":
        msg = "is not a known field (check its spelling and case)"
    elif first["type"] == "missing":
        msg = "is required but missing"
    more = len(exc.errors()) - 1
    tail = f" (and {more} more problem{'s' if more > 1 else ''})" if more else ""
    return (
        f"field {field} {msg}{tail}"
        if first["type"] in ("extra_forbidden", "missing")
        else (f"field {field}: {msg}{tail}")
    )


def _validate(data: Any, source: str) -> EnvironmentSpec:
    if not isinstance(data, dict):
        raise SpecError(f"{source} must hold a mapping of fields, not {type(data).__name__}; fix the file.")
    try:
        return EnvironmentSpec.model_validate(data)
    except ValidationError as exc:
        raise SpecError(f"{source}: {_describe_error(exc)}; fix the file and run again.") from None


def tier_of(name: str) -> str:
    """The tier an environment name belongs to: ``prod`` for ``prod`` and ``prod-eu``."""
    return name.split("-", 1)[0]


def environment_path(name: str, directory: Path = ENVIRONMENTS_DIR) -> Path:
    return directory / f"{name}.yaml"


def available_environments(directory: Path = ENVIRONMENTS_DIR) -> list[str]:
    return sorted(p.stem for p in directory.glob("*.yaml"))


# libyaml's safe loader when PyYAML has it (ten times faster; every process of a run loads each
# environment file, and core.template the 50 kB template)
YAML_SAFE_LOADER: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def load_environment(name: str, directory: Path = ENVIRONMENTS_DIR) -> EnvironmentSpec:
    """Load and validate one environment; raise :class:`SpecError` with one sentence on any problem."""
    path = environment_path(name, directory)
    shown = _shown(path)
    if not re.fullmatch(r"[a-z][a-z0-9-]*", name) or not path.is_file():
        known = ", ".join(available_environments(directory)) or "none"
        raise SpecError(f"unknown environment {name!r}: there is no {shown}; choose one of {known}.")
    try:
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=YAML_SAFE_LOADER)  # noqa: S506 - a safe loader
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise SpecError(f"{shown} is not valid YAML{where}; fix the file and run again.") from None
    except UnicodeDecodeError:
        raise SpecError(f"{shown} is not UTF-8 text; save it as UTF-8 YAML and run again.") from None
    except OSError as exc:
        raise SpecError(f"{shown} cannot be read ({exc.strerror}); fix its permissions and run again.") from None
    spec = _validate(data, shown)
    if spec.name != name:
        raise SpecError(f"{shown}: field name is {spec.name!r} but the file is named {name!r}; make them agree.")
    return spec


def _shown(path: Path) -> str:
    try:
        return str(path.relative_to(REPO_ROOT))
    except ValueError:
        return str(path)
