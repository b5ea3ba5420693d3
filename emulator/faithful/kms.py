"""KMS: the one lookup the other extensions share; no patch of its own.

Measured against MiniStack 1.5.33: a key created by ``AWS::KMS::Key`` already reports
``KeyManager=CUSTOMER``, ``KeyState=Enabled``, the rotation status of ``EnableKeyRotation``
and its ``AWS::KMS::Alias``; ``disable_key_rotation`` / ``disable_key`` show up in
describes. So nothing here patches KMS (``selftests/emulator/test_storage.py`` pins that
behaviour). What AWS does everywhere else, and MiniStack does not, is report a key as its
ARN when a template names it by id or alias: :func:`key_arn` does that translation for
``database.py`` (RDS ``KmsKeyId``) and ``storage.py`` (S3 ``SSEKMSKeyId``).
"""

from __future__ import annotations

from ministack.services import kms as _kms


def key_arn(ref: str | None) -> str | None:
    """The ARN of the key that ``ref`` (key id, key ARN, alias name or alias ARN) names.

    Falls back to ``ref`` itself when no such key exists here (a key of another account,
    say): AWS would then report what it was given, too.
    """
    if not ref:
        return ref
    record = _kms._resolve_key(ref)
    if record is None:
        return ref
    return str(record["Arn"])
