"""Write the kept fuzzing corpus (tests/fuzz/corpus/): small inputs worth replaying forever.

    PYTHONPATH=. .venv/bin/python tests/fuzz/make_corpus.py

Each file is either a seed the random seeds of the suite cannot give (an SM2-signed
licence-shaped PDF) or the minimised form of an input that once found a bug; the
README beside the files says which bug. The files are committed; rerunning this
script makes new keys, so only rerun it to add a file.
"""

from __future__ import annotations

from pathlib import Path

from tests import pdf_corpus as corpus

OUT = Path(__file__).parent / "corpus"


def main() -> None:
    OUT.mkdir(exist_ok=True)
    sm2 = corpus.sign_sm2(corpus.plain_pdf(), corpus.make_sm2_pki())
    (OUT / "sm2_signed.pdf").write_bytes(sm2)
    # aeca309: a /T with a raw line break comes back from pyHanko as bytes; report.to_json
    # raised TypeError. Same length as the genuine file, so only the name differs.
    edited = sm2.replace(b"/T (Sig1)", b"/T (S\nig)", 1)
    assert edited != sm2 and len(edited) == len(sm2)
    (OUT / "sm2_field_name_linebreak.pdf").write_bytes(edited)
    ofd = _signed_ofd()
    (OUT / "sm2_signed.ofd").write_bytes(ofd)
    # Zip entries named ../ and names differing only in case: the reader must refuse them
    # without touching the file system (the traversal and shadowing tests of the OFD issue).
    (OUT / "ofd_path_traversal.ofd").write_bytes(_with_entry(ofd, "../Doc_0/Document.xml"))
    (OUT / "ofd_case_shadow.ofd").write_bytes(_with_entry(ofd, "doc_0/document.xml"))


def _signed_ofd() -> bytes:
    """An SM2 V4-sealed OFD (the OFD reader's seal, Sign and zip branches)."""
    from datetime import UTC, datetime

    from tests.ofd_corpus import SealSpec, add_signature, content_entries, zip_package
    from tests.seal_certs import issue
    from trust.seal import SealPicture, make_seal

    now = datetime(2026, 12, 1, tzinfo=UTC)
    maker = issue("Corpus Seal Maker", ca=True)
    signer = issue("Corpus Signer", issuer=maker)
    seal = make_seal(es_id="11010500000010", seal_type=1, name="语料印章",
                     certificates=[signer.cert], created=now, valid_start=now,
                     valid_end=now.replace(year=2036),
                     picture=SealPicture("png", b"\x89PNG\r\n\x1a\n", 40, 40),
                     maker_key=maker.key, maker_cert=maker.cert)
    entries = content_entries()
    add_signature(entries, SealSpec(key=signer.key, cert=signer.cert, seal_der=seal, at=now))
    return zip_package(entries)


def _with_entry(ofd: bytes, name: str) -> bytes:
    import io
    import zipfile

    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(ofd)) as src, zipfile.ZipFile(out, "w") as dst:
        for info in src.infolist():
            dst.writestr(info.filename, src.read(info))
        dst.writestr(name, b"<a/>")
    return out.getvalue()


if __name__ == "__main__":
    main()
