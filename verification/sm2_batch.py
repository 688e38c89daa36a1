"""The SM2 verifications of a chunk of files through one ``trust.sm2.verify_many`` call.

The bulk engine gathers the (key, message, signature) triples of a chunk before
the facts are built (:func:`verified_together`); inside the block,
:func:`verify` answers exactly those triples from the batch and everything else
-- other algorithms, keys ``verify_signature`` refuses, inputs not gathered --
from :func:`trust.keys.verify_signature` as before. With crypto_mb
(``sealtrust[fast-batch]``, AVX-512 IFMA) the batch runs 8 signatures per call;
elsewhere ``verify_many`` loops over the single-signature backend, with the same
verdicts either way (``trust.sm2.verify_many``'s contract, and
tests/test_verify_bulk_batched.py over the licence and attack corpora).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Final

from trust import sm2
from trust.keys import sm2_verification_key, verify_signature

__all__ = ["SignatureInput", "verified_together", "verify"]

# (SubjectPublicKeyInfo DER, signature algorithm OID, message, signature value)
SignatureInput = tuple[bytes, str, bytes, bytes]
_Key = tuple[bytes, bytes, bytes]  # spki, message, signature (the OID only selects SM2)
# The batch, by the identity of the message object, is the input it holds and its verdict.
# A licence's message (its signed attributes, ~15 KB with the seal picture) is the same
# object when gathered and when its facts ask for the verdict: keyed by id() and checked
# by ``is``, it is never hashed (a 15 KB hash costs ~7 µs); the input held keeps the
# object alive, so its id cannot be reused by another object while the batch exists.
_Batch = dict[int, tuple[_Key, bool]]

_batch: Final[ContextVar[_Batch | None]] = ContextVar("sm2_batch", default=None)


def verify(spki: bytes, signature_oid: str, message: bytes, signature: bytes) -> bool:
    """:func:`trust.keys.verify_signature`, answered from the current batch when the
    batch holds this exact SM2 input (same key, message and signature bytes)."""
    batch = _batch.get()
    if batch is not None:
        entry = batch.get(id(message))
        # Threat: a verdict handed to another input. Only the very message object that
        # was verified, with equal key and signature bytes, takes the batch's verdict;
        # anything else (an equal copy included) is verified on its own below.
        if entry is not None:
            (held_spki, held_message, held_signature), verdict = entry
            if (held_message is message and held_spki == spki and held_signature == signature
                    and sm2_verification_key(spki, signature_oid) is not None):
                return verdict
    return verify_signature(spki, signature_oid, message, signature)


@contextmanager
def verified_together(inputs: Iterable[SignatureInput]) -> Iterator[int]:
    """Verify the SM2 inputs at once; inside the block :func:`verify` answers them.

    Inputs ``verify_signature`` would not verify as SM2 are left out (they are
    decided one at a time, with its errors). Yields how many went into the batch.
    """
    keys: list[_Key] = []
    items: list[sm2.VerifyItem] = []
    seen: set[int] = set()  # message objects (a second input with one is decided alone)
    for spki, oid, message, signature in inputs:
        key = sm2_verification_key(spki, oid)
        if key is None or id(message) in seen:
            continue
        seen.add(id(message))
        keys.append((spki, message, signature))
        items.append((key, message, signature))
    verdicts = sm2.verify_many(items) if items else []
    token = _batch.set({id(k[1]): (k, v) for k, v in zip(keys, verdicts, strict=True)})
    try:
        yield len(items)
    finally:
        _batch.reset(token)
