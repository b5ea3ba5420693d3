"""Secrets Manager: the database master secret as CloudFormation makes it on AWS.

Gaps closed (MiniStack 1.5.33):

1. ``Ref`` of an ``AWS::SecretsManager::Secret`` gives its name; on AWS it gives the ARN (the
   resource's physical id). -> :func:`_secret_create` returns the ARN as the physical id;
   update, delete and drift detection map it back to MiniStack's name key. ``GetAtt Id``
   was already the ARN.
2. ``GenerateSecretString`` draws with ``random.choices`` and ignores
   ``RequireEachIncludedType`` (default true on AWS), ``ExcludeUppercase`` / ``Lowercase`` /
   ``Numbers`` / ``Punctuation`` and ``IncludeSpace``. -> :func:`_secret_string` generates as
   GetRandomPassword does, with the ``secrets`` module, one character of each included type
   at least.
3. ``AWS::SecretsManager::SecretTargetAttachment`` exists in MiniStack but leaves out the
   ``dbClusterIdentifier`` / ``dbInstanceIdentifier`` key that AWS writes next to engine,
   host and port. -> :func:`_target_connection`.

Checked and already faithful: the secret's ``KmsKeyId`` is kept as given (compare keys via
``kms.describe_key``); ``{{resolve:secretsmanager:<name or ARN>:SecretString:key}}``
references are resolved by MiniStack's engine before a handler sees the property.
"""

from __future__ import annotations

import json
import secrets as _random
import string
from typing import Any

from faithful._ministack import resource_handlers
from ministack.services import secretsmanager as _sm
from ministack.services.cloudformation import drift as _drift
from ministack.services.cloudformation import provisioners as _prov

_orig: dict[str, Any] = {}

# GetRandomPassword's punctuation: ! " # $ % & ' ( ) * + , - . / : ; < = > ? @ [ \ ] ^ _ ` { | } ~
_CLASSES = {
    "ExcludeLowercase": string.ascii_lowercase,
    "ExcludeUppercase": string.ascii_uppercase,
    "ExcludeNumbers": string.digits,
    "ExcludePunctuation": string.punctuation,
}


def random_password(gen: dict) -> str:
    """A password as GetRandomPassword / GenerateSecretString draw it."""
    length = int(gen.get("PasswordLength", 32))
    exclude = str(gen.get("ExcludeCharacters", ""))
    pools = [
        "".join(c for c in chars if c not in exclude)
        for flag, chars in _CLASSES.items()
        if not _prov._cfn_bool(gen.get(flag, False))
    ]
    if _prov._cfn_bool(gen.get("IncludeSpace", False)) and " " not in exclude:
        pools.append(" ")
    pools = [p for p in pools if p]
    if not pools:
        raise ValueError("GenerateSecretString excludes every character")
    alphabet = "".join(pools)
    chars = [_random.choice(alphabet) for _ in range(length)]
    if _prov._cfn_bool(gen.get("RequireEachIncludedType", True)) and length >= len(pools):
        # One of each included type at distinct random positions.
        positions = list(range(length))
        for pool in pools:
            pos = positions.pop(_random.randbelow(len(positions)))
            chars[pos] = _random.choice(pool)
    return "".join(chars)


def _secret_string(props: dict) -> str:
    secret_string = props.get("SecretString", "")
    gen = props.get("GenerateSecretString")
    if not gen or secret_string:
        return secret_string
    generated = random_password(gen)
    template = gen.get("SecretStringTemplate")
    if not template:
        return generated
    doc = json.loads(template)  # AWS fails the resource on an invalid template, so do we
    doc[gen.get("GenerateStringKey", "password")] = generated
    return json.dumps(doc)


def _name_key(physical_id: str) -> str:
    """MiniStack's store key (the name) for a physical id that is now the ARN."""
    if physical_id and physical_id.startswith("arn:"):
        key, _record = _sm._resolve(physical_id)
        if key is not None:
            return key
    return physical_id


def _arn_of(physical_id: str) -> str:
    _key, record = _sm._resolve(physical_id)
    return record["ARN"] if record else physical_id


def _secret_create(logical_id, props, stack_name):
    name, attrs = _orig["create"](logical_id, props, stack_name)
    return attrs.get("Arn") or _arn_of(name), attrs


def _secret_update(physical_id, old_props, new_props, stack_name, logical_id=None):
    new_id, attrs = _orig["update"](_name_key(physical_id), old_props, new_props, stack_name, logical_id)
    return (new_id if new_id.startswith("arn:") else _arn_of(new_id)), attrs


def _secret_delete(physical_id, props):
    return _orig["delete"](_name_key(physical_id), props)


def _read_secret(physical_id, props):
    return _orig["read"](_name_key(physical_id), props)


def _target_connection(target_type, target_id):
    info = _orig["target"](target_type, target_id)
    if target_type in ("AWS::RDS::DBCluster", "AWS::DocDB::DBCluster"):
        info["dbClusterIdentifier"] = target_id
    elif target_type in ("AWS::RDS::DBInstance", "AWS::DocDB::DBInstance"):
        info["dbInstanceIdentifier"] = target_id
    return info


def install() -> None:
    if _orig:
        return
    _orig.update(
        create=_prov._sm_secret_create,
        update=_prov._sm_secret_update,
        delete=_prov._sm_secret_delete,
        target=_prov._sm_target_connection,
        read=_drift._read_secret,
    )
    _prov._sm_secret_string = _secret_string
    _prov._sm_secret_create = _secret_create
    _prov._sm_secret_delete = _secret_delete
    _prov._sm_secret_update = _secret_update
    resource_handlers()["AWS::SecretsManager::Secret"].update(
        create=_secret_create, update=_secret_update, delete=_secret_delete
    )
    _prov._sm_target_connection = _target_connection
    # The keys an attachment owns: removed again when it is deleted.
    # (MiniStack's literal is inferred as a tuple of exactly four keys: it is any number of them.)
    _prov._SM_TARGET_KEYS = (*_prov._SM_TARGET_KEYS, "dbClusterIdentifier", "dbInstanceIdentifier")  # type: ignore[assignment]
    _drift._read_secret = _read_secret
    _reader, props = _drift._DRIFT_READERS["AWS::SecretsManager::Secret"]
    _drift._DRIFT_READERS["AWS::SecretsManager::Secret"] = (_read_secret, props)
