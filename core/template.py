"""Read the template as data (for hashes, resource counts, deletion policies, static checks)."""

from __future__ import annotations

import hashlib
import json
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from core.spec import TEMPLATE_PATH, YAML_SAFE_LOADER


class _CfnLoader(YAML_SAFE_LOADER):  # type: ignore[valid-type,misc]
    """SafeLoader that keeps CloudFormation short-form tags (!Ref, !Sub, ...) as {'Fn::X': value}.

    Timestamps stay strings (``AWSTemplateFormatVersion: 2010-09-09`` is a string to CloudFormation).
    """


_CfnLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def _construct_tag(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> Any:
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
    if suffix in ("Ref", "Condition"):
        return {suffix: value}
    if suffix == "GetAtt" and isinstance(value, str):
        value = value.split(".", 1)
    return {f"Fn::{suffix}": value}


_CfnLoader.add_multi_constructor("!", _construct_tag)


@lru_cache(maxsize=4)
def _load(path: str, mtime_ns: int) -> dict[str, Any]:
    with open(path, encoding="utf-8") as fh:
        doc = yaml.load(fh, Loader=_CfnLoader)  # noqa: S506 - a SafeLoader subclass
    return doc if isinstance(doc, dict) else {}


def load_template(path: Path = TEMPLATE_PATH) -> dict[str, Any]:
    """The template as a dict; short-form intrinsics become their long form."""
    return _load(str(path), path.stat().st_mtime_ns)


def compact_json(path: Path = TEMPLATE_PATH) -> str:
    """The template as compact JSON (long-form intrinsics): the same template, fewer bytes."""
    return json.dumps(load_template(path), separators=(",", ":"))


def template_sha256(path: Path = TEMPLATE_PATH) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def template_version(path: Path = TEMPLATE_PATH) -> str:
    return str((load_template(path).get("Metadata") or {}).get("TemplateVersion", "unversioned"))
