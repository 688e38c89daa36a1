"""The presentation token, lists and clock the QR benchmarks share (bench_token.py, token_cpu.py):
one definition, so the pytest rows and the CPU-time A/B measure the same token."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from tests.vectors.qr import testpki
from tests.vectors.qr.testpki import CLOCK, ISSUER, LICENCE_TYPE
from trust.token import Claims, TokenKind, encode_token, mask_id_number, mask_name, new_jti


def presentation() -> dict[str, Any]:
    """A presentation token of the test PKI with its trust list and status list (index 9
    revoked, the token's 123 valid): ``pki``, ``trust_list``, ``status`` (by list id),
    ``text``, ``claims``."""
    pki = testpki.build()
    status = pki.status_list(revoked=(9,))
    claims = Claims(
        TokenKind.PRESENTATION, ISSUER, "BL-310000-2026-000123-K", LICENCE_TYPE,
        mask_name("张三明"), mask_id_number("11010519491231002X"), date(2026, 1, 1),
        date(2046, 1, 1), CLOCK, CLOCK + timedelta(seconds=60), new_jti(), status.list_id, 123,
    )
    text = encode_token(claims, pki.token_signer.key, pki.token_signer.cert)
    return {"pki": pki, "trust_list": pki.trust_list(), "status": {status.list_id: status},
            "text": text, "claims": claims}
