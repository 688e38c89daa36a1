"""Issuing departments: registry row, signing keys in a key store, certificates.

A department gets one signing key per algorithm (SM2 by default, RSA for
foreign verifiers), each certified under the deployment's root of the same
algorithm with the signer profile (digitalSignature + nonRepudiation).
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
from trust.errors import ConflictError, InputError
from trust.keys import SigningKey
from trust.pki import SIGNER, Certificate, SubjectName, is_valid_uscc, issue_certificate
from trust.registry.models import CertificateRecord, Department, KeyRecord

CERT_DAYS: Final = 1096
_CODE = re.compile(r"^[a-z0-9][a-z0-9-]{1,31}$")
ALGORITHM_OF: Final = {"sm2": "sm2", "rsa": "rsa-2048"}


@dataclass(frozen=True)
class RootCA:
    """A root (or issuing CA) that certifies department keys."""

    certificate: Certificate
    key: SigningKey


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
                                         root.certificate.not_after))
        stores.set_certificate_chain(uri, [cert.der, root.certificate.der])
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


def department_certificates(session: Session, code: str) -> list[Certificate]:
    """The signing certificates of a department's keys."""
    rows = session.execute(
        select(CertificateRecord.der).join(
            KeyRecord, KeyRecord.certificate_fingerprint == CertificateRecord.fingerprint
        ).where(KeyRecord.department_code == code)
    ).scalars()
    return [Certificate.from_der(der) for der in rows]
