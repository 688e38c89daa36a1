"""verification.ofd.seal_value reads a V4 SES_Signature as trust.seal's strict parser does.

The fast reader must never accept what ``parse_seal_signature`` refuses nor read a
field differently: compared on genuine values (our OFD licences with their RFC 3161
token, a value without one, ofdrw's samples), on every single-byte change of the
DER headers and on seeded random corruptions, truncations and extensions.
"""

from __future__ import annotations

import io
import os
import random
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from api.deployment import DEMO_DEPARTMENT, Deployment, Home, init_deployment, load_config
from api.issuance import issue_one
from signing.types import builtin_types
from tests.support import require
from trust.seal import SealFormatError, SealSignature, parse_seal_signature
from verification.der import Unusual, children, element
from verification.ofd import seal_value
from verification.ofd.seal_value import read_seal_signature

SHARED = Path(os.environ.get("SEALTRUST_SHARED",
                             Path(__file__).resolve().parents[1].parent / "shared"))


def _values_of(package: bytes) -> list[bytes]:
    z = zipfile.ZipFile(io.BytesIO(package))
    return [z.read(n) for n in z.namelist()
            if "/Signs/" in n and not n.endswith((".xml", ".esl"))]


@pytest.fixture(scope="module")
def genuine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[bytes]]:
    root = tmp_path_factory.mktemp("seal-value") / "home"
    init_deployment(root)
    dep = Deployment(Home(root), load_config(Home(root)))
    try:
        values = []
        for number in (1, 2):
            with dep.registry.session() as s:
                issued = issue_one(dep, s, type_code="DL",
                                   record=builtin_types().get("DL").example(number),
                                   department=DEMO_DEPARTMENT, actor="test", file_format="ofd")
            values += _values_of(issued.pdf)
        yield values
    finally:
        dep.close()


def _outcome(fn: object, der: bytes) -> SealSignature | str:
    try:
        return fn(der)  # type: ignore[operator, no-any-return]
    except SealFormatError as exc:
        return f"refused: {exc.message}"


def _agree(der: bytes) -> None:
    assert _outcome(read_seal_signature, der) == _outcome(parse_seal_signature, der)


def test_genuine_values_take_the_fast_path_and_read_as_the_strict_parser(
    genuine: list[bytes], monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert len(genuine) == 2
    strict = [parse_seal_signature(v) for v in genuine]
    assert all(s.timestamp is not None for s in strict)  # with the time-stamp token

    def refuse(der: bytes) -> SealSignature:
        raise AssertionError("fell back to the strict parser")

    monkeypatch.setattr(seal_value, "parse_seal_signature", refuse)
    assert [read_seal_signature(v) for v in genuine] == strict


def test_a_value_without_a_timestamp(genuine: list[bytes]) -> None:
    der = genuine[0]
    top = element(der, 0, len(der))
    members = children(der, top)
    assert len(members) == 5
    body = der[members[0].start:members[3].end]
    n = len(body)
    head = bytes([0x30]) + (bytes([n]) if n < 0x80 else
                            bytes([0x80 | ((n.bit_length() + 7) // 8)])
                            + n.to_bytes((n.bit_length() + 7) // 8, "big"))
    without = head + body
    strict = parse_seal_signature(without)
    assert strict.timestamp is None
    assert read_seal_signature(without) == strict


def _header_positions(der: bytes) -> list[int]:
    """The tag and length bytes of every element the fast reader slices."""
    out: list[int] = []

    def walk(start: int, end: int, depth: int) -> None:
        pos = start
        while pos < end:
            try:
                el = element(der, pos, end)
            except Unusual:
                return
            out.extend(range(el.start, el.body))
            if el.tag & 0x20 and depth < 3:
                walk(el.body, el.end, depth + 1)
            pos = el.end

    walk(0, len(der), 0)
    return out


def test_every_header_byte_changed_gives_the_strict_verdict(genuine: list[bytes]) -> None:
    der = genuine[0]
    positions = _header_positions(der)
    assert len(positions) > 30
    for pos in positions:
        for delta in (1, 0x80, 0xFF):
            mutated = bytearray(der)
            mutated[pos] = (mutated[pos] + delta) % 256
            _agree(bytes(mutated))


def test_random_corruptions_give_the_strict_verdict(genuine: list[bytes]) -> None:
    rng = random.Random(1515)
    der = genuine[1]
    top = children(der, element(der, 0, len(der)))
    tbs_fields = children(der, top[0])
    # bytes outside the (large) seal picture, where a change is a different reading
    hot = [p for p in range(len(der)) if not tbs_fields[1].start + 64 < p < tbs_fields[1].end - 64]
    for _ in range(300):
        mutated = bytearray(der)
        for _ in range(rng.randint(1, 3)):
            mutated[rng.choice(hot)] = rng.randrange(256)
        _agree(bytes(mutated))
    for cut in (1, 2, 10, len(der) // 2, len(der) - 1):
        _agree(der[:cut])
    for extra in (b"\x00", b"\x30\x00", der[:5]):
        _agree(der + extra)
    _agree(b"")


def test_ofdrw_sample_values_read_as_the_strict_parser() -> None:
    require((SHARED / "ofd-samples").is_dir(), "ofdrw samples not present (../shared/ofd-samples)")
    from verification.ofd.values import declared_unused_bits_cleared

    seen = 0
    for path in sorted((SHARED / "ofd-samples").glob("*.ofd")):
        for value in _values_of(path.read_bytes()):
            _agree(declared_unused_bits_cleared(value))
            seen += 1
    assert seen > 0


def test_is_a_frozen_result() -> None:
    """The parsed seal is shared between files (cached): it must be immutable."""
    import dataclasses

    from trust.seal import Seal

    assert Seal.__dataclass_params__.frozen  # type: ignore[attr-defined]
    assert dataclasses.is_dataclass(SealSignature)
