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

Every figure is signatures/s = N_SIGN / wall-clock seconds of one batch, the median over
SEALTRUST_BENCH_ROUNDS rounds, one thread; each ratio's reference runs in the same test,
alternating with ours (benchmarks/conftest.py paired).
"""

from __future__ import annotations

import io
import os
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
ROUNDS = int(os.environ.get("SEALTRUST_BENCH_ROUNDS", "5"))
N_SIGN = int(os.environ.get("SEALTRUST_BENCH_SIGNATURES", "40"))
PATH = "PDF signing step (rendered PDF in, sealed PDF out)"
STAT = f"median of {ROUNDS} rounds of {N_SIGN} signatures, wall clock, 1 thread"


def _now() -> datetime:
    return datetime.now(UTC)


def _tsa(alg: str) -> BuiltinTSA:
    p = pki(alg)
    return BuiltinTSA(p.tsa.key, p.tsa.chain, POLICY, _now)


def _sealer(alg: str, *, ts: bool, lean: bool = True) -> PdfSealer:
    p = pki(alg)
    timestamper = InProcessTimeStamper(_tsa(alg)) if ts else None
    return PdfSealer(p.signer.key, p.signer.chain, timestamper=timestamper, lean=lean)


def _batch(one: Callable[[], Any]) -> Callable[[], int]:
    def batch() -> int:
        for _ in range(N_SIGN):
            one()
        return N_SIGN

    return batch


def _seal_batch(sealer: PdfSealer) -> Callable[[], int]:
    pdf = sample_pdf()
    binding = SealBinding(SEAL)
    assert sealer.seal(pdf, seal=binding).startswith(pdf)
    return _batch(lambda: sealer.seal(pdf, seal=binding))


def _raw_sign(alg: str) -> Callable[[], int]:
    key = pki(alg).signer.key
    return _batch(lambda: key.sign(b"x" * 120))  # about the size of DER signed attributes


def _report(figure: Any, benchmark: Any, name: str, rates: Any, references: list[str]) -> None:
    if rates is None:
        return
    ours, refs = rates
    figure(benchmark, PATH, name, ours, "signatures/s", statistic=STAT)
    for ref_name, ref in zip(references, refs, strict=True):
        figure(benchmark, PATH, f"{name} vs {ref_name}", ours, "signatures/s", statistic=STAT,
               reference=ref_name, reference_value=ref)


@pytest.mark.parametrize("alg", ["sm2", "rsa-2048"])
@pytest.mark.parametrize("ts", [False, True], ids=["b_b", "b_t"])
def test_sealtrust_seal(benchmark: Any, pair: Any, figure: Any, alg: str, ts: bool) -> None:
    """Our sealer against the bare signature it must make (the floor)."""
    rates = pair(benchmark, _seal_batch(_sealer(alg, ts=ts)), _raw_sign(alg))
    _report(figure, benchmark, f"sealtrust {alg} {'B-T' if ts else 'B-B'}", rates,
            [f"raw {alg} signature"])


@pytest.mark.parametrize("alg", ["sm2", "rsa-2048"])
def test_sealtrust_seal_pyhanko_writer(benchmark: Any, pair: Any, figure: Any, alg: str) -> None:
    """The same sealer and CMS, but pyHanko writes the revision: isolates the lean path."""
    rates = pair(benchmark, _seal_batch(_sealer(alg, ts=True)),
                 _seal_batch(_sealer(alg, ts=True, lean=False)))
    _report(figure, benchmark, f"sealtrust {alg} B-T", rates, ["same sealer, pyHanko writer"])


@pytest.mark.parametrize("ts", [False, True], ids=["b_b", "b_t"])
def test_sealtrust_key_via_pyhanko_cms(benchmark: Any, pair: Any, figure: Any, ts: bool) -> None:
    """Same key and sealer, but pyHanko builds the CMS: isolates the direct-DER saving."""

    class PyHankoCms(KeySigner):
        _fast_cms = False

    p = pki("rsa-2048")
    theirs = _sealer("rsa-2048", ts=ts)
    theirs._signer = PyHankoCms(p.signer.key, p.signer.chain)
    rates = pair(benchmark, _seal_batch(_sealer("rsa-2048", ts=ts)), _seal_batch(theirs))
    _report(figure, benchmark, f"sealtrust rsa-2048 {'B-T' if ts else 'B-B'}", rates,
            ["same key, pyHanko-built CMS"])


@pytest.mark.parametrize("alg", ["sm2", "rsa-2048"])
def test_builtin_tsa_token(benchmark: Any, pair: Any, figure: Any, alg: str) -> None:
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
    rates = pair(benchmark, _batch(lambda: tsa.respond(request)), _raw_sign(alg))
    _report(figure, benchmark, f"builtin TSA {alg} token", rates, [f"raw {alg} signature"])


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
    benchmark: Any, pair: Any, figure: Any, ts: bool, reserved: int | None
) -> None:
    """Stock pyHanko SimpleSigner against our sealer, same PDF, key and level, same test."""
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
    theirs = _pyhanko_sign(_simple_signer(), timestamper, reserved)
    assert theirs().startswith(sample_pdf())
    rates = pair(benchmark, _seal_batch(_sealer("rsa-2048", ts=ts)), _batch(theirs))
    mode = "default estimate (dry run)" if reserved is None else "bytes_reserved"
    _report(figure, benchmark, f"sealtrust rsa-2048 {'B-T' if ts else 'B-B'}", rates,
            [f"pyHanko SimpleSigner, {mode}"])
