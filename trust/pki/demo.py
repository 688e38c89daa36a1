"""The deterministic demo PKI: two roots, their issuing CAs and working certificates from one seed.

    >>> from datetime import UTC, datetime
    >>> pki = build_demo_pki(b"demo", datetime(2026, 1, 1, tzinfo=UTC))
    >>> pki.certificate("sm2-seal-maker").issuer_text == pki.certificate("sm2-root").subject_text
    True

Same seed and same ``now`` give byte-identical certificates (tests, demos
and documentation can pin fingerprints); a different seed gives different
keys. Roles:

    sm2-root, rsa-root                      self-signed roots (kept offline by a deployment)
    {sm2,rsa}-issuing-ca                    issuing CA under the root (pathLen 0): certifies
                                            department keys online
    {sm2,rsa}-issuer                        department signer (digitalSignature+nonRepudiation),
                                            issued by the issuing CA
    {sm2,rsa}-seal-maker                    seal maker 制章者 (SealTrust seal-making purpose)
    {sm2,rsa}-tsa                           time-stamping (critical EKU timeStamping)
    {sm2,rsa}-token-signer                  QR token signer
    {sm2,rsa}-list-signer                   trust lists, status lists and the root's CRLs
                                            (list-signing purpose, cRLSign, the root's name)

The RSA root and issuing CA are RSA-3072 (a CA outlives its leaves), the RSA
leaves are RSA-2048. Validity is fixed from ``now``: everything starts at
midnight UTC the day before ``now``; roots run 20 years, issuing CAs 10,
leaves 3. With ``crl_base`` every certificate below a root carries a CRL
distribution point, ``{crl_base}/v1/trust/crl/<issuer role>``. Demo keys are
software keys: never use them in production (the seed is the whole secret).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from types import MappingProxyType
from typing import Final

from trust import sm2
from trust.keys import SigningKey, SoftwareKey
from trust.pki import profiles
from trust.pki._deterministic import (
    DeterministicSm2Key,
    Stream,
    derive_rsa_key,
    derive_sm2_scalar,
)
from trust.pki.build import issue_certificate
from trust.pki.certificate import Certificate
from trust.pki.errors import CertificateBuildError, require_aware
from trust.pki.names import SubjectName, uscc_check_char
from trust.pki.profiles import Profile

__all__ = ["DEMO_ROLES", "DemoPKI", "build_demo_pki"]

_ROOT_DAYS: Final = 7305
_CA_DAYS: Final = 3653
_LEAF_DAYS: Final = 1096
CRL_PATH: Final = "/v1/trust/crl/"  # the service's CRL route, followed by the CA's role
_ORG: Final = "SealTrust 演示"


def _uscc(body: str) -> str:
    return body + uscc_check_char(body)


# (role suffix, profile, common name, organization, USCC or None, issuer role suffix)
_LEAVES: Final = (
    ("issuing-ca", profiles.ISSUING_CA, "SealTrust 演示 {ALG} 签发 CA", _ORG, None, "root"),
    (
        "issuer",
        profiles.SIGNER,
        "示例市市场监督管理局",
        "示例市人民政府",
        _uscc("11330100MB0000001"),
        "issuing-ca",
    ),
    (
        "seal-maker",
        profiles.SEAL_MAKER,
        "示例市电子印章制作中心",
        "示例市公安局",
        _uscc("12330100MB0000002"),
        "root",
    ),
    ("tsa", profiles.TSA, "SealTrust 演示时间戳服务", _ORG, None, "root"),
    ("token-signer", profiles.TOKEN_SIGNER, "SealTrust 演示亮证令牌签名", _ORG, None, "root"),
    # Named like its root: a delegated CRL signer (RFC 5280 6.3.3 (f)) as well as the
    # trust-list and status-list signer.
    ("list-signer", profiles.LIST_SIGNER, "", _ORG, None, "root"),
)
_CA_ROLES: Final = ("root", "issuing-ca")
DEMO_ROLES: Final = tuple(
    f"{alg}-{suffix}" for alg in ("sm2", "rsa") for suffix in ("root", *(s for s, *_ in _LEAVES))
)
CA_SUFFIXES: Final = _CA_ROLES


def _serial(seed: bytes, label: str) -> int:
    return Stream(seed, "serial/" + label).randbits(127) | (1 << 126)


@dataclass(frozen=True, eq=False)
class DemoPKI:
    """Certificates and keys per role; keys stay out of ``repr``."""

    now: datetime
    certificates: Mapping[str, Certificate]
    _keys: Mapping[str, SoftwareKey] = field(repr=False)
    _ca_signers: Mapping[str, SigningKey] = field(repr=False)
    _seed: bytes = field(repr=False)
    _issuers: Mapping[str, str] = field(repr=False)  # role -> issuer role
    crl_base: str | None = None

    @property
    def roles(self) -> tuple[str, ...]:
        return tuple(self.certificates)

    @property
    def trust_anchors(self) -> tuple[Certificate, ...]:
        return (self.certificates["sm2-root"], self.certificates["rsa-root"])

    def certificate(self, role: str) -> Certificate:
        try:
            return self.certificates[role]
        except KeyError:
            raise CertificateBuildError(f"unknown demo role {role!r}") from None

    def key(self, role: str) -> SoftwareKey:
        """The role's private key as a software :class:`~trust.keys.SigningKey`."""
        self.certificate(role)
        return self._keys[role]

    def chain(self, role: str) -> tuple[Certificate, ...]:
        """Leaf first, root last (through the issuing CA for department signers)."""
        path = [self.certificate(role)]
        while (issuer := self._issuers.get(role, role)) != role:
            role = issuer
            path.append(self.certificates[role])
        return tuple(path)

    def issuer_role(self, role: str) -> str:
        """The role whose key signed ``role``'s certificate (a root: itself)."""
        self.certificate(role)
        return self._issuers.get(role, role)

    def crl_urls(self, ca_role: str) -> tuple[str, ...]:
        """The CRL distribution point of certificates ``ca_role`` issues (none without a base)."""
        return (f"{self.crl_base}{CRL_PATH}{ca_role}",) if self.crl_base else ()

    def issue_department_cert(
        self,
        root_role: str,
        dept_name: str,
        uscc: str,
        key: SigningKey,
        *,
        organization: str | None = None,
        profile: Profile = profiles.SIGNER,
    ) -> Certificate:
        """A department signer certificate under a demo CA for any key (software or HSM).

        ``root_role``: a root (as before issuing CAs existed, for tests that need
        one) or, as a deployment does, an issuing CA (``sm2-issuing-ca``).
        Deterministic too: the serial derives from the seed, CA, USCC, name and key.
        """
        if root_role not in self._ca_signers:
            raise CertificateBuildError(
                f"root_role must be one of {', '.join(sorted(self._ca_signers))}")
        spki = key.public_key_der()
        label = f"dept/{root_role}/{uscc}/{dept_name}/{spki.hex()}"
        start, _ = _validity(self.now, _ROOT_DAYS)
        return issue_certificate(
            issuer_key=self._ca_signers[root_role],
            issuer=self.certificates[root_role],
            subject=SubjectName(dept_name, organization=organization, uscc=uscc),
            subject_spki=spki,
            profile=profile,
            not_before=start,
            not_after=start + timedelta(days=_LEAF_DAYS),
            serial=_serial(self._seed, label),
            crl_urls=self.crl_urls(root_role),
        )

    def __repr__(self) -> str:
        return f"DemoPKI(now={self.now.isoformat()}, roles={list(self.certificates)})"


def _validity(now: datetime, days: int) -> tuple[datetime, datetime]:
    start = now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    start -= timedelta(days=1)
    return start, start + timedelta(days=days)


def build_demo_pki(seed: bytes, now: datetime, *, crl_base: str | None = None) -> DemoPKI:
    """Build both demo hierarchies from ``seed`` (any bytes, ideally 32 random ones).

    ``crl_base`` (the service's public base URL, e.g. ``https://st.example``)
    adds CRL distribution points; the certificates stay deterministic.
    """
    if not isinstance(seed, bytes) or not seed:
        raise CertificateBuildError("the demo PKI seed must be non-empty bytes")
    require_aware(now, "now")
    if crl_base is not None:
        crl_base = crl_base.rstrip("/")
        if not crl_base.startswith(("http://", "https://")):
            raise CertificateBuildError("crl_base must be an http(s) URL")
    certs: dict[str, Certificate] = {}
    keys: dict[str, SoftwareKey] = {}
    ca_signers: dict[str, SigningKey] = {}
    issuers: dict[str, str] = {}

    def urls(ca_role: str) -> tuple[str, ...]:
        return (f"{crl_base}{CRL_PATH}{ca_role}",) if crl_base else ()

    for alg in ("sm2", "rsa"):
        root_role = f"{alg}-root"
        if alg == "sm2":
            scalar = derive_sm2_scalar(seed, "key/" + root_role)
            keys[root_role] = SoftwareKey(sm2.PrivateKey.from_scalar(scalar))
            ca_signers[root_role] = DeterministicSm2Key(scalar)
        else:
            keys[root_role] = SoftwareKey(derive_rsa_key(seed, "key/" + root_role, 3072))
            ca_signers[root_role] = keys[root_role]  # PKCS#1 v1.5 is deterministic
        start, end = _validity(now, _ROOT_DAYS)
        root_spki = keys[root_role].public_key_der()
        root_name = SubjectName(f"SealTrust 演示 {alg.upper()} 根 CA", organization=_ORG)
        certs[root_role] = issue_certificate(
            issuer_key=ca_signers[root_role],
            subject=root_name,
            subject_spki=root_spki,
            profile=profiles.ROOT_CA,
            not_before=start,
            not_after=end,
            serial=_serial(seed, root_role),
        )
        for suffix, profile, common_name, org, uscc, issuer_suffix in _LEAVES:
            role = f"{alg}-{suffix}"
            issuer_role = f"{alg}-{issuer_suffix}"
            if alg == "sm2":
                scalar = derive_sm2_scalar(seed, "key/" + role)
                leaf_key = SoftwareKey(sm2.PrivateKey.from_scalar(scalar))
                if suffix in _CA_ROLES:
                    ca_signers[role] = DeterministicSm2Key(scalar)
            else:
                bits = 3072 if suffix in _CA_ROLES else 2048
                leaf_key = SoftwareKey(derive_rsa_key(seed, "key/" + role, bits))
                if suffix in _CA_ROLES:
                    ca_signers[role] = leaf_key
            keys[role] = leaf_key
            subject = root_name if suffix == "list-signer" else SubjectName(
                common_name.format(ALG=alg.upper()), organization=org, uscc=uscc)
            days = _CA_DAYS if suffix in _CA_ROLES else _LEAF_DAYS
            certs[role] = issue_certificate(
                issuer_key=ca_signers[issuer_role],
                issuer=certs[issuer_role],
                subject=subject,
                subject_spki=leaf_key.public_key_der(),
                profile=profile,
                not_before=start,
                not_after=start + timedelta(days=days),
                serial=_serial(seed, role),
                crl_urls=urls(issuer_role),
            )
            issuers[role] = issuer_role
    return DemoPKI(
        now=now,
        certificates=MappingProxyType(certs),
        _keys=MappingProxyType(keys),
        _ca_signers=MappingProxyType(ca_signers),
        _seed=seed,
        _issuers=MappingProxyType(issuers),
        crl_base=crl_base,
    )
