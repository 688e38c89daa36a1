"""GB/T 38540 electronic seals: build, parse, verify (V4), read GM/T 0031 (V1), draw.

::

    from trust.seal import SealPicture, make_seal, render_seal_png, sign_with_seal
    from trust.seal import verify_seal_signature
    from trust.sm3 import sm3

    png = render_seal_png("某某市市场监督管理局", caption="电子证照专用章")
    seal = make_seal(es_id="11010000000001", seal_type=1, name="某某市市场监督管理局",
                     certificates=[signer_cert], created=now, valid_start=now,
                     valid_end=later, picture=SealPicture("png", png, 42, 42),
                     maker_key=maker_key, maker_cert=maker_cert)
    signed = sign_with_seal(seal, signer_key, signer_cert, sm3(document), "doc", now)
    result = verify_seal_signature(signed, now, data=document,
                                   chain_validator=pki_validator)
    assert result.passed, result.summary

The maker signs DER(SES_SealInfo); verification also accepts the V1 rule,
DER(SEQUENCE{sealInfo, cert, algID}) (see :mod:`trust.seal.verify`). Keys are
:class:`trust.keys.SigningKey`; certificate chains are judged by an injected
:data:`ChainValidator`, so this package depends on no PKI internals.
"""

from trust.seal.build import CertListType, make_seal, sign_with_seal
from trust.seal.errors import SealBuildError, SealFormatError, SealImageError
from trust.seal.image import render_seal_png
from trust.seal.model import (
    CertListEntry,
    Extension,
    Seal,
    SealPicture,
    SealSignature,
    parse_seal,
    parse_seal_signature,
)
from trust.seal.results import (
    ChainValidator,
    Outcome,
    SealFacts,
    SealResult,
    SealSignatureResult,
    SignatureFacts,
    TimestampValidator,
)
from trust.seal.verify import (
    DEFAULT_ALGORITHMS,
    unsafe_accept_any_chain,
    verify_seal,
    verify_seal_signature,
)

__all__ = [
    "DEFAULT_ALGORITHMS",
    "CertListEntry",
    "CertListType",
    "ChainValidator",
    "Extension",
    "Outcome",
    "Seal",
    "SealBuildError",
    "SealFacts",
    "SealFormatError",
    "SealImageError",
    "SealPicture",
    "SealResult",
    "SealSignature",
    "SealSignatureResult",
    "SignatureFacts",
    "TimestampValidator",
    "make_seal",
    "parse_seal",
    "parse_seal_signature",
    "render_seal_png",
    "sign_with_seal",
    "unsafe_accept_any_chain",
    "verify_seal",
    "verify_seal_signature",
]
