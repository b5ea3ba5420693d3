"""Template suite: what must hold of the template itself, before any stack exists (static checks)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import yaml

from conformance.checks import check, primary, supporting
from conformance.evidence import Evidence
from conformance.inventory.compute import credential_kind, secret_reason
from conformance.policies import outside_grants
from core.outputs import StackOutputs
from core.spec import ENVIRONMENTS_DIR, SPEC_PARAMETERS, TemplateParameters, available_environments

# Resources that hold data or keys: their fate on deletion and on replacement is declared, not defaulted.
STATEFUL = (
    "AWS::RDS::DBCluster", "AWS::RDS::DBInstance", "AWS::S3::Bucket", "AWS::KMS::Key", "AWS::Logs::LogGroup",
    "AWS::SecretsManager::Secret", "AWS::DynamoDB::Table", "AWS::EFS::FileSystem",
)  # fmt: skip
# Data stores whose data must outlive the stack: never a plain Delete.
KEEPS_DATA = {"AWS::RDS::DBCluster": ("Snapshot", "Retain", "RetainExceptOnCreate"),
              "AWS::S3::Bucket": ("Retain", "RetainExceptOnCreate")}  # fmt: skip
# {{resolve:secretsmanager:...}} / {{resolve:ssm-secure:...}}; the ARN may be an Fn::Sub ${Reference}
DYNAMIC_REFERENCE = re.compile(r"\{\{resolve:(secretsmanager|ssm-secure):(\$\{[^}]*\}|[^}])+\}\}")
AZ_NAME = re.compile(r"\b[a-z]{2}(-gov)?-[a-z]+-\d[a-z]\b")


def _walk(node: Any, path: str) -> Iterator[tuple[str, Any]]:
    """Every (path, value) below node; dict keys become path segments."""
    yield path, node
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _walk(value, f"{path}/{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _walk(value, f"{path}/{i}")


def _strings(node: Any) -> list[str]:
    return [v for _, v in _walk(node, "") if isinstance(v, str)]


@check(
    severity="low",
    operational=(
        "template quality: cfn-lint finds schema and practice faults; the secret rules it holds are checks of their own"
    ),
    rationale="cfn-lint (AWS's CloudFormation linter) finds no error, warning or informational finding.",
)
def test_template_passes_cfn_lint(template_path, cfn_lint_findings, evidence: Evidence) -> None:
    evidence.attach("cfn-lint findings", {"template": str(template_path), "findings": cfn_lint_findings})
    shown = "; ".join(
        f"{f['rule']} at {f['path'] or 'line ' + str(f['line'])}: {f['message']}" for f in cfn_lint_findings[:10]
    )
    assert not cfn_lint_findings, (
        f"template {template_path.name} has {len(cfn_lint_findings)} cfn-lint finding(s): {shown}; expected none"
    )


@check(
    severity="high",
    links=[
        primary(
            "PCI-DSS-4.0:8.6.2",
            "No password passes through a parameter of the template, so none is held by deploy scripts or the stack.",
        ),
    ],
    rationale=(
        "No parameter carries a secret (NoEcho, a password-like name in any spelling, or used as a password "
        "property such as MasterUserPassword): secrets never pass through a stack."
    ),
)
def test_template_declares_no_secret_parameter(template, evidence: Evidence) -> None:
    params = template.get("Parameters") or {}
    evidence.attach("parameters", {name: {k: v for k, v in p.items() if k != "Default"} for name, p in params.items()})
    used_as_secret = _parameters_in_secret_properties(template)
    bad = {name: _secret_parameter_reason(name, p or {}, used_as_secret.get(name)) for name, p in params.items()}
    bad = {name: why for name, why in bad.items() if why}
    assert not bad, (
        "template declares secret-bearing parameter(s): "
        f"{'; '.join(f'{n} ({why})' for n, why in sorted(bad.items()))}; expected secrets only from Secrets Manager"
    )


# CamelCase, snake_case and digits split into words: DBMasterPass -> DB Master Pass, db_master_pwd -> db master pwd
NAME_WORD = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|\d+")


def _name_words(name: str) -> str:
    """The name's words joined by underscores, as secret_reason reads them (DBMasterPass -> DB_Master_Pass)."""
    return "_".join(NAME_WORD.findall(name))


def _secret_parameter_reason(name: str, parameter: dict[str, Any], used_as: str | None) -> str:
    """Why a parameter carries a secret, by meaning rather than by one spelling, or ''."""
    if str(parameter.get("NoEcho", "")).lower() == "true":
        return "NoEcho"
    if used_as:
        return f"used as {used_as}"
    return secret_reason(_name_words(name), "")


def _parameters_in_secret_properties(template: dict[str, Any]) -> dict[str, str]:
    """Parameter name -> the secret-bearing property it sets (a Ref, or ${Name} in an Fn::Sub or Fn::Join)."""
    params = set(template.get("Parameters") or {})
    found: dict[str, str] = {}
    for logical_id, resource in (template.get("Resources") or {}).items():
        for path, value in _walk((resource or {}).get("Properties") or {}, ""):
            key = path.rsplit("/", 1)[-1]
            if not SECRET_PROPERTY.match(key) or _dynamic(value):
                continue
            for name in _referenced_parameters(value, params):
                found.setdefault(name, f"{logical_id} {path}")
    return found


def _referenced_parameters(value: Any, params: set[str]) -> set[str]:
    refs = {v["Ref"] for _, v in _walk(value, "") if isinstance(v, dict) and isinstance(v.get("Ref"), str)}
    subs = {m for s in _strings(value) for m in re.findall(r"\$\{([A-Za-z0-9]+)\}", s)}
    return (refs | subs) & params


# Properties that carry a secret by name (RDS MasterUserPassword, Secrets Manager SecretString, an
# ElastiCache AuthToken, any *Password / *Secret / *Token): their value must be a dynamic reference.
SECRET_PROPERTY = re.compile(r"^(\w*Password|\w*Secret|SecretString|\w*Token|PrivateKey|SecretAccessKey)$")


def _dynamic(value: Any) -> bool:
    """A dynamic reference, as a string or as the whole body of an Fn::Sub."""
    if isinstance(value, dict) and "Fn::Sub" in value:
        body = value["Fn::Sub"][0] if isinstance(value["Fn::Sub"], list) else value["Fn::Sub"]
        return isinstance(body, str) and DYNAMIC_REFERENCE.fullmatch(body.strip()) is not None
    return isinstance(value, str) and DYNAMIC_REFERENCE.fullmatch(value.strip()) is not None


def _secret_findings(template: dict[str, Any]) -> list[str]:
    findings = []
    params = set(template.get("Parameters") or {})
    for logical_id, resource in (template.get("Resources") or {}).items():
        for path, value in _walk((resource or {}).get("Properties") or {}, ""):
            key = path.rsplit("/", 1)[-1]
            # a value: a literal, or an intrinsic that builds one (Fn::Sub, Fn::Join); a Ref/GetAtt names
            # a resource or parameter (the parameter check judges those), a plain mapping is a setting
            built = isinstance(value, dict) and len(value) == 1 and next(iter(value)) in ("Fn::Sub", "Fn::Join")
            literal = isinstance(value, str | int | float) and not isinstance(value, bool)
            secret = SECRET_PROPERTY.match(key) is not None and not _dynamic(value)
            if secret and (literal or built):
                findings.append(f"{logical_id} {path} (a secret-bearing property not set by a dynamic reference)")
            elif secret and (given := _referenced_parameters(value, params)):
                findings.append(
                    f"{logical_id} {path} (a secret-bearing property set from parameter {', '.join(sorted(given))}, "
                    "not from a dynamic reference)"
                )
            if isinstance(value, str) and credential_kind(value):
                findings.append(f"{logical_id} {path} (its value looks like {credential_kind(value)})")
            if isinstance(value, dict) and set(value) == {"Name", "Value"} and isinstance(value["Value"], str):
                # a container environment variable: judged as the task-definition check judges the live one
                why = secret_reason(str(value["Name"]), value["Value"])
                if why and not _dynamic(value["Value"]):
                    findings.append(f"{logical_id} {path} {value['Name']} ({why})")
    return findings


@check(
    severity="critical",
    links=[
        primary(
            "PCI-DSS-4.0:8.6.2",
            "No password or credential is written into the template, a configuration file under version control.",
        ),
        supporting("PCI-DSS-4.0:8.3.2", "Authentication factors are never stored readable in the template."),
    ],
    rationale=(
        "Secret-bearing properties take their values only from dynamic references to Secrets Manager (or SSM "
        "SecureString); no literal secret or credential appears anywhere in the template."
    ),
)
def test_template_secrets_only_through_dynamic_references(template, evidence: Evidence) -> None:
    findings = _secret_findings(template)
    references = sorted(
        {m.group(0) for s in _strings(template.get("Resources")) for m in DYNAMIC_REFERENCE.finditer(s)}
    )
    evidence.attach("dynamic references and findings", {"dynamic references": references, "findings": findings})
    assert not findings, (
        f"template holds secret values outside dynamic references: {'; '.join(findings)}; expected "
        "{{resolve:secretsmanager:...}} (or ssm-secure) for every secret"
    )


def _environment_parameter_names() -> dict[str, set[str]]:
    names: dict[str, set[str]] = {}
    for env in available_environments():
        data = yaml.safe_load((ENVIRONMENTS_DIR / f"{env}.yaml").read_text(encoding="utf-8")) or {}
        names[f"deploy/environments/{env}.yaml"] = set((data.get("parameters") or {}).keys()) | {
            parameter for field, parameter in SPEC_PARAMETERS.items() if field in data
        }
    return names


@check(
    severity="medium",
    operational="deployment correctness: nothing falls back to a silent default",
    rationale=(
        "The template's parameters, every environment file's and the deployer's are the same names: nothing "
        "falls back to a silent default, nothing is sent that the template ignores."
    ),
)
def test_template_parameters_match_environment_files_and_deployer(template, evidence: Evidence) -> None:
    declared = set((template.get("Parameters") or {}).keys())
    sources = {
        "the deployer (core/spec.py TemplateParameters)": set(TemplateParameters.model_fields)
        | set(SPEC_PARAMETERS.values())
    }
    sources |= _environment_parameter_names()
    evidence.attach("parameter names", {"template": sorted(declared)} | {k: sorted(v) for k, v in sources.items()})
    problems = [
        f"{source}: {', '.join(sorted(names - declared))} not in the template" for source, names in sources.items()
        if names - declared
    ] + [
        f"template: {', '.join(sorted(declared - names))} not set by {source}" for source, names in sources.items()
        if declared - names
    ]  # fmt: skip
    assert not problems, f"parameter names disagree: {'; '.join(problems)}; expected the same names everywhere"


@check(
    severity="low",
    operational="contract: the suite and its users find each part",
    rationale="Every output of the platform's contract is declared: the suite and its users can find each part.",
)
def test_template_declares_every_contract_output(template, evidence: Evidence) -> None:
    declared = set((template.get("Outputs") or {}).keys())
    contract = set(StackOutputs.model_fields)
    evidence.attach("outputs", {"declared": sorted(declared), "contract": sorted(contract)})
    missing = sorted(contract - declared)
    assert not missing, (
        f"template lacks the contract output(s) {', '.join(missing)}; expected all of {sorted(contract)}"
    )


@check(
    severity="high",
    operational="recoverability: data stores keep their data when the stack goes or a resource is replaced",
    rationale=(
        "Every stateful resource declares DeletionPolicy and UpdateReplacePolicy, and the data stores (bucket, "
        "database cluster) keep their data when the stack goes or the resource is replaced."
    ),
)
def test_template_stateful_resources_declare_deletion_policies(template, evidence: Evidence) -> None:
    stateful = {lid: r for lid, r in (template.get("Resources") or {}).items() if (r or {}).get("Type") in STATEFUL}
    policies = {
        lid: {"Type": r["Type"]} | {k: r.get(k) for k in ("DeletionPolicy", "UpdateReplacePolicy")}
        for lid, r in stateful.items()
    }
    evidence.attach("stateful resources", policies)
    assert stateful, "template declares no stateful resource at all, expected the database, bucket, key and logs"
    problems = []
    for lid, p in sorted(policies.items()):
        undeclared = [k for k in ("DeletionPolicy", "UpdateReplacePolicy") if not p[k]]
        if undeclared:
            problems.append(f"{lid} ({p['Type']}) declares no {' and no '.join(undeclared)}")
        keep = KEEPS_DATA.get(p["Type"])
        for k in ("DeletionPolicy", "UpdateReplacePolicy"):
            if keep and p[k] and p[k] not in keep:
                problems.append(f"{lid} ({p['Type']}) has {k} {p[k]}, expected one of {', '.join(keep)}")
    assert not problems, f"stateful resources without a declared fate: {'; '.join(problems)}"


@check(
    severity="low",
    operational="portability: any region works",
    rationale="No availability zone is written into the template: zones come from Fn::GetAZs, so any region works.",
)
def test_template_hardcodes_no_availability_zone(template, evidence: Evidence) -> None:
    nodes = list(_walk(template.get("Resources") or {}, "Resources"))
    found = sorted(f"{path} = {value}" for path, value in nodes if isinstance(value, str) and AZ_NAME.search(value))
    literal_zones = sorted(
        f"{path}"
        for path, value in nodes
        if path.endswith(("/AvailabilityZone", "/AvailabilityZones")) and isinstance(value, str | list)
        and not (isinstance(value, list) and all(isinstance(v, dict) for v in value))
    )  # fmt: skip
    evidence.attach(
        "availability zones", {"literal zone names": found, "literal AvailabilityZone values": literal_zones}
    )
    assert not found and not literal_zones, (
        f"template hard-codes availability zones: {'; '.join(found + literal_zones)}; expected Fn::Select over "
        "Fn::GetAZs"
    )


def _keys_named(node: Any, keys: set[str]) -> set[str]:
    """The KMS keys (logical ids) a resource's properties name: Ref, GetAtt <key>.Arn, ${<key>} in a Sub."""
    named: set[str] = set()
    for _, value in _walk(node, ""):
        if isinstance(value, dict) and value.get("Ref") in keys:
            named.add(value["Ref"])
        elif isinstance(value, dict) and "Fn::GetAtt" in value:
            target = value["Fn::GetAtt"]
            target = target[0] if isinstance(target, list) else str(target).split(".", 1)[0]
            named |= {target} & keys
        elif isinstance(value, str):
            named |= {k for k in keys if f"${{{k}}}" in value or f"${{{k}.Arn}}" in value}
    return named


@check(
    severity="high",
    operational=(
        "recoverability: kept data stays readable after the stack goes; deleting a key is disposal under PCI DSS, not "
        "exposure"
    ),
    rationale=(
        "A KMS key that encrypts data kept after the stack goes (a retained bucket, a final snapshot) is retained "
        "too: deleting or replacing the stack never makes kept data unreadable."
    ),
)
def test_template_retains_the_keys_of_kept_data(template, evidence):
    resources = template.get("Resources") or {}
    keys = {lid for lid, r in resources.items() if (r or {}).get("Type") == "AWS::KMS::Key"}
    kept = {
        lid: sorted(_keys_named((r or {}).get("Properties") or {}, keys))
        for lid, r in resources.items()
        if (r or {}).get("DeletionPolicy") in ("Retain", "Snapshot", "RetainExceptOnCreate") and lid not in keys
    }
    protecting = {k: sorted(lid for lid, named in kept.items() if k in named) for k in keys}
    policies = {k: {p: resources[k].get(p) or "none" for p in ("DeletionPolicy", "UpdateReplacePolicy")} for k in keys}
    evidence.attach("keys of kept data", {"kept resources and their keys": kept, "key policies": policies})
    problems = [
        f"{k} ({', '.join(f'{p} {v}' for p, v in policies[k].items())}) encrypts {', '.join(users)}"
        for k, users in sorted(protecting.items())
        if users and any(v != "Retain" for v in policies[k].values())
    ]
    assert not problems, (
        f"keys that go with the stack while the data they encrypt is kept: {'; '.join(problems)}; expected "
        "DeletionPolicy and UpdateReplacePolicy Retain on each"
    )


# Resource-based policies the template may declare: (resource type, property holding the document).
RESOURCE_POLICIES = {
    "AWS::KMS::Key": "KeyPolicy",
    "AWS::S3::BucketPolicy": "PolicyDocument",
    "AWS::SNS::TopicPolicy": "PolicyDocument",
    "AWS::SQS::QueuePolicy": "PolicyDocument",
    "AWS::SecretsManager::ResourcePolicy": "ResourcePolicy",
    "AWS::Logs::ResourcePolicy": "PolicyDocument",
}
TEMPLATE_ACCOUNT = "123456789012"  # stands for ${AWS::AccountId} while the document is read
# The Regions the documents are read for, one per branch of the template's Region condition
# (ElbLogsByAccount): ELB delivers access logs as the Region's AWS-owned account in us-east-1 (the
# environments' Region), as its service principal in ap-southeast-5 (opened after August 2022).
TEMPLATE_REGIONS = ("us-east-1", "ap-southeast-5")


def _pseudo(region: str) -> dict[str, str]:
    return {"AWS::AccountId": TEMPLATE_ACCOUNT, "AWS::Partition": "aws", "AWS::Region": region}


def _holds(template: dict[str, Any], expr: Any, region: str) -> bool | None:
    """A condition's value in ``region``; None when it depends on what the template alone cannot tell."""
    if not isinstance(expr, dict) or len(expr) != 1:
        return None
    ((fn, arg),) = expr.items()
    if fn == "Condition":
        return _holds(template, (template.get("Conditions") or {}).get(arg), region)
    args = arg if isinstance(arg, list) else []
    if fn == "Fn::Equals" and len(args) == 2:
        a, b = (_resolved(v, template, region) for v in args)
        return None if any(isinstance(v, str) and v.startswith("<") for v in (a, b)) else str(a) == str(b)
    values = [_holds(template, v, region) for v in args]
    if fn == "Fn::Not" and len(values) == 1:
        return None if values[0] is None else not values[0]
    if fn == "Fn::Or":
        return True if True in values else (None if None in values else False)
    if fn == "Fn::And":
        return False if False in values else (None if None in values else True)
    return None


def _attribute(template: dict[str, Any], name: str) -> str:
    """``Fn::GetAtt`` as far as the template tells it: a bucket's ARN (named by its logical id), else ``<...>``."""
    lid, _, attribute = name.partition(".")
    kind = ((template.get("Resources") or {}).get(lid) or {}).get("Type")
    return f"arn:aws:s3:::{lid.lower()}" if (kind, attribute) == ("AWS::S3::Bucket", "Arn") else f"<{name}>"


def _resolved(node: Any, template: dict[str, Any], region: str) -> Any:
    """A policy document with its intrinsics resolved far enough to read principals and conditions.

    ``Ref`` and ``Fn::Sub`` of the pseudo parameters, ``Fn::Join``, ``Fn::FindInMap`` and ``Fn::If``
    (its condition evaluated in ``region``), a bucket's ``Arn``; what else needs the stack reads ``<...>``.
    """
    pseudo = _pseudo(region)
    if isinstance(node, list):
        return [_resolved(v, template, region) for v in node]
    if not isinstance(node, dict):
        return node
    if len(node) == 1:
        ((fn, arg),) = node.items()
        if fn == "Ref":
            return pseudo.get(str(arg), f"<{arg}>")
        if fn == "Fn::GetAtt":
            return _attribute(template, ".".join(arg) if isinstance(arg, list) else str(arg))
        if fn == "Fn::Sub":
            text, names = (arg[0], arg[1]) if isinstance(arg, list) else (arg, {})
            return re.sub(
                r"\$\{([^}!][^}]*)\}",
                lambda m: (
                    str(_resolved(names[m.group(1)], template, region))
                    if m.group(1) in names
                    else pseudo.get(m.group(1)) or _attribute(template, m.group(1))
                ),
                str(text),
            )
        if fn == "Fn::Join":
            return str(arg[0]).join(str(_resolved(v, template, region)) for v in arg[1])
        if fn == "Fn::FindInMap" and isinstance(arg, list) and len(arg) == 3:
            name, key, value = (str(_resolved(v, template, region)) for v in arg)
            found = ((template.get("Mappings") or {}).get(name) or {}).get(key, {}).get(value)
            return f"<{fn}>" if found is None else found
        if fn == "Fn::If" and isinstance(arg, list) and len(arg) == 3:
            holds = _holds(template, {"Condition": arg[0]}, region)
            return f"<{fn}>" if holds is None else _resolved(arg[1] if holds else arg[2], template, region)
        if fn.startswith("Fn::"):
            return f"<{fn}>"
    return {k: _resolved(v, template, region) for k, v in node.items()}


@check(
    severity="critical",
    links=[
        primary(
            "PCI-DSS-4.0:7.2.1",
            "No resource policy the template declares grants anyone outside the account, so each deployment starts "
            "least-privilege.",
        ),
        supporting(
            "PCI-DSS-4.0:3.6.1",
            "The key policy declared for the key protecting card data grants no one outside the account.",
        ),
    ],
    rationale=(
        'No resource policy the template declares grants anything to "*" or another account (AWS services only '
        "under a source condition; the Region's ELB log-delivery account only on its access-log folder), read for "
        "both branches of the template's Region condition, so the deployed policies start least-privilege."
    ),
)
def test_template_resource_policies_grant_nothing_outside_the_account(template, evidence: Evidence) -> None:
    findings: dict[str, list[str]] = {}  # finding -> the Regions it holds in
    for region in TEMPLATE_REGIONS:
        declared = {
            lid: _resolved((r.get("Properties") or {}).get(RESOURCE_POLICIES[r.get("Type")]), template, region)
            for lid, r in (template.get("Resources") or {}).items()
            if (r or {}).get("Type") in RESOURCE_POLICIES
        }
        evidence.attach(f"resource policies in {region} (intrinsics resolved, account {TEMPLATE_ACCOUNT})", declared)
        for lid, doc in sorted(declared.items()):
            for grant in outside_grants(doc, TEMPLATE_ACCOUNT, region):
                findings.setdefault(f"{lid}: {grant}", []).append(region)
    shown = [f"{finding} (in {' and '.join(regions)})" for finding, regions in findings.items()]
    assert not findings, (
        f"the template's resource policies grant outside the account: {'; '.join(shown)}; expected the "
        "account's root principal, AWS services under aws:SourceAccount, aws:SourceArn or kms:ViaService, and "
        "in a Region opened before August 2022 its Elastic Load Balancing account on its access-log folder only"
    )
