"""Revocation material made with ``cryptography`` (independent of our builders) and
embedded into signed PDFs with pyHanko's DSS writer, as PAdES B-LT signers do."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from io import BytesIO

from asn1crypto import crl as asn1_crl
from asn1crypto import ocsp as asn1_ocsp
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509 import ocsp
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.sign.validation.dss import DocumentSecurityStore

from tests import pdf_corpus as corpus


def _root(pki: corpus.RsaPki) -> x509.Certificate:
    return x509.load_der_x509_certificate(pki.root_der)


def _signer(pki: corpus.RsaPki) -> x509.Certificate:
    return x509.load_der_x509_certificate(pki.signer_cert.dump())


def crl(pki: corpus.RsaPki, *, this_update: dt.datetime, next_update: dt.datetime,
        revoked: Sequence[tuple[int, dt.datetime]] = (), number: int = 1) -> bytes:
    """The foreign root's CRL, DER."""
    assert pki.root_key is not None
    root = _root(pki)
    builder = (x509.CertificateRevocationListBuilder().issuer_name(root.subject)
               .last_update(this_update).next_update(next_update)
               .add_extension(x509.CRLNumber(number), critical=False)
               .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
                   pki.root_key.public_key()), critical=False))
    for serial, when in revoked:
        builder = builder.add_revoked_certificate(
            x509.RevokedCertificateBuilder().serial_number(serial).revocation_date(when)
            .add_extension(x509.CRLReason(x509.ReasonFlags.key_compromise), critical=False)
            .build())
    return builder.sign(pki.root_key, hashes.SHA256()).public_bytes(serialization.Encoding.DER)


def ocsp_response(pki: corpus.RsaPki, *, this_update: dt.datetime, next_update: dt.datetime,
                  revoked_at: dt.datetime | None = None) -> bytes:
    """An OCSP response about the signer, signed by the root itself, DER."""
    assert pki.root_key is not None
    root, signer = _root(pki), _signer(pki)
    status = ocsp.OCSPCertStatus.GOOD if revoked_at is None else ocsp.OCSPCertStatus.REVOKED
    builder = ocsp.OCSPResponseBuilder().add_response(
        cert=signer, issuer=root, algorithm=hashes.SHA256(), cert_status=status,
        this_update=this_update, next_update=next_update, revocation_time=revoked_at,
        revocation_reason=None if revoked_at is None else x509.ReasonFlags.key_compromise,
    ).responder_id(ocsp.OCSPResponderEncoding.NAME, root)
    return builder.sign(pki.root_key, hashes.SHA256()).public_bytes(serialization.Encoding.DER)


def with_dss(pdf: bytes, *, crls: Sequence[bytes] = (), ocsps: Sequence[bytes] = ()) -> bytes:
    """``pdf`` plus an incremental update adding a DSS with ``crls`` and ``ocsps``."""
    out = BytesIO(pdf)
    DocumentSecurityStore.add_dss(
        out, None, crls=[asn1_crl.CertificateList.load(c) for c in crls],
        ocsps=[asn1_ocsp.OCSPResponse.load(o) for o in ocsps], force_write=True)
    return out.getvalue()


def signer_serial(pki: corpus.RsaPki) -> int:
    return int(pki.signer_cert.serial_number)


__all__ = ["crl", "ocsp_response", "signer_serial", "with_dss"]
_ = IncrementalPdfFileWriter  # pyHanko's writer is what add_dss uses underneath
