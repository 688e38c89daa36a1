"""PAdES-style PDF sealing through any :class:`trust.keys.SigningKey`.

pyHanko lays out the PDF signature (byte ranges, /Contents, field, widget,
CMS); the private-key operation goes through the key contract, so a software
key, a PKCS#11 token or an SDF device signs the same way. SM2 uses SM3 and
the ``sm2_sm3`` SignerInfo algorithm (1.2.156.10197.1.501); RSA uses
PKCS#1 v1.5 with SHA-256; ECDSA P-256 uses SHA-256.

Lean path: pyHanko parses and re-serialises the whole file to append one
revision, ~3 ms of a ~5 ms seal. A PDF exactly as our renderer (reportlab)
writes it, sealed without a picture in the widget, gets its revision written
as bytes instead (signing/pdf/incremental.py) after a strict read of the few
objects it touches (signing/pdf/reportlab_pdf.py); the CMS comes from the same
:class:`KeySigner`. Anything else, including a licence's second signature,
goes through pyHanko. :data:`seal_paths` counts which path each seal took.

Speed (benchmarks/bench_sign.py): the per-key :class:`PdfSealer` keeps the
parsed chain and pyHanko ``Signer`` alive, and reserves the /Contents space
from known sizes, so pyHanko never makes a dry-run signature.
"""

from __future__ import annotations

import hashlib
import io
import threading
from collections import Counter, OrderedDict
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, Final

from asn1crypto import algos, cms, x509
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.misc import PdfError
from pyhanko.sign.fields import SigSeedSubFilter, enumerate_sig_fields
from pyhanko.sign.general import SigningError
from pyhanko.sign.signers import PdfSignatureMetadata, PdfSigner, Signer
from pyhanko.sign.signers.pdf_cms import PdfCMSSignedAttributes
from pyhanko.sign.timestamps import TimeStamper
from pyhanko_certvalidator.registry import SimpleCertificateStore

from signing.pdf.cms_attrs import SealAttrSpec, SealBinding, seal_attributes
from signing.pdf.errors import (
    CertificateChainError,
    FieldInUseError,
    MalformedPdfError,
    SealingError,
)
from signing.pdf.incremental import append_signature_revision, plain_field_name
from signing.pdf.placement import SealPlacement, SealPlacementError
from signing.pdf.reportlab_pdf import PlainPdf, read_reportlab_pdf
from signing.thread_loop import thread_loop
from signing.tsa.signed_data import (
    DATA_OID,
    SIGNATURE_TIME_STAMP_OID,
    SignedDataTemplate,
    attribute,
    digest,
)
from trust import sm3
from trust.errors import SealTrustError
from trust.keys import SigningKey

__all__ = ["MAX_PDF_BYTES", "KeySigner", "PdfSealer", "seal_paths", "seal_pdf"]

MAX_PDF_BYTES: Final = 64 * 1024 * 1024
# key algorithm -> (CMS digest, SignerInfo signature algorithm, max signature bytes)
_PROFILES: Final = {
    "sm2": ("sm3", "sm2_sm3", 72),
    "rsa-2048": ("sha256", "sha256_rsa", 256),
    "rsa-3072": ("sha256", "sha256_rsa", 384),
    "ecdsa-p256": ("sha256", "sha256_ecdsa", 72),
}
# SignerInfo, signed attributes, SignedData framing, PDF-side slack.
_CMS_OVERHEAD: Final = 2048
_CACHE_SIZE: Final = 64

# How many seals took each path ("lean", "pyhanko") in this process: for tests and metrics.
seal_paths: Counter[str] = Counter()
_paths_lock = threading.Lock()


def _took(path: str) -> None:
    with _paths_lock:
        seal_paths[path] += 1

# What pyHanko raises on malformed input (a mutated number raises decimal's
# InvalidOperation, an ArithmeticError): all of it means "not a sealable PDF".
_PDF_ERRORS = (PdfError, ValueError, TypeError, KeyError, IndexError, RecursionError,
               ArithmeticError)


class KeySigner(Signer):  # type: ignore[misc]
    """A pyHanko ``Signer`` whose raw signature comes from a ``SigningKey``.

    The chain is parsed and checked once: the leaf must hold the key's public
    key, so a mismatched certificate fails here rather than in a verifier.
    """

    _fast_cms = True  # tests turn it off to compare against pyHanko's own CMS

    def __init__(self, key: SigningKey, cert_chain: Sequence[bytes]) -> None:
        profile = _PROFILES.get(key.algorithm)
        if profile is None:
            raise CertificateChainError(f"no PDF signing profile for {key.algorithm!r}")
        if not cert_chain:
            raise CertificateChainError("the certificate chain is empty (leaf first)")
        try:
            certs = [x509.Certificate.load(bytes(der), strict=True) for der in cert_chain]
            leaf_spki = certs[0].public_key.dump()
            for cert in certs:
                cert.native  # noqa: B018  (parse fully now, not mid-signature)
        except (ValueError, TypeError, KeyError) as exc:
            raise CertificateChainError(f"malformed certificate in chain: {exc}") from exc
        if leaf_spki != key.public_key_der():
            raise CertificateChainError("the leaf certificate does not hold the signing key")
        self.md_algorithm, mechanism, self.max_signature_len = profile
        super().__init__(
            signing_cert=certs[0],
            signature_mechanism=algos.SignedDigestAlgorithm({"algorithm": mechanism}),
            cert_registry=SimpleCertificateStore.from_certs(certs),  # type: ignore[no-untyped-call]
            embed_roots=True,
        )
        self._key = key
        self._template = SignedDataTemplate(key, cert_chain)
        self.chain_bytes = sum(len(der) for der in cert_chain)

    async def async_sign(
        self,
        data_digest: bytes,
        digest_algorithm: str,
        dry_run: bool = False,
        use_pades: bool = False,
        timestamper: TimeStamper | None = None,
        signed_attr_settings: PdfCMSSignedAttributes | None = None,
        is_pdf_sig: bool = True,
        encap_content_info: Any = None,
    ) -> cms.ContentInfo:
        """The PAdES CMS, built directly from DER pieces when pyHanko asks for nothing else.

        Anything outside that profile (dry runs, CAdES extras, non-PDF data)
        goes through pyHanko's own attribute machinery unchanged.
        """
        covered, binding = _fast_path_binding(signed_attr_settings)
        if (
            not self._fast_cms
            or not covered
            or dry_run
            or not use_pades
            or not is_pdf_sig
            or encap_content_info is not None
            or digest_algorithm != self.md_algorithm
        ):
            return await super().async_sign(
                data_digest,
                digest_algorithm,
                dry_run=dry_run,
                use_pades=use_pades,
                timestamper=timestamper,
                signed_attr_settings=signed_attr_settings,
                is_pdf_sig=is_pdf_sig,
                encap_content_info=encap_content_info,
            )
        md = self.md_algorithm
        extra = seal_attributes(binding, data_digest, md) if binding is not None else []
        pending = self._template.sign(DATA_OID, data_digest, extra_signed_attrs=extra)
        unsigned = []
        if timestamper is not None:
            token = await timestamper.async_timestamp(digest(md, pending.signature), md)
            unsigned.append(attribute(SIGNATURE_TIME_STAMP_OID, bytes(token.dump())))
        return cms.ContentInfo.load(pending.finish(unsigned))

    async def async_sign_raw(
        self, data: bytes, digest_algorithm: str, dry_run: bool = False
    ) -> bytes:
        if digest_algorithm != self.md_algorithm:
            raise SealingError(f"{self._key.algorithm} signs with {self.md_algorithm} only")
        if dry_run:
            return bytes(self.max_signature_len)
        return self._key.sign(data)


class PdfSealer:
    """Seals PDFs with one key, chain and time-stamper; reuse it across licences.

    ``lean=False`` sends every PDF through pyHanko (benchmarks and tests compare the paths).
    """

    def __init__(
        self,
        key: SigningKey,
        cert_chain: Sequence[bytes],
        *,
        timestamper: TimeStamper | None,
        lean: bool = True,
    ) -> None:
        self._signer = KeySigner(key, cert_chain)
        self._lean = lean
        self._timestamper = timestamper
        self._tst_reserve: int | None = None
        self._leaf_len = len(cert_chain[0])

    @property
    def md_algorithm(self) -> str:
        return str(self._signer.md_algorithm)

    def seal(
        self,
        pdf_bytes: bytes,
        *,
        field_name: str = "Seal",
        seal: SealBinding | None = None,
        appearance: SealPlacement | None = None,
        reason: str | None = None,
        location: str | None = None,
    ) -> bytes:
        """The sealed PDF: ``pdf_bytes`` plus one incremental signature revision."""
        return thread_loop().run_until_complete(
            self.async_seal(
                pdf_bytes,
                field_name=field_name,
                seal=seal,
                appearance=appearance,
                reason=reason,
                location=location,
            )
        )

    async def async_seal(
        self,
        pdf_bytes: bytes,
        *,
        field_name: str = "Seal",
        seal: SealBinding | None = None,
        appearance: SealPlacement | None = None,
        reason: str | None = None,
        location: str | None = None,
    ) -> bytes:
        """:meth:`seal` for callers already inside an event loop (the API)."""
        data = _checked_input(pdf_bytes)
        no_picture = appearance is None or appearance.image is None
        if self._lean and no_picture and plain_field_name(field_name):
            layout = read_reportlab_pdf(data, appearance.page if appearance is not None else 0)
            if layout is not None:
                _took("lean")
                return await self._seal_lean(
                    data, layout, field_name=field_name, seal=seal, appearance=appearance,
                    reason=reason, location=location,
                )  # fmt: skip
        _took("pyhanko")
        writer = _open(data)
        try:
            taken = any(enumerate_sig_fields(writer, filled_status=True, with_name=field_name))
        except _PDF_ERRORS as exc:
            raise MalformedPdfError(f"unreadable signature fields: {exc}") from exc
        if taken:
            raise FieldInUseError(f"signature field {field_name!r} is already signed")
        _check_page(writer, appearance.page if appearance is not None else 0)
        meta = PdfSignatureMetadata(
            field_name=field_name,
            md_algorithm=self._signer.md_algorithm,
            subfilter=SigSeedSubFilter.PADES,
            cades_signed_attr_spec=SealAttrSpec(binding=seal) if seal is not None else None,
            reason=reason,
            location=location,
        )
        pdf_signer = PdfSigner(
            meta,
            signer=self._signer,
            timestamper=self._timestamper,
            stamp_style=appearance.stamp_style if appearance is not None else None,
            new_field_spec=appearance.field_spec(field_name) if appearance is not None else None,
        )
        reserved = await self._reserve(seal)
        try:
            out = await pdf_signer.async_sign_pdf(writer, bytes_reserved=reserved)
        except SealTrustError:
            raise
        except SigningError as exc:
            raise SealingError(f"cannot seal: {exc}") from exc
        except _PDF_ERRORS as exc:
            raise MalformedPdfError(f"cannot add a signature to this PDF: {exc}") from exc
        return bytes(out.getvalue())

    async def _seal_lean(
        self,
        data: bytes,
        layout: PlainPdf,
        *,
        field_name: str,
        seal: SealBinding | None,
        appearance: SealPlacement | None,
        reason: str | None,
        location: str | None,
    ) -> bytes:
        """Seal a plain reportlab PDF: write the revision, digest its byte range, fill the CMS.

        The CMS request is the one pyHanko's PdfSigner makes (PAdES, the seal
        attributes, this sealer's time-stamper), so both paths sign alike.
        """
        signed_at = datetime.now(UTC)
        revision = append_signature_revision(
            data,
            layout,
            field_name=field_name,
            rect=appearance.box() if appearance is not None else None,
            contents_hex_digits=await self._reserve(seal),
            signed_at=signed_at,
            reason=reason,
            location=location,
        )
        md = self.md_algorithm
        attrs = PdfCMSSignedAttributes(
            signing_time=signed_at,
            cades_signed_attrs=SealAttrSpec(binding=seal) if seal is not None else None,
        )
        try:
            signed = await self._signer.async_sign(
                _digest_parts(md, revision.signed_parts()),
                md,
                use_pades=True,
                timestamper=self._timestamper,
                signed_attr_settings=attrs,
            )
            cms_der = bytes(signed.dump())
        except SealTrustError:
            raise
        except (SigningError, ValueError, TypeError) as exc:
            raise SealingError(f"cannot seal: {exc}") from exc
        return revision.fill(cms_der)

    async def _reserve(self, seal: SealBinding | None) -> int:
        """Bytes for the CMS in /Contents, from sizes known up front (no dry run)."""
        total = self._signer.chain_bytes + self._signer.max_signature_len + _CMS_OVERHEAD
        if self._timestamper is not None:
            if self._tst_reserve is None:
                try:
                    dummy = await self._timestamper.async_dummy_response(self.md_algorithm)
                except SealTrustError:
                    raise
                except (OSError, ValueError) as exc:
                    raise SealingError(f"time-stamp authority unavailable: {exc}") from exc
                self._tst_reserve = len(dummy.dump()) + 64
            total += self._tst_reserve
        if seal is not None:
            total += seal.reserve(self._leaf_len)
        return 2 * total  # pyHanko counts hex digits of /Contents


def _fast_path_binding(
    settings: PdfCMSSignedAttributes | None,
) -> tuple[bool, SealBinding | None]:
    """(whether the direct CMS builder covers ``settings``, the seal binding to add)."""
    if settings is None:
        return True, None
    spec = settings.cades_signed_attrs
    if settings.adobe_revinfo_attr is not None:
        return False, None
    if spec is None:
        return True, None
    if type(spec) is not SealAttrSpec or spec != SealAttrSpec(binding=spec.binding):
        return False, None
    binding: SealBinding | None = spec.binding
    return True, binding


def _check_page(writer: IncrementalPdfFileWriter, page: int) -> None:
    # Threat: a catalog whose /Pages is a direct object (ISO 32000-1 §7.7.2 requires an
    # indirect reference) trips an assert deep in pyHanko's incremental writer: an untyped
    # crash instead of a clear refusal.
    try:
        if not isinstance(writer.root.raw_get("/Pages"), generic.IndirectObject):
            raise MalformedPdfError("the catalog's /Pages is not an indirect reference")
        count = int(writer.root["/Pages"]["/Count"])
    except _PDF_ERRORS as exc:
        raise MalformedPdfError(f"unreadable page tree: {exc}") from exc
    if not -count <= page < count:
        raise SealPlacementError(f"page {page} does not exist (the PDF has {count})")


def _digest_parts(md: str, parts: Sequence[memoryview]) -> bytes:
    """``md`` over the concatenated ``parts`` (the signed byte ranges), without joining them."""
    hasher = sm3.new() if md == "sm3" else None
    if hasher is not None:
        for part in parts:
            hasher.update(part)
        return bytes(hasher.finalize())
    plain = hashlib.new(md)
    for part in parts:
        plain.update(part)
    return plain.digest()


def _checked_input(pdf_bytes: bytes) -> bytes:
    if not isinstance(pdf_bytes, bytes | bytearray | memoryview):
        raise MalformedPdfError("PDF input must be bytes")
    if len(pdf_bytes) > MAX_PDF_BYTES:
        raise MalformedPdfError(f"PDF larger than {MAX_PDF_BYTES} bytes")
    if not bytes(pdf_bytes[:1024]).lstrip().startswith(b"%PDF-"):
        raise MalformedPdfError("not a PDF (no %PDF- header)")
    return bytes(pdf_bytes)


def _open(pdf_bytes: bytes) -> IncrementalPdfFileWriter:
    try:
        writer = IncrementalPdfFileWriter(io.BytesIO(pdf_bytes))
    except _PDF_ERRORS as exc:
        raise MalformedPdfError(f"unreadable PDF: {exc}") from exc
    if writer.prev.encrypted:
        raise MalformedPdfError("encrypted PDFs are not sealed")
    return writer


_cache: OrderedDict[tuple[int, tuple[bytes, ...], int], tuple[object, object, PdfSealer]] = (
    OrderedDict()
)
_cache_lock = threading.Lock()


def _sealer_for(
    key: SigningKey, chain: tuple[bytes, ...], timestamper: TimeStamper | None
) -> PdfSealer:
    """One PdfSealer per (key object, chain, time-stamper), least recently used evicted."""
    cache_key = (id(key), chain, id(timestamper))
    with _cache_lock:
        hit = _cache.get(cache_key)
        # Keeping the objects in the entry pins their ids, so a hit is never a stale id.
        if hit is not None and hit[0] is key and hit[1] is timestamper:
            _cache.move_to_end(cache_key)
            return hit[2]
    sealer = PdfSealer(key, chain, timestamper=timestamper)
    with _cache_lock:
        _cache[cache_key] = (key, timestamper, sealer)
        while len(_cache) > _CACHE_SIZE:
            _cache.popitem(last=False)
    return sealer


def seal_pdf(
    pdf_bytes: bytes,
    key: SigningKey,
    cert_chain: Sequence[bytes],
    *,
    timestamper: TimeStamper | None,
    field_name: str = "Seal",
    seal: SealBinding | None = None,
    appearance: SealPlacement | None = None,
    reason: str | None = None,
    location: str | None = None,
) -> bytes:
    """Seal ``pdf_bytes`` with ``key`` (chain leaf first); B-T when ``timestamper`` is given.

    Call again on the result with another key and ``field_name`` for a second
    (e.g. RSA beside SM2) signature. The per-key signer is cached.
    """
    sealer = _sealer_for(key, tuple(bytes(c) for c in cert_chain), timestamper)
    return sealer.seal(
        pdf_bytes,
        field_name=field_name,
        seal=seal,
        appearance=appearance,
        reason=reason,
        location=location,
    )
