"""What a run points at and what it may change: environments, target, deploy, teardown, template.

Resolved from the command line (and ``AWS_ENDPOINT_URL``) once per process, each value with the
place it came from, which the report header shows. No AWS call, nothing of ``deploy/``: the
xdist workers resolve the same settings.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.errors import UsageError
from core.runid import new_run_id
from core.spec import KNOWN_ENVIRONMENTS, REPO_ROOT, TEMPLATE_PATH, EnvironmentSpec, load_environment, tier_of
from core.template import template_sha256, template_version

AUTO_REGION = "auto"  # --region auto: deploy/preflight.py picks a candidate region with room
DEFAULT_RUN_DIR = REPO_ROOT / "build" / "run"


@dataclass(frozen=True)
class Setting:
    value: Any
    source: str

    def show(self) -> str:
        value = ", ".join(self.value) if isinstance(self.value, list | tuple) else self.value
        return f"{value} (from {self.source})"


@dataclass
class RunSettings:
    environments: Setting
    mode: Setting
    endpoint_url: Setting
    deploy: Setting
    teardown: Setting
    template: Setting
    suffix: str | None = None
    region: str | None = None
    run_id: str = field(default_factory=new_run_id)
    run_dir: Path = DEFAULT_RUN_DIR

    @classmethod
    def resolve(
        cls,
        *,
        envs: list[str] | None,
        emulator: bool,
        endpoint_url: str | None,
        deploy: bool,
        teardown: bool,
        suffix: str | None = None,
        region: str | None = None,
        run_dir: Path | None = None,
        template: Path | None = None,
        environ: dict[str, str] | None = None,
    ) -> RunSettings:
        environ = dict(os.environ) if environ is None else environ
        if envs:
            names: list[str] = []
            for e in envs:
                names.extend(n.strip() for n in e.split(",") if n.strip())
            if "all" in names:
                names = list(KNOWN_ENVIRONMENTS)
            environments = Setting(list(dict.fromkeys(names)), "--env")
        else:
            environments = Setting(list(KNOWN_ENVIRONMENTS), "default: no --env given")
        if region == AUTO_REGION and not (deploy or emulator or not envs):
            raise UsageError("--region auto chooses where to deploy: pass it with --deploy, or name the region.")
        if teardown and any(tier_of(n) == "prod" for n in environments.value):
            raise UsageError("--teardown never deletes prod; drop --teardown or leave prod out of --env.")
        if emulator and endpoint_url:
            raise UsageError("--emulator and --endpoint-url exclude each other; pass one of them.")
        env_endpoint = environ.get("AWS_ENDPOINT_URL")
        if emulator:
            mode, endpoint = Setting("emulator", "--emulator"), Setting(None, "started by this run")
        elif endpoint_url:
            mode, endpoint = Setting("endpoint", "--endpoint-url"), Setting(endpoint_url, "--endpoint-url")
        elif env_endpoint:
            mode, endpoint = (
                Setting("endpoint", "AWS_ENDPOINT_URL"),
                Setting(env_endpoint, "AWS_ENDPOINT_URL"),
            )
        elif not envs:
            mode = Setting("emulator", "default: no --env given, offline rehearsal")
            endpoint = Setting(None, "started by this run")
        else:
            mode, endpoint = Setting("aws", "--env without --emulator/--endpoint-url"), Setting(None, "AWS")
        if mode.value == "emulator":
            deploy_s = Setting(True, "offline rehearsal deploys into its own emulator")
            teardown_s = Setting(False, "the emulator is discarded at the end")
        else:
            deploy_s = Setting(deploy, "--deploy" if deploy else "default: attach to the existing stack")
            teardown_s = Setting(teardown, "--teardown" if teardown else "default: delete nothing")
        return cls(
            environments=environments,
            mode=mode,
            endpoint_url=endpoint,
            deploy=deploy_s,
            teardown=teardown_s,
            template=Setting(template.resolve(), "--template") if template else Setting(TEMPLATE_PATH, "default"),
            suffix=suffix,
            region=region,
            run_dir=(run_dir or DEFAULT_RUN_DIR),
        )

    @classmethod
    def from_options(cls, option: Any) -> RunSettings:
        """The settings of pytest's parsed options (``conformance.plugin``), the same in every process.

        Only the controller acts on ``deploy`` and ``teardown``; a worker resolves them too, so
        that it accepts exactly what the controller accepted (``--region auto`` needs ``--deploy``).
        """
        return cls.resolve(
            envs=option.conformance_envs,
            emulator=option.conformance_emulator,
            endpoint_url=option.conformance_endpoint_url,
            deploy=option.conformance_deploy,
            teardown=option.conformance_teardown,
            suffix=option.conformance_suffix,
            region=option.conformance_region,
            run_dir=Path(option.conformance_run_dir) if option.conformance_run_dir else None,
            template=Path(option.conformance_template) if option.conformance_template else None,
        )

    def header_lines(self) -> list[str]:
        """What the run will do, where, and with which template: pytest's report header (the controller's)."""
        lines = [
            f"conformance environments: {self.environments.show()}",
            f"conformance target: {self.mode.show()}",
        ]
        if self.endpoint_url.value:
            lines.append(f"conformance endpoint: {self.endpoint_url.show()}")
        lines.append(f"conformance deploy: {self.deploy.show()}; teardown: {self.teardown.show()}")
        for name, spec in self.specs().items():
            region_src = "--region" if self.region else f"deploy/environments/{name}.yaml"
            if self.region == AUTO_REGION:
                first_of = ", ".join(spec.candidate_regions)
                region_src = f"--region auto: the first of {first_of} with room, chosen before deploying"
            lines.append(
                f"conformance {name}: stack {spec.stack_name}, region {spec.region} (from {region_src}), "
                f"account {spec.account_id or 'from the credentials'}"
                + (f", profile {spec.profile}" if spec.profile else "")
            )
            if self.mode.value == "emulator":  # the ARN is known once imported, before deploying
                shown = (
                    "certificate_arn: a self-signed certificate imported into the emulator's ACM before deploying "
                    f"(overrides deploy/environments/{name}.yaml's {spec.certificate_arn})"
                )
            else:
                shown = f"certificate_arn {spec.certificate_arn} (from deploy/environments/{name}.yaml)"
            lines.append(f"conformance {name}: {shown}")
        lines.append(
            f"conformance template: {self.template.value} version {template_version(self.template.value)}, "
            f"sha256 {template_sha256(self.template.value)[:16]} (from {self.template.source})"
        )
        lines.append(f"conformance run id: {self.run_id}")
        return lines

    def specs(self) -> dict[str, EnvironmentSpec]:
        """Load and validate every environment of the run (no AWS call)."""
        specs = {
            name: load_environment(name).with_overrides(
                suffix=self.suffix, region=None if self.region == AUTO_REGION else self.region
            )
            for name in self.environments.value
        }
        seen: dict[tuple[str, str], str] = {}
        for name, spec in specs.items():
            other = seen.setdefault((spec.region, spec.stack_name), name)
            if other != name:
                raise UsageError(
                    f"environments {other} and {name} would both be stack {spec.stack_name} in {spec.region}; "
                    "give one of them its own EnvironmentSuffix (and drop --suffix)."
                )
        return specs
