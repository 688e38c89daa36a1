"""trust.merkle against outside oracles: CT known answers and the RFC algorithms re-written here.

Two oracles, neither derived from trust/merkle.py:

* the Certificate Transparency known answers for the standard 8 leaf inputs
  (tests/vectors/merkle/ct_reference.json, copied from transparency-dev/merkle;
  the file records the exact source files and commits);
* an implementation written in this file from the RFC text: MTH, PATH and
  PROOF/SUBPROOF as defined recursively in RFC 6962 section 2.1, the two
  verification procedures transcribed step by step from RFC 9162 sections
  2.1.3.2 and 2.1.4.2, and a second, structurally different verifier that
  rebuilds the roots by walking the RFC 6962 recursion backwards.

The threat: an audit log whose proofs only our own code can check. If our
hashing, proof layout or verifier drifted from RFC 6962, CT tooling would
reject our proofs (or, worse, our verifier would accept proofs CT rejects).
"""

from __future__ import annotations

import hashlib
import json
import random
from collections.abc import Sequence
from pathlib import Path

import pytest

from trust import merkle

VECTORS = json.loads((Path(__file__).parent / "vectors" / "merkle" / "ct_reference.json").read_text())
INPUTS = [bytes.fromhex(h) for h in VECTORS["leaf_inputs"]]
ROOTS = {int(k): bytes.fromhex(v) for k, v in VECTORS["roots"].items()}
NODES = [[bytes.fromhex(h) for h in level] for level in VECTORS["node_hashes"]]
SOME_HASH = bytes.fromhex("abacaba000000000000000000000000000000000000000000060061e00123456")


# --- oracle, RFC 6962 section 2.1 (recursive definitions, deliberately naive) ---------------

def _h(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def _k(n: int) -> int:
    """The largest power of two smaller than n (n > 1)."""
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def rfc_mth(d: Sequence[bytes]) -> bytes:
    """MTH(D[n]) over the raw entries (not leaf hashes)."""
    if len(d) == 0:
        return _h(b"")
    if len(d) == 1:
        return _h(b"\x00" + d[0])
    k = _k(len(d))
    return _h(b"\x01" + rfc_mth(d[:k]) + rfc_mth(d[k:]))


def rfc_path(m: int, d: Sequence[bytes]) -> list[bytes]:
    if len(d) == 1:
        return []
    k = _k(len(d))
    if m < k:
        return [*rfc_path(m, d[:k]), rfc_mth(d[k:])]
    return [*rfc_path(m - k, d[k:]), rfc_mth(d[:k])]


def rfc_subproof(m: int, d: Sequence[bytes], b: bool) -> list[bytes]:
    n = len(d)
    if m == n:
        return [] if b else [rfc_mth(d)]
    k = _k(n)
    if m <= k:
        return [*rfc_subproof(m, d[:k], b), rfc_mth(d[k:])]
    return [*rfc_subproof(m - k, d[k:], False), rfc_mth(d[:k])]


def rfc_proof(m: int, d: Sequence[bytes]) -> list[bytes]:
    return rfc_subproof(m, d, True)


# --- oracle, RFC 9162 sections 2.1.3.2 and 2.1.4.2, transcribed step by step -------------------

def _node(left: bytes, right: bytes) -> bytes:
    return _h(b"\x01" + left + right)


def rfc9162_verify_inclusion(
    leaf_index: int, tree_size: int, hash_: bytes, inclusion_path: Sequence[bytes], root_hash: bytes
) -> bool:
    # 1. leaf_index >= tree_size: fail.
    if leaf_index >= tree_size or leaf_index < 0:
        return False
    # 2. fn = leaf_index, sn = tree_size - 1.  3. r = hash.
    fn, sn, r = leaf_index, tree_size - 1, hash_
    # 4. for each p in inclusion_path:
    for p in inclusion_path:
        # a. sn == 0: stop and fail.
        if sn == 0:
            return False
        # b. LSB(fn) set or fn == sn:
        if fn % 2 == 1 or fn == sn:
            r = _node(p, r)  # i.
            if fn % 2 == 0:  # ii. shift until LSB(fn) set or fn == 0
                while not (fn % 2 == 1 or fn == 0):
                    fn //= 2
                    sn //= 2
        else:
            r = _node(r, p)
        # c. shift once.
        fn //= 2
        sn //= 2
    # 5. sn == 0 and r == root_hash.
    return sn == 0 and r == root_hash


def rfc9162_verify_consistency(
    first: int, second: int, first_hash: bytes, second_hash: bytes, consistency_path: Sequence[bytes]
) -> bool:
    # Sizes outside 0 < first < second are handled before the procedure (equal trees need no
    # proof, RFC 9162 section 2.1.4); here they fail.
    if not 0 < first < second:
        return False
    path = list(consistency_path)
    # 1. empty path: fail.
    if not path:
        return False
    # 2. first an exact power of 2: prepend first_hash.
    if first & (first - 1) == 0:
        path = [first_hash, *path]
    # 3. fn = first - 1, sn = second - 1.
    fn, sn = first - 1, second - 1
    # 4. LSB(fn) set: shift both until it is not.
    while fn % 2 == 1:
        fn //= 2
        sn //= 2
    # 5. fr = sr = first value.
    fr = sr = path[0]
    # 6. for each subsequent c:
    for c in path[1:]:
        if sn == 0:  # a.
            return False
        if fn % 2 == 1 or fn == sn:  # b.
            fr = _node(c, fr)
            sr = _node(c, sr)
            if fn % 2 == 0:
                while not (fn % 2 == 1 or fn == 0):
                    fn //= 2
                    sn //= 2
        else:
            sr = _node(sr, c)
        fn //= 2  # c.
        sn //= 2
    # 7.
    return fr == first_hash and sr == second_hash and sn == 0


# --- oracle 3: rebuild the roots by running the RFC 6962 recursion backwards -------------------

def recursive_inclusion_root(leaf_hash: bytes, m: int, n: int, proof: Sequence[bytes]) -> bytes | None:
    """The root PATH(m, D[n]) proves for this leaf, or None if the proof has the wrong shape."""
    if not 0 <= m < n:
        return None
    if n == 1:
        return leaf_hash if not proof else None
    if not proof:
        return None
    k = _k(n)
    last, rest = proof[-1], proof[:-1]
    if m < k:
        left = recursive_inclusion_root(leaf_hash, m, k, rest)
        return None if left is None else _node(left, last)
    right = recursive_inclusion_root(leaf_hash, m - k, n - k, rest)
    return None if right is None else _node(last, right)


def _subproof_roots(
    m: int, n: int, b: bool, proof: Sequence[bytes], old_root: bytes
) -> tuple[bytes, bytes] | None:
    """(hash of the first m leaves of this subtree, hash of the whole subtree) from SUBPROOF."""
    if m == n:
        if b:
            return (old_root, old_root) if not proof else None
        return (proof[0], proof[0]) if len(proof) == 1 else None
    if not proof:
        return None
    k = _k(n)
    last, rest = proof[-1], proof[:-1]
    if m <= k:
        inner = _subproof_roots(m, k, b, rest, old_root)
        if inner is None:
            return None
        old, new = inner
        return old, _node(new, last)
    inner = _subproof_roots(m - k, n - k, False, rest, old_root)
    if inner is None:
        return None
    old, new = inner
    return _node(last, old), _node(last, new)


def recursive_verify_consistency(
    m: int, n: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]
) -> bool:
    if not 0 < m < n:
        return False
    roots = _subproof_roots(m, n, True, proof, old_root)
    return roots == (old_root, new_root)


# --- the known answers ----------------------------------------------------------------------

def test_leaf_and_node_hashes_match_ct() -> None:
    for i, entry in enumerate(INPUTS):
        assert merkle.leaf_hash(entry) == NODES[0][i]
        assert rfc_mth([entry]) == NODES[0][i]
    for level in range(1, len(NODES)):
        width = 1 << level
        for i, expected in enumerate(NODES[level]):
            chunk = INPUTS[i * width:(i + 1) * width]
            assert rfc_mth(chunk) == expected
            assert merkle.root([merkle.leaf_hash(e) for e in chunk]) == expected


@pytest.mark.parametrize("size", range(9))
def test_roots_match_ct(size: int) -> None:
    leaves = [merkle.leaf_hash(e) for e in INPUTS[:size]]
    assert rfc_mth(INPUTS[:size]) == ROOTS[size]
    assert merkle.root(leaves) == ROOTS[size]
    frontier: list[bytes] = []
    for i, leaf in enumerate(leaves):
        frontier = merkle.frontier_append(frontier, i, leaf)
    assert merkle.frontier_root(frontier) == ROOTS[size]


# The compact ranges of constants.go CompactTrees(): the frontier we store with each head.
_COMPACT = {1: [(0, 0)], 2: [(1, 0)], 3: [(1, 0), (0, 2)], 4: [(2, 0)], 5: [(2, 0), (0, 4)],
            6: [(2, 0), (1, 2)], 7: [(2, 0), (1, 2), (0, 6)], 8: [(3, 0)]}


@pytest.mark.parametrize("size", sorted(_COMPACT))
def test_frontier_is_the_ct_compact_range(size: int) -> None:
    frontier: list[bytes] = []
    for i, entry in enumerate(INPUTS[:size]):
        frontier = merkle.frontier_append(frontier, i, merkle.leaf_hash(entry))
    assert frontier == [NODES[level][i] for level, i in _COMPACT[size]]


INCLUSION = [(v["index"], v["size"], [bytes.fromhex(p) for p in v["proof"]]) for v in VECTORS["inclusion"]]
CONSISTENCY = [(v["size1"], v["size2"], [bytes.fromhex(p) for p in v["proof"]]) for v in VECTORS["consistency"]]


@pytest.mark.parametrize(("index", "size", "proof"), INCLUSION)
def test_inclusion_proofs_match_ct(index: int, size: int, proof: list[bytes]) -> None:
    leaves = [merkle.leaf_hash(e) for e in INPUTS[:size]]
    leaf = leaves[index]
    assert merkle.inclusion_proof(index, leaves) == proof
    assert rfc_path(index, INPUTS[:size]) == proof
    assert merkle.verify_inclusion(leaf, index, size, proof, ROOTS[size])
    assert rfc9162_verify_inclusion(index, size, leaf, proof, ROOTS[size])
    assert recursive_inclusion_root(leaf, index, size, proof) == ROOTS[size]


@pytest.mark.parametrize(("size1", "size2", "proof"), CONSISTENCY)
def test_consistency_proofs_match_ct(size1: int, size2: int, proof: list[bytes]) -> None:
    leaves = [merkle.leaf_hash(e) for e in INPUTS[:size2]]
    assert merkle.consistency_proof(size1, leaves) == proof
    assert rfc_proof(size1, INPUTS[:size2]) == proof
    assert merkle.verify_consistency(size1, size2, ROOTS[size1], ROOTS[size2], proof)
    if size1 < size2:
        assert rfc9162_verify_consistency(size1, size2, ROOTS[size1], ROOTS[size2], proof)
        assert recursive_verify_consistency(size1, size2, ROOTS[size1], ROOTS[size2], proof)


# --- corrupted proofs: the probes of transparency-dev's verify_test.go, rewritten here ---------

InclusionArgs = tuple[bytes, int, int, list[bytes], bytes]


def _inclusion_probes(leaf: bytes, index: int, size: int, proof: list[bytes], root: bytes) -> dict[str, InclusionArgs]:
    probes: dict[str, InclusionArgs] = {
        "index - 1": (leaf, index - 1, size, proof, root),
        "index + 1": (leaf, index + 1, size, proof, root),
        "index ^ 2": (leaf, index ^ 2, size, proof, root),
        "size * 2": (leaf, index, size * 2, proof, root),
        "size // 2": (leaf, index, size // 2, proof, root),
        "wrong leaf": (b"WrongLeaf", index, size, proof, root),
        "empty root": (leaf, index, size, proof, ROOTS[0]),
        "random root": (leaf, index, size, proof, SOME_HASH),
        "trailing garbage": (leaf, index, size, [*proof, b""], root),
        "trailing root": (leaf, index, size, [*proof, root], root),
        "preceding garbage": (leaf, index, size, [b"", *proof], root),
        "preceding root": (leaf, index, size, [root, *proof], root),
    }
    for i in range(len(proof)):
        bad = list(proof)
        bad[i] = bytes([bad[i][0] ^ 8]) + bad[i][1:]
        probes[f"proof[{i}] bit 3"] = (leaf, index, size, bad, root)
    if proof:
        probes["removed component"] = (leaf, index, size, proof[:-1], root)
    if len(proof) > 1:
        probes["inserted component"] = (leaf, index, size, [proof[0], SOME_HASH, *proof[1:]], root)
    return probes


@pytest.mark.parametrize(("index", "size", "proof"), INCLUSION)
def test_corrupted_inclusion_proofs_fail(index: int, size: int, proof: list[bytes]) -> None:
    leaf = merkle.leaf_hash(INPUTS[index])
    for name, (lf, ix, sz, pr, rt) in _inclusion_probes(leaf, index, size, proof, ROOTS[size]).items():
        assert not merkle.verify_inclusion(lf, ix, sz, pr, rt), name
        assert not rfc9162_verify_inclusion(ix, sz, lf, pr, rt), name


@pytest.mark.parametrize(("size1", "size2", "proof"), [c for c in CONSISTENCY if c[2]])
def test_corrupted_consistency_proofs_fail(size1: int, size2: int, proof: list[bytes]) -> None:
    r1, r2 = ROOTS[size1], ROOTS[size2]
    probes: dict[str, tuple[int, int, bytes, bytes, list[bytes]]] = {
        "size1 - 1": (size1 - 1, size2, r1, r2, proof),
        "size1 + 1": (size1 + 1, size2, r1, r2, proof),
        "size1 ^ 2": (size1 ^ 2, size2, r1, r2, proof),
        "size2 * 2": (size1, size2 * 2, r1, r2, proof),
        "size2 // 2": (size1, size2 // 2, r1, r2, proof),
        "wrong root1": (size1, size2, b"WrongRoot", r2, proof),
        "wrong root2": (size1, size2, r1, b"WrongRoot", proof),
        "swapped roots": (size1, size2, r2, r1, proof),
        "empty proof": (size1, size2, r1, r2, []),
        "trailing garbage": (size1, size2, r1, r2, [*proof, b""]),
        "trailing root1": (size1, size2, r1, r2, [*proof, r1]),
        "trailing root2": (size1, size2, r1, r2, [*proof, r2]),
        "preceding garbage": (size1, size2, r1, r2, [b"", *proof]),
        "preceding root1": (size1, size2, r1, r2, [r1, *proof]),
        "preceding root2": (size1, size2, r1, r2, [r2, *proof]),
        "preceding proof[0]": (size1, size2, r1, r2, [proof[0], *proof]),
        "truncated": (size1, size2, r1, r2, proof[:-1]),
    }
    for i in range(len(proof)):
        bad = list(proof)
        bad[i] = bytes([bad[i][0] ^ 16]) + bad[i][1:]
        probes[f"proof[{i}] bit 4"] = (size1, size2, r1, r2, bad)
    for name, (s1, s2, a, b, pr) in probes.items():
        assert not merkle.verify_consistency(s1, s2, a, b, pr), name
        assert not rfc9162_verify_consistency(s1, s2, a, b, pr), name


# --- beyond the 8 standard inputs: every proof of every tree up to 33 leaves --------------------

def _entries(n: int) -> list[bytes]:
    return [f"entry-{i}".encode() for i in range(n)]


@pytest.mark.parametrize("n", [*range(1, 18), 31, 32, 33])
def test_every_proof_agrees_with_the_rfc(n: int) -> None:
    entries = _entries(n)
    leaves = [merkle.leaf_hash(e) for e in entries]
    root = rfc_mth(entries)
    assert merkle.root(leaves) == root
    rng = random.Random(n)
    for m in range(n):
        proof = merkle.inclusion_proof(m, leaves)
        assert proof == rfc_path(m, entries)
        assert merkle.verify_inclusion(leaves[m], m, n, proof, root)
        assert rfc9162_verify_inclusion(m, n, leaves[m], proof, root)
        assert recursive_inclusion_root(leaves[m], m, n, proof) == root
        # Another leaf's proof never proves this leaf (a forged inclusion claim).
        other = rng.randrange(n)
        if other != m:
            assert not merkle.verify_inclusion(leaves[m], m, n, merkle.inclusion_proof(other, leaves), root)
    for m in range(1, n + 1):
        old_root = rfc_mth(entries[:m])
        proof = merkle.consistency_proof(m, leaves)
        assert proof == rfc_proof(m, entries)
        assert merkle.verify_consistency(m, n, old_root, root, proof)
        if m < n:
            assert rfc9162_verify_consistency(m, n, old_root, root, proof)
            assert recursive_verify_consistency(m, n, old_root, root, proof)
            # A rewritten history: the same sizes over a different old tree never verify.
            forged = rfc_mth([b"forged", *entries[1:m]])
            assert not merkle.verify_consistency(m, n, forged, root, proof)
            assert not rfc9162_verify_consistency(m, n, forged, root, proof)


def _flip(proof: list[bytes], rng: random.Random) -> list[bytes]:
    bad = list(proof)
    i = rng.randrange(len(bad))
    j = rng.randrange(32)
    bad[i] = bad[i][:j] + bytes([bad[i][j] ^ (1 << rng.randrange(8))]) + bad[i][j + 1:]
    return bad


def test_random_bit_flips_never_verify() -> None:
    rng = random.Random(6962)
    for _ in range(300):
        n = rng.randrange(2, 70)
        entries = _entries(n)
        leaves = [merkle.leaf_hash(e) for e in entries]
        root = merkle.root(leaves)
        m = rng.randrange(n)
        bad = _flip(merkle.inclusion_proof(m, leaves), rng)
        assert not merkle.verify_inclusion(leaves[m], m, n, bad, root)
        assert not rfc9162_verify_inclusion(m, n, leaves[m], bad, root)
        old = rng.randrange(1, n)
        cbad = _flip(merkle.consistency_proof(old, leaves), rng)
        assert not merkle.verify_consistency(old, n, merkle.root(leaves[:old]), root, cbad)
        assert not rfc9162_verify_consistency(old, n, merkle.root(leaves[:old]), root, cbad)


def test_degenerate_sizes_fail_closed() -> None:
    """Empty logs and out-of-range indices never prove anything (we require old size >= 1)."""
    leaf = merkle.leaf_hash(b"x")
    assert not merkle.verify_inclusion(leaf, 0, 0, [], ROOTS[0])
    assert not merkle.verify_inclusion(leaf, 1, 1, [], leaf)
    assert not merkle.verify_inclusion(leaf, -1, 1, [], leaf)
    assert not merkle.verify_consistency(0, 1, ROOTS[0], leaf, [])
    assert not merkle.verify_consistency(2, 1, leaf, leaf, [])
    assert not merkle.verify_consistency(1, 1, leaf, SOME_HASH, [])
    assert not merkle.verify_consistency(1, 1, leaf, leaf, [leaf])
    with pytest.raises(ValueError):
        merkle.inclusion_proof(3, [leaf])
    with pytest.raises(ValueError):
        merkle.consistency_proof(0, [leaf])
