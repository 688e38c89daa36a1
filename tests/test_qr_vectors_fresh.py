"""The committed QR conformance vectors are exactly what make_vectors.py writes today.

The generator signs with nonces derived from key and message
(testpki.build(deterministic=True)), so a regeneration is byte-identical unless
the generator or the code it calls (claims CBOR, Base45, prefix, QR picture,
trust and status list formats) changed. Then the committed suite is stale: the
decoders would be tested against inputs production no longer writes. The expected
verdicts are not generated: they are the hand-written ``outcome(...)`` of each
case in make_vectors.py, copied into each file.
"""

from __future__ import annotations

from pathlib import Path

from tests.vectors.qr.make_vectors import HERE, write_vectors


def test_committed_vectors_are_fresh(tmp_path: Path) -> None:
    written = write_vectors(tmp_path)
    fresh = {p.name: p.read_bytes() for p in written}
    committed = {p.name: p.read_bytes() for p in HERE.glob("*.json")}
    assert sorted(fresh) == sorted(committed), "cases added or removed: run python -m tests.vectors.qr.make_vectors"
    stale = sorted(name for name in fresh if fresh[name] != committed[name])
    assert not stale, f"stale vectors {stale}: run python -m tests.vectors.qr.make_vectors and review the diff"

