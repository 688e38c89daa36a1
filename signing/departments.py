"""Issuing departments: registry row, signing keys in a key store, certificates.

A department gets one signing key per algorithm (SM2 by default, RSA for
foreign verifiers), each certified by the deployment's issuing CA of the same
algorithm (never a root: roots stay offline) with the signer profile
(digitalSignature + nonRepudiation) and the CA's CRL distribution point.

Keys made elsewhere (in an HSM or a GM/T 0018 cipher machine, by the
vendor's tools) join a department with :func:`certify_department_key`: the
key proves it signs, gets its certificate, and the chain is stored beside it
(on the token for PKCS#11).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from sqlalchemy import select
from sqlalchemy.orm import Session

from hsm_adapters import KeyStoreRegistry
from hsm_adapters.pins import PinSource
from trust import audit
from trust.errors import ConflictError, InputError, NotFoundError
from trust.keys import SigningKey
from trust.pki import SIGNER, Certificate, SubjectName, is_valid_uscc, issue_certificate
from trust.registry.models import CertificateRecord, Department, KeyRecord

CERT_DAYS: Final = 1096
_CODE = re.compile(r"^[a-z0-9][a-z0-9-]{1,31}$")
ALGORITHM_OF: Final = {"sm2": "sm2", "rsa": "rsa-2048"}
# Which deployment root certifies a key: the SM2 root for SM2, the international
# (RSA) root for every other algorithm, so foreign verifiers need one anchor.
ROOT_FAMILY: Final = {"sm2": "sm2", "rsa-2048": "rsa", "rsa-3072": "rsa", "ecdsa-p256": "rsa"}

__all__ = [
    "ALGORITHM_OF",
    "ROOT_FAMILY",
    "CertifiedKey",
    "DepartmentKeys",
    "RootCA",
    "add_department",
    "certify_department_key",
    "department_certificates",
]


@dataclass(frozen=True)
class RootCA:
    """The CA that certifies department keys: a deployment's issuing CA (tests: a root).

    ``chain``: the CA's own certificate up to its root (stored beside each new
    key so signatures carry the whole path; empty means the CA alone);
    ``crl_urls``: the CRL distribution point written into what it issues.
    """

    certificate: Certificate
    key: SigningKey
    chain: tuple[Certificate, ...] = ()
    crl_urls: tuple[str, ...] = ()

    @property
    def path(self) -> list[bytes]:
        """DER of the CA and above, to follow a new certificate in its stored chain."""
        return [c.der for c in (self.chain or (self.certificate,))]


@dataclass(frozen=True)
class DepartmentKeys:
    code: str
    keys: dict[str, str]  # "sm2"/"rsa" -> key URI
    certificates: dict[str, Certificate]


def add_department(
    session: Session,
    stores: KeyStoreRegistry,
    pin: PinSource,
    *,
    code: str,
    name: str,
    uscc: str,
    region: str,
    roots: dict[str, RootCA],
    algorithms: Sequence[str] = ("sm2", "rsa"),
    key_uri_template: str = "file:keys/dept-{code}-{alg}.p8",
    at: datetime,
    actor: str,
) -> DepartmentKeys:
    """Register a department, generate its signing keys and certify them."""
    if not _CODE.match(code):
        raise InputError("department code: 2-32 of a-z, 0-9 and '-', starting alphanumeric")
    if not name.strip():
        raise InputError("department name is empty")
    if not is_valid_uscc(uscc):
        raise InputError(f"{uscc!r} is not a valid unified social credit code (GB 32100)")
    if session.get(Department, code) is not None:
        raise ConflictError(f"department {code!r} exists")
    if session.execute(select(Department).where(Department.uscc == uscc)).scalar() is not None:
        raise ConflictError(f"a department with USCC {uscc} exists")
    unknown = [a for a in algorithms if a not in ALGORITHM_OF or a not in roots]
    if unknown or not algorithms:
        raise InputError(f"unsupported or uncertifiable algorithms: {unknown or 'none'}")
    session.add(Department(code=code, name=name, uscc=uscc, region=region, created_at=at))
    session.flush()
    uris: dict[str, str] = {}
    certs: dict[str, Certificate] = {}
    for alg in algorithms:
        uri = key_uri_template.format(code=code, alg=alg)
        key = stores.generate(uri, ALGORITHM_OF[alg], pin)
        root = roots[alg]
        cert = issue_certificate(
            issuer_key=root.key, issuer=root.certificate,
            subject=SubjectName(name, organization=name, uscc=uscc),
            subject_spki=key.public_key_der(), profile=SIGNER,
            not_before=at, not_after=min(at + timedelta(days=CERT_DAYS),
                                         root.certificate.not_after),
            crl_urls=root.crl_urls)
        stores.set_certificate_chain(uri, [cert.der, *root.path])
        session.add(CertificateRecord(
            fingerprint=cert.sha256.hex(), role=f"dept-{code}-{alg}", subject=cert.subject_text,
            issuer_fingerprint=root.certificate.sha256.hex(), is_ca=False, der=cert.der,
            not_before=cert.not_before, not_after=cert.not_after))
        session.add(KeyRecord(uri=uri, label=f"{name} {alg}", algorithm=ALGORITHM_OF[alg],
                              role="issuer", department_code=code,
                              certificate_fingerprint=cert.sha256.hex()))
        uris[alg], certs[alg] = uri, cert
    audit.append(session, kind="department.added", actor=actor, subject=code, at=at,
                 details={"name": name, "uscc": uscc, "keys": uris,
                          "certificates": {a: c.sha256.hex() for a, c in certs.items()}})
    return DepartmentKeys(code, uris, certs)


@dataclass(frozen=True)
class CertifiedKey:
    """An existing key now registered for a department, with its new certificate."""

    department_code: str
    uri: str
    algorithm: str
    certificate: Certificate


def certify_department_key(
    session: Session,
    stores: KeyStoreRegistry,
    pin: PinSource,
    *,
    department_code: str,
    key_uri: str,
    roots: dict[str, RootCA],
    at: datetime,
    actor: str,
) -> CertifiedKey:
    """Certify an existing key (file, PKCS#11, SDF) as a signing key of a department.

    The key must first sign a probe that verifies (``health``): a wrong PIN or
    a broken device fails here, before a certificate exists. Registry rows are
    flushed before the chain is written to the key store, so a registry
    conflict leaves the device untouched; the caller's transaction commits.
    """
    if at.tzinfo is None:
        raise InputError("certification time must be timezone-aware")
    dept = session.get(Department, department_code)
    if dept is None:
        raise NotFoundError(f"no department {department_code!r}")
    if session.get(KeyRecord, key_uri) is not None:
        raise ConflictError(f"key {key_uri} is already registered")
    with stores.open_key(key_uri, pin) as key:
        health = key.health()
        if not health.up:
            raise ConflictError(f"key {key_uri} cannot sign: [{health.code}] {health.detail}")
        algorithm, spki = key.algorithm, key.public_key_der()
    family = ROOT_FAMILY.get(algorithm)
    root = roots.get(family) if family is not None else None
    if root is None:
        raise InputError(f"the deployment has no root to certify a {algorithm} key")
    cert = issue_certificate(
        issuer_key=root.key, issuer=root.certificate,
        subject=SubjectName(dept.name, organization=dept.name, uscc=dept.uscc),
        subject_spki=spki, profile=SIGNER, crl_urls=root.crl_urls,
        not_before=at, not_after=min(at + timedelta(days=CERT_DAYS), root.certificate.not_after))
    session.add(CertificateRecord(
        fingerprint=cert.sha256.hex(), role=f"dept-{department_code}-{family}",
        subject=cert.subject_text, issuer_fingerprint=root.certificate.sha256.hex(),
        is_ca=False, der=cert.der, not_before=cert.not_before, not_after=cert.not_after))
    session.add(KeyRecord(uri=key_uri, label=f"{dept.name} {algorithm}", algorithm=algorithm,
                          role="issuer", department_code=department_code,
                          certificate_fingerprint=cert.sha256.hex()))
    audit.append(session, kind="department.key_added", actor=actor, subject=department_code,
                 at=at, details={"key": key_uri, "algorithm": algorithm,
                                 "certificate": cert.sha256.hex()})
    session.flush()
    stores.set_certificate_chain(key_uri, [cert.der, *root.path], pin)
    return CertifiedKey(department_code, key_uri, algorithm, cert)


def department_certificates(session: Session, code: str) -> list[Certificate]:
    """The signing certificates of a department's keys."""
    rows = session.execute(
        select(CertificateRecord.der).join(
            KeyRecord, KeyRecord.certificate_fingerprint == CertificateRecord.fingerprint
        ).where(KeyRecord.department_code == code)
    ).scalars()
    return [Certificate.from_der(der) for der in rows]
