"""Certificate profiles: what each kind of SealTrust certificate may be used for.

| profile      | CA          | keyUsage (critical)              | extKeyUsage                     |
|--------------|-------------|----------------------------------|---------------------------------|
| root-ca      | yes         | keyCertSign, cRLSign             | -                               |
| issuing-ca   | yes, path 0 | keyCertSign, cRLSign             | -                               |
| signer       | no          | digitalSignature, nonRepudiation | documentSigning, emailProtection|
| seal-maker   | no          | digitalSignature, nonRepudiation | SealTrust seal-making           |
| tsa          | no          | digitalSignature                 | timeStamping (critical)         |
| token-signer | no          | digitalSignature                 | SealTrust token signing         |
| list-signer  | no          | digitalSignature, cRLSign        | SealTrust list signing          |

Key roles (docs/architecture.md, "Keys and roles"): the roots certify only the
issuing CAs and the service's own leaves, at ``sealtrust init`` or an offline
ceremony; the online service never opens a root key. Department signer
certificates come from the issuing CA (pathLen 0, so it cannot make CAs);
trust lists, status lists and the roots' CRLs are signed by the list signer,
which carries its root's subject name so that it is a delegated CRL signer
in the sense of RFC 5280 6.3.3 (f), and whose list-signing purpose verifiers
require (a list signed by a root or a department key is refused).

A seal maker (制章者) and a department signer carry the same key usages; what
tells them apart is the extended key usage and the certificate policy
(:data:`trust.pki.oids.EKU_SEAL_MAKING` + ``POLICY_SEAL_MAKER`` versus
documentSigning + ``POLICY_DOCUMENT_SIGNER``), so a verifier that asks for the
seal-making purpose rejects a plain signer certificate and vice versa. The
signer also lists emailProtection because Acrobat's list of acceptable
signing purposes predates RFC 9336 documentSigning. Non-TSA extended key
usages are non-critical so foreign GB/T 38540 verifiers that do not know the
private OIDs still accept the certificates.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from trust.pki import oids

__all__ = [
    "ISSUING_CA",
    "LIST_SIGNER",
    "PROFILES",
    "ROOT_CA",
    "SEAL_MAKER",
    "SIGNER",
    "TOKEN_SIGNER",
    "TSA",
    "Profile",
]

_EMAIL_PROTECTION: Final = "1.3.6.1.5.5.7.3.4"


@dataclass(frozen=True, slots=True)
class Profile:
    """The extensions a certificate gets; use ``dataclasses.replace`` for variants."""

    name: str
    is_ca: bool
    key_usage: frozenset[str]
    path_len: int | None = None
    ext_key_usage: tuple[str, ...] = ()
    eku_critical: bool = False
    policies: tuple[str, ...] = ()


ROOT_CA: Final = Profile("root-ca", True, frozenset({"key_cert_sign", "crl_sign"}))
ISSUING_CA: Final = Profile("issuing-ca", True, frozenset({"key_cert_sign", "crl_sign"}), 0)
SIGNER: Final = Profile(
    "signer",
    False,
    frozenset({"digital_signature", "non_repudiation"}),
    ext_key_usage=(oids.EKU_DOCUMENT_SIGNING, _EMAIL_PROTECTION),
    policies=(oids.POLICY_DOCUMENT_SIGNER,),
)
SEAL_MAKER: Final = Profile(
    "seal-maker",
    False,
    frozenset({"digital_signature", "non_repudiation"}),
    ext_key_usage=(oids.EKU_SEAL_MAKING,),
    policies=(oids.POLICY_SEAL_MAKER,),
)
TSA: Final = Profile(
    "tsa",
    False,
    frozenset({"digital_signature"}),
    ext_key_usage=(oids.EKU_TIME_STAMPING,),
    eku_critical=True,
)
TOKEN_SIGNER: Final = Profile(
    "token-signer",
    False,
    frozenset({"digital_signature"}),
    ext_key_usage=(oids.EKU_TOKEN_SIGNING,),
)
LIST_SIGNER: Final = Profile(
    "list-signer",
    False,
    frozenset({"digital_signature", "crl_sign"}),
    ext_key_usage=(oids.EKU_LIST_SIGNING,),
)
PROFILES: Final = {p.name: p for p in (ROOT_CA, ISSUING_CA, SIGNER, SEAL_MAKER, TSA, TOKEN_SIGNER,
                                       LIST_SIGNER)}
