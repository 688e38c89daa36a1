"""The QR conformance PKI, declared once and derived deterministically.

Keys come from fixed scalars (SHA-256 of a label), so every run has the
same keys. ``build()`` signs with randomised SM2 and ECDSA nonces, so its
certificates (and so kids) differ between runs; ``build(deterministic=True)``
derives every nonce from the key and the message (SM2 through gmssl, ECDSA by
RFC 6979 in ``cryptography``), so make_vectors.py writes the same bytes every
time and a test can tell committed vectors from stale ones. Used by make_vectors.py, the token tests
and benchmarks/bench_token.py until trust/pki offers a builder.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from asn1crypto import keys as asn1_keys
from asn1crypto import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

import trust  # noqa: F401  (registers SM OIDs)
from tests.gmssl_oracle import crypt_sm2
from trust import keys, sm2
from trust.pki.oids import EKU_LIST_SIGNING
from trust.status import LicenceStatus, StatusList
from trust.trustlist import Role, TrustEntry, TrustList

NOT_BEFORE = datetime(2026, 1, 1, tzinfo=UTC)
NOT_AFTER = datetime(2031, 1, 1, tzinfo=UTC)
# The validation clock of the conformance suite: 2026-06-01 10:00 Beijing time.
CLOCK = datetime(2026, 6, 1, 2, 0, 0, tzinfo=UTC)
ISSUER = "91310000MA1DEMO01X"  # Shanghai demo authority (USCC-like)
ISSUER_B = "91440000MA1DEMO02Y"  # Guangdong demo authority: mutual recognition
ISSUER_X = "91990000MA1ROGUE9Z"  # not in the trust list
LICENCE_TYPE = "biz-licence"


def _scalar(label: str) -> int:
    return int.from_bytes(hashlib.sha256(label.encode()).digest(), "big") % (sm2.N - 1) + 1


def sm2_key(label: str) -> keys.SoftwareKey:
    return keys.SoftwareKey(sm2.PrivateKey.from_scalar(_scalar(label)))


def p256_key(label: str) -> keys.SoftwareKey:
    return keys.SoftwareKey(ec.derive_private_key(_scalar(label) % (2**255), ec.SECP256R1()))


_soft_sm2 = sm2_key


def _soft_p256(label: str) -> keys.SoftwareKey:
    return keys.SoftwareKey(ec.derive_private_key(_scalar(label) % (2**255), ec.SECP256R1()))


class DeterministicKey:
    """A SigningKey whose signatures are a function of key and message (test vectors only).

    A fixed nonce per message is what makes regenerated vectors byte-identical; it is
    never how a production key signs (trust.keys uses fresh randomness).
    """

    def __init__(self, label: str, algorithm: str) -> None:
        self._label = label
        self._scalar = _scalar(label)
        self._algorithm = algorithm
        if algorithm == "sm2":
            soft = keys.SoftwareKey(sm2.PrivateKey.from_scalar(self._scalar))
            point = asn1_keys.PublicKeyInfo.load(soft.public_key_der())["public_key"].native
            self._gm = crypt_sm2(point, f"{self._scalar:064x}")
        else:
            self._ec = ec.derive_private_key(self._scalar % (2**255), ec.SECP256R1())
            soft = keys.SoftwareKey(self._ec)
        self._spki = soft.public_key_der()

    @property
    def algorithm(self) -> str:
        return self._algorithm

    def public_key_der(self) -> bytes:
        return self._spki

    def sign(self, message: bytes) -> bytes:
        if self._algorithm != "sm2":
            return self._ec.sign(message, ec.ECDSA(hashes.SHA256(), deterministic_signing=True))
        nonce = hashlib.sha256(f"{self._label}/nonce".encode() + message).digest()
        k = int.from_bytes(nonce, "big") % (sm2.N - 1) + 1
        raw = self._gm.sign_with_sm3(message, f"{k:064x}")
        return sm2.encode_der(int(raw[:64], 16), int(raw[64:], 16))


VectorKey = keys.SoftwareKey | DeterministicKey


def _name(cn: str) -> x509.Name:
    return x509.Name.build(
        {"country_name": "CN", "organization_name": "SealTrust QR Test", "common_name": cn}
    )


def certificate(
    cn: str,
    key: keys.SigningKey,
    *,
    issuer_cn: str | None = None,
    issuer_key: keys.SigningKey | None = None,
    ca: bool = False,
    not_before: datetime = NOT_BEFORE,
    not_after: datetime = NOT_AFTER,
    eku: tuple[str, ...] = (),
) -> bytes:
    """An X.509 v3 certificate for ``key``, self-signed unless an issuer is given."""
    signer = issuer_key or key
    sig_alg = {"algorithm": keys.signature_algorithm_oid(signer.algorithm)}
    serial = int.from_bytes(hashlib.sha256(cn.encode()).digest()[:8], "big")
    tbs = x509.TbsCertificate(
        {
            "version": "v3",
            "serial_number": serial,
            "signature": sig_alg,
            "issuer": _name(issuer_cn or cn),
            "validity": {
                "not_before": x509.Time({"utc_time": not_before}),
                "not_after": x509.Time({"utc_time": not_after}),
            },
            "subject": _name(cn),
            "subject_public_key_info": asn1_keys.PublicKeyInfo.load(key.public_key_der()),
            "extensions": [
                {"extn_id": "basic_constraints", "critical": True, "extn_value": {"ca": ca}},
                {
                    "extn_id": "key_usage",
                    "critical": True,
                    "extn_value": {"key_cert_sign", "crl_sign"} if ca else {"digital_signature"},
                },
                *([{"extn_id": "extended_key_usage", "critical": False, "extn_value": list(eku)}]
                  if eku else []),
            ],
        }
    )
    return bytes(
        x509.Certificate(
            {
                "tbs_certificate": tbs,
                "signature_algorithm": sig_alg,
                "signature_value": signer.sign(tbs.dump()),
            }
        ).dump()
    )


@dataclass(frozen=True)
class Party:
    key: VectorKey
    cert: bytes


def _party(
    cn: str, key: VectorKey, issuer: tuple[str, Party] | None = None, **kw: object
) -> Party:
    if issuer is None:
        return Party(key, certificate(cn, key, ca=True, **kw))  # type: ignore[arg-type]
    return Party(key, certificate(cn, key, issuer_cn=issuer[0], issuer_key=issuer[1].key, **kw))  # type: ignore[arg-type]


@dataclass(frozen=True)
class Pki:
    operator: Party
    ca: Party
    token_signer: Party
    status_signer: Party
    ca_b: Party
    token_signer_b: Party
    rogue_ca: Party
    rogue_signer: Party
    expired_signer: Party

    def trust_list(
        self,
        *,
        sequence: int = 7,
        issued_at: datetime = CLOCK - timedelta(hours=1),
        next_update: datetime | None = None,
    ) -> TrustList:
        return TrustList(
            sequence,
            issued_at,
            next_update or issued_at + timedelta(days=7),
            (
                TrustEntry(ISSUER, "CN-31", Role.ISSUER_CA, ("*",), self.ca.cert),
                TrustEntry(
                    ISSUER, "CN-31", Role.TOKEN_SIGNER, (LICENCE_TYPE,), self.token_signer.cert
                ),
                TrustEntry(
                    ISSUER, "CN-31", Role.TOKEN_SIGNER, (LICENCE_TYPE,), self.expired_signer.cert
                ),
                TrustEntry(ISSUER, "CN-31", Role.STATUS_SIGNER, ("*",), self.status_signer.cert),
                TrustEntry(ISSUER_B, "CN-44", Role.ISSUER_CA, ("*",), self.ca_b.cert),
                TrustEntry(ISSUER_B, "CN-44", Role.TOKEN_SIGNER, ("*",), self.token_signer_b.cert),
            ),
        )

    def status_list(
        self,
        *,
        revoked: tuple[int, ...] = (),
        suspended: tuple[int, ...] = (),
        issued_at: datetime = CLOCK - timedelta(hours=2),
    ) -> StatusList:
        changes = dict.fromkeys(revoked, LicenceStatus.REVOKED)
        changes.update(dict.fromkeys(suspended, LicenceStatus.SUSPENDED))
        empty = StatusList.empty(
            "SH-2026-0", ISSUER, 4096, issued_at, issued_at + timedelta(days=1)
        )
        return empty.updated(changes, issued_at, issued_at + timedelta(days=1))


def build(*, deterministic: bool = False) -> Pki:
    """The suite's PKI; ``deterministic`` makes every signature reproducible (see module doc)."""

    def sm2_key(label: str) -> VectorKey:
        return DeterministicKey(label, "sm2") if deterministic else _soft_sm2(label)

    def p256_key(label: str) -> VectorKey:
        return DeterministicKey(label, "ecdsa-p256") if deterministic else _soft_p256(label)

    ca_cn, ca_b_cn, rogue_cn = "Demo SH Issuer CA", "Demo GD Issuer CA", "Rogue CA"
    ca = _party(ca_cn, sm2_key("ca"))
    ca_b = _party(ca_b_cn, sm2_key("ca-b"))
    rogue_ca = _party(rogue_cn, sm2_key("rogue-ca"))
    return Pki(
        # The pinned list signer itself (key roles: a list signer, not a CA).
        operator=Party(sm2_key("operator"), certificate(
            "Demo Trust List Operator", sm2_key("operator"), eku=(EKU_LIST_SIGNING,))),
        ca=ca,
        token_signer=_party("Demo SH Token Signer 1", sm2_key("token-signer"), (ca_cn, ca)),
        status_signer=_party("Demo SH Status Signer", sm2_key("status-signer"), (ca_cn, ca),
                             eku=(EKU_LIST_SIGNING,)),
        ca_b=ca_b,
        token_signer_b=_party(
            "Demo GD Token Signer (P-256)", p256_key("token-signer-b"), (ca_b_cn, ca_b)
        ),
        rogue_ca=rogue_ca,
        rogue_signer=_party("Rogue Token Signer", sm2_key("rogue-signer"), (rogue_cn, rogue_ca)),
        expired_signer=_party(
            "Demo SH Token Signer 0 (expired)",
            sm2_key("old-signer"),
            (ca_cn, ca),
            not_before=datetime(2024, 1, 1, tzinfo=UTC),
            not_after=datetime(2025, 1, 1, tzinfo=UTC),
        ),
    )
