"""Start-up checks a fast SM2 verification backend must pass before it is used.

A fast backend is C code we did not write, reached through ctypes with
hand-written signatures: one wrong argument type, byte order or Z rule would
make it accept forgeries or reject good licences. Before :mod:`trust.sm2`
routes a single verification to it, it must

1. reproduce the GM/T 0003.5 Annex A verdicts (the signature verifies with the
   default ID and fails with the empty ID, a changed message or a changed r);
2. agree with OpenSSL (the reference backend) on fresh signatures made by
   OpenSSL: messages of 0..120 bytes across SM3 block boundaries, IDs from
   empty to :data:`MAX_UID` bytes, each also with the message, the ID, r or s
   changed; and refuse a point off the curve as OpenSSL does.

A batch backend is checked the same way, 8 lanes at a time, mixing valid and
corrupted signatures in one call. This costs a few milliseconds once per
process (6 OpenSSL signatures plus about 30 verifications on each side).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Sequence
from typing import Protocol

from trust import _sm2_common as common
from trust._sm2_batch import LANES, shape_key

__all__ = ["Case", "check_batch", "check_verifier", "differential_cases"]

Case = tuple[bytes, bytes, int, int, bytes, str]  # point, message, r, s, uid, label


class _Verifier(Protocol):
    name: str

    def load_public(self, point: bytes) -> object: ...

    def verify(self, handle: object, message: bytes, r: int, s: int, uid: bytes) -> bool: ...


class _Reference(_Verifier, Protocol):
    def load_private(self, scalar: bytes) -> tuple[object, bytes]: ...

    def sign(self, handle: object, message: bytes, uid: bytes) -> bytes: ...


class _Batch(Protocol):
    name: str

    def load_public(self, point: bytes) -> object: ...

    def verify_lanes(
        self, entries: Sequence[tuple[object, bytes, int, int, bytes]]
    ) -> list[bool | None]: ...


_SHAPES = (  # (message length, ID) pairs across SM3 block boundaries of Z and Z || M
    (0, common.DEFAULT_UID),
    (1, b""),
    (23, b"a"),
    (24, common.DEFAULT_UID),
    (88, b"\x00" * 200),
    (120, b"u" * common.MAX_UID),
)


def _decode_der(signature: bytes) -> tuple[int, int]:
    """(r, s) of a DER signature our reference just produced (well-formed by construction)."""
    pos = 3 if signature[1] & 0x80 else 2
    out = []
    for _ in range(2):
        length = signature[pos + 1]
        out.append(int.from_bytes(signature[pos + 2 : pos + 2 + length], "big"))
        pos += 2 + length
    return out[0], out[1]


def differential_cases(reference: _Reference, shapes: Sequence[tuple[int, bytes]]) -> list[Case]:
    """Fresh OpenSSL signatures for ``shapes`` plus four corruptions of each."""
    scalar = secrets.randbelow(common.N - 2) + 1
    handle, point = reference.load_private(scalar.to_bytes(32, "big"))
    cases: list[Case] = []
    for length, uid in shapes:
        message = secrets.token_bytes(length)
        r, s = _decode_der(reference.sign(handle, message, uid))
        other_uid = uid + b"!" if len(uid) < common.MAX_UID else uid[:-1]
        changed = bytes([message[0] ^ 1]) + message[1:] if message else b"\x00"
        cases += [
            (point, message, r, s, uid, f"valid len={length} uid={len(uid)}"),
            (point, changed, r, s, uid, f"message changed len={length}"),
            (point, message, r, s, other_uid, f"ID changed uid={len(uid)}"),
            (point, message, r, s ^ 1 or 1, uid, f"s changed len={length}"),
            (point, message, (r + 1) % common.N or 1, s, uid, f"r changed len={length}"),
        ]
    return cases


def _verdicts(backend: _Verifier, cases: Sequence[Case]) -> list[bool]:
    handles: dict[bytes, object] = {}
    out = []
    for point, message, r, s, uid, _ in cases:
        if point not in handles:
            handles[point] = backend.load_public(point)
        # Backends are only ever given r, s in range (trust.sm2 checks first).
        ok = common.in_range(r, s) and backend.verify(handles[point], message, r, s, uid)
        out.append(ok)
    return out


def _off_curve_refused(load: Callable[[bytes], object]) -> bool:
    point = bytes.fromhex(common.KAT_PUB)
    bad = point[:-1] + bytes([point[-1] ^ 1])
    try:
        load(bad)
    except Exception:  # noqa: BLE001 - any refusal is the expected outcome
        return True
    return False


def _kat_cases() -> list[tuple[Case, bool]]:
    point = bytes.fromhex(common.KAT_PUB)
    msg, r, s = common.KAT_MSG, common.KAT_R, common.KAT_S
    return [
        ((point, msg, r, s, common.DEFAULT_UID, "Annex A"), True),
        ((point, msg, r, s, b"", "Annex A with the empty ID"), False),
        ((point, msg + b"!", r, s, common.DEFAULT_UID, "Annex A, message changed"), False),
        ((point, msg, r + 1, s, common.DEFAULT_UID, "Annex A, r changed"), False),
    ]


def check_verifier(candidate: _Verifier, reference: _Reference) -> tuple[bool, str]:
    """(passed, detail) for a single-signature backend against the reference."""
    try:
        for case, expected in _kat_cases():
            if _verdicts(candidate, [case]) != [expected]:
                return False, f"known answer: {case[5]} gave {not expected}"
        if not _off_curve_refused(candidate.load_public):
            return False, "accepted a public point off the curve"
        cases = differential_cases(reference, _SHAPES)
        ours, theirs = _verdicts(candidate, cases), _verdicts(reference, cases)
        for case, a, b in zip(cases, ours, theirs, strict=True):
            if a != b:
                return False, f"differs from {reference.name}: {case[5]} ({a} vs {b})"
    except Exception as exc:  # noqa: BLE001 - a broken backend may raise anything: a failure
        return False, f"{type(exc).__name__}: {exc}"
    return True, (
        f"GM/T 0003.5 Annex A and {len(cases)} verdicts identical to {reference.name}"
    )


def check_batch(candidate: _Batch, reference: _Reference) -> tuple[bool, str]:
    """(passed, detail) for a batch backend: lanes mixing valid and corrupted signatures."""
    try:
        if not _off_curve_refused(candidate.load_public):
            return False, "accepted a public point off the curve"
        kat = [case for case, _ in _kat_cases() if case[4]]  # crypto_mb lanes never get b""
        expected_kat = [True, False, False]
        rounds: list[list[Case]] = []
        # Each call carries one SM3 shape only (see trust._sm2_batch): 8 lanes per shape.
        for length, uid in ((14, common.DEFAULT_UID), (100, b"alice@example.cn")):
            cases = differential_cases(reference, [(length, uid)] * 2)[: LANES - 1]
            rounds.append(cases)
        checked = 0
        for lanes, expected in (
            (kat + [kat[0]] * (LANES - len(kat)), expected_kat + [True] * (LANES - 3)),
            *((r + r[:1], _verdicts(reference, r + r[:1])) for r in rounds),
        ):
            shapes = {shape_key(len(c[4]), len(c[1])) for c in lanes}
            if len(shapes) != 1 or None in shapes:
                return False, "self-test lanes do not share one SM3 shape"
            entries = [(candidate.load_public(p), m, r, s, u) for p, m, r, s, u, _ in lanes]
            got = candidate.verify_lanes(entries)
            if got != list(expected):
                return False, f"lane verdicts {got} differ from {reference.name} {list(expected)}"
            checked += len(lanes)
    except Exception as exc:  # noqa: BLE001 - a broken backend may raise anything: a failure
        return False, f"{type(exc).__name__}: {exc}"
    return True, f"GM/T 0003.5 Annex A and {checked} lane verdicts identical to {reference.name}"
