"""How a list of SM2 verifications is cut into crypto_mb calls: a pure function.

crypto_mb verifies 8 signatures per call (one per SIMD lane) and hashes Z and
SM3(Z || M) for all lanes in lock-step. Measured traps this plan avoids:

- lanes whose messages differ in SM3 block count can crash the process, so
  one call only carries items whose Z input (2 + ID + 192 bytes) and message
  input (32 + M bytes) need the same number of SM3 blocks;
- an empty message is refused (and an empty ID is a NULL-pointer case), so
  such items never enter a call: they go to the single-signature backend;
- a partial call is padded by repeating one of its own items (same block
  counts, no extra hashing shape); the padded lanes' verdicts are dropped;
- a call with fewer than ``min_batch`` real items costs more than verifying
  them one by one, so those items go to the single backend too.

Kept free of ctypes so it is tested on every machine, including those whose
CPU cannot run crypto_mb.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from trust._sm2_common import sm3_blocks

__all__ = ["LANES", "Batch", "BatchPlan", "plan_batches", "shape_key"]

LANES: Final = 8
_Z_FIXED: Final = 2 + 4 * 32 + 2 * 32  # ENTL, a, b, xG, yG, xA, yA around the ID


@dataclass(frozen=True, slots=True)
class Batch:
    """One crypto_mb call: ``lanes`` item indices (padded to LANES), ``real`` of them distinct."""

    lanes: tuple[int, ...]
    real: int


@dataclass(frozen=True, slots=True)
class BatchPlan:
    """Calls to make, plus the items to verify one at a time."""

    batches: tuple[Batch, ...]
    singles: tuple[int, ...]


def shape_key(uid_len: int, message_len: int) -> tuple[int, int] | None:
    """SM3 block counts of Z's input and of Z || M; None if the item must not be batched."""
    if uid_len <= 0 or message_len <= 0:
        return None
    return sm3_blocks(_Z_FIXED + uid_len), sm3_blocks(32 + message_len)


def plan_batches(
    shapes: Sequence[tuple[int, int] | None], *, lanes: int = LANES, min_batch: int = 2
) -> BatchPlan:
    """Group item indices by ``shapes[i]`` (from :func:`shape_key`) into padded calls.

    Every index appears exactly once among the real lanes of the batches and
    the singles; input order is kept within each group.
    """
    if lanes < 1 or not 1 <= min_batch <= lanes:
        raise ValueError("need lanes >= 1 and 1 <= min_batch <= lanes")
    groups: dict[tuple[int, int], list[int]] = {}
    singles: list[int] = []
    for index, shape in enumerate(shapes):
        if shape is None:
            singles.append(index)
        else:
            groups.setdefault(shape, []).append(index)
    batches: list[Batch] = []
    for members in groups.values():
        for start in range(0, len(members), lanes):
            chunk = members[start : start + lanes]
            if len(chunk) < min_batch:
                singles.extend(chunk)
                continue
            padded = tuple(chunk) + (chunk[0],) * (lanes - len(chunk))
            batches.append(Batch(padded, len(chunk)))
    return BatchPlan(tuple(batches), tuple(sorted(singles)))
