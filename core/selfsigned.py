"""The offline rehearsal's certificate: self-signed, imported into the emulator's ACM before deploying.

The template's HTTPS listener needs an ACM certificate (``CertificateArn``); an emulator has none
of the environment's, so the controller makes one here (RSA 2048, SHA-256, valid 30 days, the
region's load balancer names as subject alternative names) and imports it with ACM's own
ImportCertificate. The private key exists only in this process and the emulator's ACM: it is
never written to disk, printed or kept in the run's state.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from core.aws import AwsSession
from core.spec import EnvironmentSpec

VALID_DAYS = 30


def self_signed(names: list[str], *, common_name: str = "payments offline rehearsal") -> tuple[bytes, bytes]:
    """A self-signed certificate for ``names`` and its private key, both PEM."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=VALID_DAYS))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in names]), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return cert.public_bytes(serialization.Encoding.PEM), key_pem


def import_self_signed(acm: Any, region: str, *, tags: dict[str, str] | None = None) -> str:
    """Import a fresh self-signed certificate for the region's load balancer names; its ARN."""
    cert, key = self_signed([f"*.{region}.elb.amazonaws.com"])
    extra = {"Tags": [{"Key": k, "Value": v} for k, v in (tags or {}).items()]} if tags else {}
    return str(acm.import_certificate(Certificate=cert, PrivateKey=key, **extra)["CertificateArn"])


# the tag that names the stack a self-signed certificate was imported for
STACK_TAG = "payments:rehearsal-stack"


def with_self_signed_certificate(spec: EnvironmentSpec, aws: AwsSession) -> EnvironmentSpec:
    """``spec`` with the self-signed certificate of its stack in the emulator behind ``aws``: the one
    imported for this stack before (so deploying again changes nothing), else a fresh one."""
    acm = aws.client("acm")
    arn = _imported_for(acm, spec.stack_name) or import_self_signed(
        acm, spec.region, tags={"Environment": spec.tier, STACK_TAG: spec.stack_name}
    )
    return spec.with_overrides(certificate_arn=arn)


def _imported_for(acm: Any, stack_name: str) -> str | None:
    summaries = acm.list_certificates(Includes={"keyTypes": ["RSA_2048"]}).get("CertificateSummaryList", [])
    for summary in summaries:
        arn = str(summary.get("CertificateArn"))
        tags = acm.list_tags_for_certificate(CertificateArn=arn).get("Tags", [])
        if {"Key": STACK_TAG, "Value": stack_name} in tags:
            return arn
    return None
