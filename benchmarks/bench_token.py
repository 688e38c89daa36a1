"""QR token validation throughput beside raw SM2 verification in the same run.

Run: ``.venv/bin/pytest benchmarks/bench_token.py --benchmark-only``

Target (issue "亮证"): in-process offline validation of a presentation token
(prefix, Base45, COSE, claims, kid lookup, SM2 verify, time, status bit, list
ages) reaches >= 80% of the rate of a bare ``PublicKey.verify_raw`` over the
same Sig_structure bytes. ``SEALTRUST_BENCH_ENFORCE=1`` fails the run below it.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

from trust import sm2
from trust.status import LicenceStatus
from trust.token import (
    Claims,
    InMemoryLiveStatus,
    TokenKind,
    decode_token,
    encode_token,
    mask_id_number,
    mask_name,
    new_jti,
    verify_token,
)
from trust.token.certs import CertFacts

# The conformance PKI lives with the test vectors; benchmarks/ is not a package.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.vectors.qr import testpki
from tests.vectors.qr.testpki import CLOCK, ISSUER, LICENCE_TYPE

TARGET = 0.80
_RATES: dict[str, float] = {}


@pytest.fixture(scope="module")
def setup() -> dict[str, Any]:
    pki = testpki.build()
    status = pki.status_list(revoked=(9,))
    claims = Claims(
        TokenKind.PRESENTATION,
        ISSUER,
        "BL-310000-2026-000123-K",
        LICENCE_TYPE,
        mask_name("张三明"),
        mask_id_number("11010519491231002X"),
        date(2026, 1, 1),
        date(2046, 1, 1),
        CLOCK,
        CLOCK + timedelta(seconds=60),
        new_jti(),
        status.list_id,
        123,
    )
    text = encode_token(claims, pki.token_signer.key, pki.token_signer.cert)
    return {
        "pki": pki,
        "trust_list": pki.trust_list(),
        "status": {status.list_id: status},
        "text": text,
        "claims": claims,
    }


def _record(
    name: str,
    benchmark: Any,
    ops_per_second: Callable[[Any], float | None],
    summary: Callable[[str], None],
) -> None:
    rate = ops_per_second(benchmark)
    if rate is None:
        return
    _RATES[name] = rate
    benchmark.extra_info["ops_per_s"] = round(rate, 1)
    raw = _RATES.get("raw")
    if name != "raw" and raw:
        ratio = rate / raw
        benchmark.extra_info["ratio_vs_raw_sm2_verify"] = round(ratio, 3)
        line = f"QR {name:16s}: {rate:8.1f}/s  raw SM2 verify {raw:8.1f}/s  ratio {ratio:.1%}"
        summary(line)
        print(line)
        if name == "verify offline" and os.environ.get("SEALTRUST_BENCH_ENFORCE") == "1":
            assert ratio >= TARGET, f"{line} is below the {TARGET:.0%} target"


def test_raw_sm2_verify(
    benchmark: Any,
    setup: dict[str, Any],
    ops_per_second: Callable[[Any], float | None],
    summary: Callable[[str], None],
) -> None:
    envelope = decode_token(setup["text"]).envelope
    key = sm2.PublicKey.from_der(CertFacts.from_der(setup["pki"].token_signer.cert).spki)
    tbs, sig = envelope.to_be_signed(), envelope.signature
    assert benchmark(key.verify_raw, tbs, sig)
    _record("raw", benchmark, ops_per_second, summary)


def test_token_verify_offline(
    benchmark: Any,
    setup: dict[str, Any],
    ops_per_second: Callable[[Any], float | None],
    summary: Callable[[str], None],
) -> None:
    result = benchmark(
        verify_token,
        setup["text"],
        trust_list=setup["trust_list"],
        status_lists=setup["status"],
        now=CLOCK,
    )
    assert result.passed, result.checks
    _record("verify offline", benchmark, ops_per_second, summary)


def test_document_token_verify_online(
    benchmark: Any,
    setup: dict[str, Any],
    ops_per_second: Callable[[Any], float | None],
    summary: Callable[[str], None],
) -> None:
    pki = setup["pki"]
    claims = setup["claims"]
    doc = Claims(
        TokenKind.DOCUMENT,
        claims.issuer,
        claims.licence_id,
        claims.licence_type,
        claims.holder_name,
        claims.holder_id_last4,
        claims.valid_from,
        claims.valid_until,
        CLOCK,
        CLOCK + timedelta(days=3650),
        new_jti(),
        claims.status_list,
        claims.status_index,
    )
    text = encode_token(doc, pki.token_signer.key, pki.token_signer.cert)
    live = InMemoryLiveStatus({(ISSUER, claims.licence_id): LicenceStatus.VALID})
    result = benchmark(
        verify_token, text, trust_list=setup["trust_list"], now=CLOCK, live_status=live
    )
    assert result.passed, result.checks
    _record("verify online", benchmark, ops_per_second, summary)


def test_token_issue(
    benchmark: Any,
    setup: dict[str, Any],
    ops_per_second: Callable[[Any], float | None],
    summary: Callable[[str], None],
) -> None:
    pki = setup["pki"]
    text = benchmark(encode_token, setup["claims"], pki.token_signer.key, pki.token_signer.cert)
    assert decode_token(text).claims == setup["claims"]
    _record("issue (sign)", benchmark, ops_per_second, summary)
