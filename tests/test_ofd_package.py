"""signing.ofd.package: entries deflated in two pieces, checked against the standard library.

zipfile (its own inflate and CRC check), ``unzip -t`` and hashlib's SM3 are
the independent readers; the archive's headers are compared with the bytes
zipfile writes for the same entries.
"""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest

from signing.ofd.package import Part, Shared, entry_bytes, entry_sm3, shared, zip_package

XML = b'<?xml version="1.0" encoding="UTF-8"?><ofd:Page>' + b"<ofd:PathObject/>" * 3000


def _stdlib_zip(entries: list[tuple[str, bytes]]) -> bytes:
    """What signing.ofd.seal wrote with zipfile before it had its own writer."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        for name, data in entries:
            info = zipfile.ZipInfo(name, date_time=(2026, 1, 1, 0, 0, 0))
            info.external_attr = 0o644 << 16
            xml = name.endswith(".xml")
            info.compress_type = zipfile.ZIP_DEFLATED if xml else zipfile.ZIP_STORED
            z.writestr(info, data, compresslevel=1 if xml else None)
    return out.getvalue()


def test_plain_entries_give_the_bytes_zipfile_writes() -> None:
    entries = [("OFD.xml", XML), ("Doc_0/Res/font_2.ttf", os.urandom(5000)),
               ("Doc_0/Signs/Sign_0/SignedValue.dat", b"")]
    assert zip_package(entries) == _stdlib_zip(entries)


def test_small_xml_reads_back_exactly() -> None:
    """Small XML is deflated with a 4 KiB window: any inflater reads it (zipfile checks
    the CRC), and it is no larger than zipfile's."""
    small = [("OFD.xml", XML[:700]), ("Doc_0/Document.xml", XML[:4096]), ("Doc_0/x.xml", b"")]
    data = zip_package(small)
    z = zipfile.ZipFile(io.BytesIO(data))
    assert z.testzip() is None
    assert [z.read(name) for name, _ in small] == [content for _, content in small]
    assert len(data) <= len(_stdlib_zip(small)) + 16


@pytest.mark.parametrize("deflate", [True, False])
@pytest.mark.parametrize("tail", [b"", b"</ofd:Page>", XML[::-1], os.urandom(70_000)])
def test_shared_head_and_tail_read_back_as_one_entry(deflate: bool, tail: bytes,
                                                     tmp_path: Path) -> None:
    head = Shared(XML, deflate=deflate)
    name = "Doc_0/Pages/Page_0/Content.xml" if deflate else "Doc_0/Signs/Sign_0/Seal.esl"
    part = Part(head, tail)
    data = zip_package([("OFD.xml", b"<a/>"), (name, part), ("Doc_0/b.xml", b"<b/>")])
    z = zipfile.ZipFile(io.BytesIO(data))
    assert z.testzip() is None
    assert z.read(name) == XML + tail == entry_bytes(part)
    assert z.getinfo(name).compress_type == (zipfile.ZIP_DEFLATED if deflate else
                                             zipfile.ZIP_STORED)
    assert entry_sm3(part) == hashlib.new("sm3", XML + tail).digest()
    assert z.read("Doc_0/b.xml") == b"<b/>"  # offsets after the two-piece entry hold
    if shutil.which("unzip"):
        (tmp_path / "p.zip").write_bytes(data)
        done = subprocess.run(["unzip", "-t", str(tmp_path / "p.zip")], capture_output=True,
                              text=True, check=False)
        assert done.returncode == 0, done.stdout


def test_a_shared_head_is_not_changed_by_its_uses() -> None:
    """The SM3 state is copied per use: one licence's tail never reaches the next."""
    head = shared(XML, deflate=True)
    assert shared(XML, deflate=True) is head
    first = entry_sm3(Part(head, b"<one/>"))
    entry_sm3(Part(head, b"<two/>"))
    assert entry_sm3(Part(head, b"<one/>")) == first == hashlib.new("sm3", XML + b"<one/>").digest()
    assert entry_sm3(Part(head)) == hashlib.new("sm3", XML).digest()


def test_unicode_entry_names_are_flagged_utf8() -> None:
    data = zip_package([("Doc_0/附件.xml", b"<a/>")])
    assert zipfile.ZipFile(io.BytesIO(data)).namelist() == ["Doc_0/附件.xml"]
