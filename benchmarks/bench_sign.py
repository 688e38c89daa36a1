"""PDF signing step: SealTrust's sealer beside pyHanko's stock SimpleSigner, same PDF, same run.

Run: ``.venv/bin/python -m pytest benchmarks/bench_sign.py --benchmark-only``

Only the signing step is timed: PDF bytes in (already rendered), sealed PDF
bytes out, including the RFC 3161 time-stamp where named ``_ts``. Target
(issue "Licence issuance"): signing + time-stamp well under 5 ms, so that
render + seal + sign + time-stamp + register reaches >= 100 licences/s per core.

The sample PDF is a plain reportlab file like a rendered licence, so SealTrust
seals it on the lean path (signing/pdf/incremental.py); the ``pyHanko writer``
rows force the same sealer through pyHanko's incremental writer, to show what
the lean path saves. pyHanko's SimpleSigner rows are stock pyHanko end to end.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from asn1crypto import keys, tsp, x509
from cryptography.hazmat.primitives import serialization
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.sign import signers
from pyhanko.sign.fields import SigSeedSubFilter
from pyhanko.sign.timestamps import DummyTimeStamper
from pyhanko_certvalidator.registry import SimpleCertificateStore

from signing.pdf import PdfSealer, SealBinding
from signing.pdf.signer import KeySigner
from signing.tsa import BuiltinTSA, InProcessTimeStamper
from tests.sign_certs import pki, sample_pdf

POLICY = "1.2.156.999.1.1"
SEAL = b"\x30\x0b\x16\x02ES\x02\x01\x04\x16\x02V4"
_results: dict[str, float] = {}


def _now() -> datetime:
    return datetime.now(UTC)


def _tsa(alg: str) -> BuiltinTSA:
    p = pki(alg)
    return BuiltinTSA(p.tsa.key, p.tsa.chain, POLICY, _now)


def _sealer(alg: str, *, ts: bool, lean: bool = True) -> PdfSealer:
    p = pki(alg)
    timestamper = InProcessTimeStamper(_tsa(alg)) if ts else None
    return PdfSealer(p.signer.key, p.signer.chain, timestamper=timestamper, lean=lean)


def _record(benchmark: Any, summary: Callable[[str], None], name: str, versus: str = "") -> None:
    """Keep the mean, and print it (with the ratio to ``versus``) in the end-of-run summary."""
    stats = getattr(benchmark, "stats", None)
    if stats is None:
        return
    # Median: robust against other jobs on a shared 2-core host; mean in the table.
    median = float(stats.stats.median)
    _results[name] = median
    line = f"{name}: median {median * 1000:.2f} ms/signature ({1 / median:,.0f}/s)"
    if versus in _results:
        line += f" = {median / _results[versus]:.1f}x {versus}"
        benchmark.extra_info["ratio_vs_sealtrust"] = median / _results[versus]
    summary(line)


@pytest.mark.parametrize("alg", ["sm2", "rsa-2048"])
@pytest.mark.parametrize("ts", [False, True], ids=["b_b", "b_t"])
def test_sealtrust_seal(benchmark: Any, summary: Callable[[str], None], alg: str, ts: bool) -> None:
    sealer = _sealer(alg, ts=ts)
    pdf = sample_pdf()
    binding = SealBinding(SEAL)
    out = benchmark(lambda: sealer.seal(pdf, seal=binding))
    assert out.startswith(pdf)
    _record(benchmark, summary, f"sealtrust {alg} {'B-T' if ts else 'B-B'}")


@pytest.mark.parametrize("alg", ["sm2", "rsa-2048"])
def test_sealtrust_seal_pyhanko_writer(
    benchmark: Any, summary: Callable[[str], None], alg: str
) -> None:
    """The same sealer and CMS, but pyHanko writes the revision: isolates the lean path."""
    sealer = _sealer(alg, ts=True, lean=False)
    pdf = sample_pdf()
    binding = SealBinding(SEAL)
    out = benchmark(lambda: sealer.seal(pdf, seal=binding))
    assert out.startswith(pdf)
    _record(benchmark, summary, f"sealtrust {alg} B-T, pyHanko writer",
            versus=f"sealtrust {alg} B-T")


@pytest.mark.parametrize("ts", [False, True], ids=["b_b", "b_t"])
def test_sealtrust_key_via_pyhanko_cms(
    benchmark: Any, summary: Callable[[str], None], ts: bool
) -> None:
    """Same key and sealer, but pyHanko builds the CMS: isolates the direct-DER saving."""

    class PyHankoCms(KeySigner):
        _fast_cms = False

    p = pki("rsa-2048")
    sealer = _sealer("rsa-2048", ts=ts)
    sealer._signer = PyHankoCms(p.signer.key, p.signer.chain)
    pdf = sample_pdf()
    benchmark(lambda: sealer.seal(pdf, seal=SealBinding(SEAL)))
    level = "B-T" if ts else "B-B"
    _record(
        benchmark,
        summary,
        f"sealtrust key, pyHanko-built CMS, rsa-2048 {level}",
        versus=f"sealtrust rsa-2048 {level}",
    )


@pytest.mark.parametrize("alg", ["sm2", "rsa-2048"])
def test_builtin_tsa_token(benchmark: Any, summary: Callable[[str], None], alg: str) -> None:
    tsa = _tsa(alg)
    request = tsp.TimeStampReq(
        {
            "version": "v1",
            "message_imprint": {
                "hash_algorithm": {"algorithm": "sha256"},
                "hashed_message": bytes(32),
            },
            "nonce": 1,
            "cert_req": True,
        }
    ).dump()
    benchmark(lambda: tsa.respond(request))
    _record(benchmark, summary, f"builtin TSA {alg} token")


def _simple_signer() -> signers.SimpleSigner:
    p = pki("rsa-2048")
    private = p.signer.key.private
    pkcs8 = private.private_bytes(  # type: ignore[union-attr]
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    certs = [x509.Certificate.load(c) for c in p.signer.chain]
    return signers.SimpleSigner(
        signing_cert=certs[0],
        signing_key=keys.PrivateKeyInfo.load(pkcs8),
        cert_registry=SimpleCertificateStore.from_certs(certs),
    )


def _pyhanko_sign(
    signer: signers.SimpleSigner, timestamper: Any, reserved: int | None
) -> Callable[[], bytes]:
    pdf = sample_pdf()
    meta = signers.PdfSignatureMetadata(
        field_name="Seal", md_algorithm="sha256", subfilter=SigSeedSubFilter.PADES
    )

    def run() -> bytes:
        writer = IncrementalPdfFileWriter(io.BytesIO(pdf))
        pdf_signer = signers.PdfSigner(meta, signer=signer, timestamper=timestamper)
        return bytes(pdf_signer.sign_pdf(writer, bytes_reserved=reserved).getvalue())

    return run


@pytest.mark.parametrize("ts", [False, True], ids=["b_b", "b_t"])
@pytest.mark.parametrize("reserved", [None, 16384], ids=["estimate", "reserved"])
def test_pyhanko_simple_signer_rsa(
    benchmark: Any, summary: Callable[[str], None], ts: bool, reserved: int | None
) -> None:
    p = pki("rsa-2048")
    timestamper = None
    if ts:
        tsa_cert = x509.Certificate.load(p.tsa.cert)
        tsa_key = p.tsa.key.private.private_bytes(  # type: ignore[union-attr]
            serialization.Encoding.DER,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        timestamper = DummyTimeStamper(
            tsa_cert=tsa_cert,
            tsa_key=keys.PrivateKeyInfo.load(tsa_key),
            certs_to_embed=SimpleCertificateStore.from_certs([x509.Certificate.load(p.root.cert)]),
        )
    out = benchmark(_pyhanko_sign(_simple_signer(), timestamper, reserved))
    assert out.startswith(sample_pdf())
    mode = "default estimate (dry run)" if reserved is None else "bytes_reserved"
    level = "B-T" if ts else "B-B"
    _record(
        benchmark,
        summary,
        f"pyHanko SimpleSigner rsa-2048 {level} {mode}",
        versus=f"sealtrust rsa-2048 {level}",
    )
