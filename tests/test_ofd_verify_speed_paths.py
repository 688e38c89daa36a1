"""The shortcuts of OFD verification (issue 13's floor) keep zipfile's and the registry's
answers: entries of a plain package are read straight from its bytes (zipfile reads every
unusual entry, so a damaged one gets zipfile's refusal), the V4 seal's small fields are
parsed once per distinct field, and a licence's online verification reads the registry
in one statement.
"""

from __future__ import annotations

import hashlib
import io
import struct
import zipfile
import zlib
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import event

from api.deployment import DEMO_DEPARTMENT, Deployment, Home, init_deployment, load_config
from api.issuance import issue_one
from api.routes.verification import deployment_policy
from signing.types import builtin_types
from trust.indications import Indication
from verification import verify_pdf
from verification.errors import OfdFormatError
from verification.ofd import OfdPackage
from verification.ofd import seal_value as seal_value_module
from verification.ofd.seal_value import read_seal_signature


@pytest.fixture(scope="module")
def licences(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Deployment, list[bytes]]]:
    root = tmp_path_factory.mktemp("ofd-speed") / "home"
    init_deployment(root)
    dep = Deployment(Home(root), load_config(Home(root)))
    try:
        files = []
        for number in (11, 12):
            with dep.registry.session() as s:
                files.append(issue_one(dep, s, type_code="DL",
                                       record=builtin_types().get("DL").example(number),
                                       department=DEMO_DEPARTMENT, actor="test",
                                       file_format="ofd").pdf)
        yield dep, files
    finally:
        dep.close()


def _zipfile_view(data: bytes) -> dict[str, bytes]:
    z = zipfile.ZipFile(io.BytesIO(data))
    return {i.filename: z.read(i) for i in z.infolist() if not i.is_dir()}


def test_plain_entries_are_read_without_zipfiles_entry_reader(
    licences: tuple[Deployment, list[bytes]], monkeypatch: pytest.MonkeyPatch,
) -> None:
    data = licences[1][0]
    expected = _zipfile_view(data)
    assert {i.compress_type for i in zipfile.ZipFile(io.BytesIO(data)).infolist()} == {
        zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED}  # both kinds are exercised

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("zipfile's entry reader was used for a plain entry")

    package = OfdPackage(data)
    monkeypatch.setattr(zipfile.ZipFile, "open", refuse)
    assert {name: package.read(name) for name in package.names} == expected


def _entry(data: bytes, name: str) -> zipfile.ZipInfo:
    return zipfile.ZipFile(io.BytesIO(data)).getinfo(name)


def _refusal(data: bytes, name: str) -> str:
    try:
        OfdPackage(data).read(name)
    except OfdFormatError as exc:
        return exc.message
    raise AssertionError("a damaged entry was read")


def _corrupt_crc(data: bytes, name: str) -> bytes:
    """The CRC-32 of ``name`` changed in the central directory (the entry data intact)."""
    info = _entry(data, name)
    encoded = name.encode()
    pos = data.index(b"PK\x01\x02")
    while True:
        name_len = struct.unpack("<H", data[pos + 28:pos + 30])[0]
        if data[pos + 46:pos + 46 + name_len] == encoded:
            break
        extra, comment = struct.unpack("<HH", data[pos + 30:pos + 34])
        pos = data.index(b"PK\x01\x02", pos + 46 + name_len + extra + comment)
    crc = struct.pack("<L", info.CRC ^ 1)
    return data[:pos + 16] + crc + data[pos + 20:]


@pytest.mark.parametrize("name", ["Doc_0/Pages/Page_0/Content.xml", "Doc_0/Res/font_2.ttf"])
def test_a_crc_mismatch_gets_zipfiles_refusal(licences: tuple[Deployment, list[bytes]],
                                               name: str) -> None:
    bad = _corrupt_crc(licences[1][0], name)
    assert "Bad CRC-32" in _refusal(bad, name)


def test_a_local_header_naming_another_file_gets_zipfiles_refusal(
    licences: tuple[Deployment, list[bytes]],
) -> None:
    data = licences[1][0]
    name = "Doc_0/Document.xml"
    offset = _entry(data, name).header_offset
    bad = data[:offset + 30] + b"X" + data[offset + 31:]  # same length, other name
    assert "differ" in _refusal(bad, name)


def test_a_truncated_deflate_stream_is_never_read_as_the_entry(
    licences: tuple[Deployment, list[bytes]],
) -> None:
    data = licences[1][0]
    name = "Doc_0/Pages/Page_0/Content.xml"
    info = _entry(data, name)
    name_len, extra_len = struct.unpack("<HH", data[info.header_offset + 26:
                                                        info.header_offset + 30])
    start = info.header_offset + 30 + name_len + extra_len
    # the stream's last block replaced by zeros: it inflates to less, or not at all
    cut = start + info.compress_size - 64
    bad = data[:cut] + b"\x00" * 64 + data[cut + 64:]
    try:
        got = OfdPackage(bad).read(name)
    except OfdFormatError:
        return
    assert zlib.crc32(got) == info.CRC and len(got) == info.file_size  # zipfile's rule


def test_seal_fields_are_parsed_once_per_distinct_value(
    licences: tuple[Deployment, list[bytes]], monkeypatch: pytest.MonkeyPatch,
) -> None:
    values = [zipfile.ZipFile(io.BytesIO(f)).read("Doc_0/Signs/Sign_0/SignedValue.dat")
              for f in licences[1]]
    first = read_seal_signature(values[0])
    loads: list[bytes] = []
    original = seal_value_module.core.Asn1Value.load.__func__  # type: ignore[attr-defined]

    def counting(cls: Any, encoded: bytes, strict: bool = False, **kwargs: Any) -> Any:
        loads.append(encoded)
        return original(cls, encoded, strict=strict, **kwargs)

    monkeypatch.setattr(seal_value_module.core.Asn1Value, "load", classmethod(counting))
    second = read_seal_signature(values[1])
    assert second.time_info != first.time_info or second.signed_message != first.signed_message
    # version, property and algorithm come from the cache; at most the time is new
    assert all(raw[0] == 0x18 for raw in loads)
    assert (second.version, second.property_info, second.signature_algorithm) == (
        first.version, first.property_info, first.signature_algorithm)


def test_online_verification_of_a_licence_reads_the_registry_once(
    licences: tuple[Deployment, list[bytes]],
) -> None:
    dep, files = licences
    policy = deployment_policy(dep)
    assert verify_pdf(files[0], policy).indication is Indication.TOTAL_PASSED  # warm up
    engine = policy.licence_status._registry.engine  # type: ignore[attr-defined]
    statements: list[str] = []

    def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    try:
        report = verify_pdf(files[1], policy)
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert report.indication is Indication.TOTAL_PASSED
    assert {c.name for r in report.signatures for c in r.checks} >= {
        "revocation", "licence_status", "registered_file", "seal"}
    assert len(statements) == 1, statements


def test_a_single_verifications_registry_read_has_a_fixed_shape(
    licences: tuple[Deployment, list[bytes]],
) -> None:
    """No expanding IN list to render again per execution (SQLAlchemy post-compile)."""
    dep, files = licences
    policy = deployment_policy(dep)
    verify_pdf(files[0], policy)
    engine = policy.licence_status._registry.engine  # type: ignore[attr-defined]
    expanding: list[object] = []

    def look(conn: Any, cursor: Any, statement: str, params: Any, context: Any,
             many: bool) -> None:
        expanding.extend(context.compiled.post_compile_params)

    event.listen(engine, "before_cursor_execute", look)
    try:
        assert verify_pdf(files[1], policy).indication is Indication.TOTAL_PASSED
    finally:
        event.remove(engine, "before_cursor_execute", look)
    assert expanding == []


def test_fixed_shape_and_expanding_chunk_statements_give_the_same_rows(
    licences: tuple[Deployment, list[bytes]],
) -> None:
    from verification.status import _chunk_statement, _queries  # the two statements

    dep, files = licences
    policy = deployment_policy(dep)
    report = verify_pdf(files[0], policy)
    sig = report.signatures[0].facts
    assert sig.licence_id is not None and sig.seal is not None and sig.signer_cert is not None
    fp = hashlib.sha256(sig.signer_cert).hexdigest()
    at = datetime.now(UTC)
    with dep.registry.engine.connect() as conn:
        for ids, seals, fps in (([sig.licence_id, "L-unknown"], [sig.seal], [fp, "00" * 32]),
                                ([], [sig.seal], []), ([sig.licence_id], [], [fp]),
                                ([f"x{n}" for n in range(9)] + [sig.licence_id], [], [])):
            statement, params = _chunk_statement(ids, seals, fps)
            shaped = sorted(tuple(r) for r in conn.execute(statement, {**params, "at": at}))
            general = sorted(tuple(r) for r in conn.execute(
                _queries().chunk, {"ids": ids, "seals": seals, "fps": fps, "at": at}))
            assert shaped == general
            assert len(general) == (sig.licence_id in ids) + (sig.seal in seals) + (fp in fps)


def test_cached_name_normalisation_still_refuses_every_time() -> None:
    """A guard for the cache on ``normalise`` (it passes on the old code too): a refusal
    is never cached into an answer, and answers do not depend on earlier calls."""
    from verification.ofd.package import normalise

    for _ in range(3):
        with pytest.raises(OfdFormatError, match="climbs out"):
            normalise("Doc_0/../../etc/passwd")
        assert normalise("\\Doc_0\\Pages//Page_0/./Content.xml") == (
            "Doc_0/Pages/Page_0/Content.xml")


def test_document_and_signature_lists_are_read_once_per_distinct_content(
    licences: tuple[Deployment, list[bytes]], monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Licences of one type share Signatures.xml (and mostly Document.xml) byte for byte:
    the second verification parses only what differs from the first."""
    from verification.ofd import structure
    from verification.ofd.structure import read_documents

    first, second = licences[1]
    structure._page_ids.cache_clear()  # earlier tests of this module read these licences
    structure._signature_list.cache_clear()
    read_documents(OfdPackage(first))
    parsed: list[str] = []
    original = structure.parse_xml

    def counting(data: bytes, what: str) -> Any:
        parsed.append(what)
        return original(data, what)

    monkeypatch.setattr(structure, "parse_xml", counting)
    docs = read_documents(OfdPackage(second))
    expected = {"OFD.xml", "Doc_0/Signs/Sign_0/Signature.xml"}
    if _zipfile_view(first)["Doc_0/Document.xml"] != _zipfile_view(second)["Doc_0/Document.xml"]:
        expected.add("Doc_0/Document.xml")  # (MaxUnitID follows the content)
    assert sorted(parsed) == sorted(expected)
    assert docs[0].page_ids and docs[0].signatures[0].sign_type == "Seal"


@pytest.mark.parametrize("seed", range(4))
def test_direct_reads_of_mutated_packages_are_zipfiles_bytes(
    licences: tuple[Deployment, list[bytes]], seed: int,
) -> None:
    """Seeded byte changes anywhere in a licence's zip (headers, names, deflate streams,
    stored data): whatever the direct path returns is what zipfile returns, and an entry
    zipfile refuses is refused."""
    import random

    from verification.ofd.package import normalise

    rng = random.Random(seed)
    data = licences[1][0]
    for _ in range(150):
        bad = bytearray(data)
        for _ in range(rng.choice([1, 1, 2, 4])):
            bad[rng.randrange(len(bad))] = rng.randrange(256)
        mutated = bytes(bad)
        try:
            package = OfdPackage(mutated)
        except OfdFormatError:
            continue
        reference = zipfile.ZipFile(io.BytesIO(mutated))
        for info in reference.infolist():
            if info.is_dir():
                continue
            name = normalise(info.filename)  # the package took every name
            try:
                expected: bytes | None = reference.read(info)
            except Exception:  # any refusal of zipfile's
                expected = None
            try:
                got: bytes | None = package.read(name)
            except Exception:
                got = None
            assert got == expected, (seed, name)


@pytest.mark.postgres
def test_fixed_shape_chunk_statement_on_postgresql() -> None:
    """The same rows from both statements on PostgreSQL (the service's registry)."""
    from tests.db_support import fresh_postgres_url
    from tests.lifecycle_support import add_licences, day, new_registry
    from verification.status import _chunk_statement, _queries

    for url in fresh_postgres_url():
        reg = new_registry(url)
        try:
            add_licences(reg, {f"M{i:03d}": day(2) for i in range(5)})
            at = datetime(2026, 12, 10, tzinfo=UTC)
            with reg.engine.connect() as conn:
                for ids, seals, fps in (
                        (["M000", "M003", "zz"], ["s"], ["00" * 32]), ([], [], ["a"]),
                        ([f"M{i:03d}" for i in range(5)] + [f"x{i}" for i in range(6)], [], [])):
                    statement, params = _chunk_statement(ids, seals, fps)
                    shaped = sorted(tuple(r) for r in conn.execute(statement,
                                                                     {**params, "at": at}))
                    general = sorted(tuple(r) for r in conn.execute(
                        _queries().chunk, {"ids": ids, "seals": seals, "fps": fps, "at": at}))
                    assert shaped == general
                    assert len(shaped) == len([i for i in ids if i.startswith("M")])
        finally:
            reg.close()


def test_a_central_directory_naming_an_unknown_zip_version_is_a_format_error() -> None:
    """One altered byte (the version needed to extract) made zipfile raise
    NotImplementedError out of OfdPackage instead of the typed OFD format error."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        zf.writestr("OFD.xml", b"<ofd:OFD/>")
    data = bytearray(buffer.getvalue())
    central = data.index(b"PK\x01\x02")
    data[central + 6:central + 8] = struct.pack("<H", 107)  # "version 10.7"
    with pytest.raises(OfdFormatError, match="not a readable OFD zip package"):
        OfdPackage(bytes(data))
