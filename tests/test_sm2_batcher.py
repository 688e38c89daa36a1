"""api.sm2_batcher: concurrent requests' SM2 checks gathered into one verify_many call."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from api.sm2_batcher import SignatureBatcher, batching_wanted
from trust import sm2
from trust.errors import CryptoError

KEY = sm2.PrivateKey.generate()
PUB = KEY.public_key()
OTHER = sm2.PrivateKey.generate().public_key()


def _items(n: int) -> list[sm2.VerifyItem]:
    """Valid, corrupted and wrong-key items in a fixed pattern."""
    out: list[sm2.VerifyItem] = []
    for i in range(n):
        message = f"token {i}".encode()
        signature = KEY.sign(message)
        if i % 3 == 1:
            message += b"!"
        out.append((OTHER if i % 3 == 2 else PUB, message, signature))
    return out


def _expected(items: Sequence[sm2.VerifyItem]) -> list[bool]:
    return [key.verify(message, signature) for key, message, signature, *_ in items]


def test_requests_of_one_loop_turn_are_verified_in_one_call_with_their_own_verdicts() -> None:
    items = _items(21)
    batcher = SignatureBatcher()

    async def run() -> list[list[bool]]:
        return list(await asyncio.gather(*(batcher.verify([item]) for item in items)))

    verdicts = [v[0] for v in asyncio.run(run())]
    assert verdicts == _expected(items) and verdicts.count(True) == 7
    assert batcher.batches == 1 and batcher.largest == 21


def test_a_full_batch_is_flushed_at_once_and_a_lone_request_is_not_held() -> None:
    items = _items(10)
    batcher = SignatureBatcher(max_batch=4)
    sizes: list[int] = []

    def spy(batch: Sequence[sm2.VerifyItem]) -> list[bool]:
        sizes.append(len(batch))
        return sm2.verify_many(batch)

    batcher = SignatureBatcher(max_batch=4, verify_many=spy)

    async def run() -> list[list[bool]]:
        return list(await asyncio.gather(*(batcher.verify([item]) for item in items)))

    assert [v[0] for v in asyncio.run(run())] == _expected(items)
    assert sizes == [4, 4, 2]

    async def lone() -> tuple[list[bool], int]:
        loop = asyncio.get_running_loop()
        turns = 0

        def tick() -> None:
            nonlocal turns
            turns += 1
            loop.call_soon(tick)

        loop.call_soon(tick)
        verdict = await batcher.verify(items[:1])
        return verdict, turns

    verdict, turns = asyncio.run(lone())
    assert verdict == [True] and turns <= 3  # flushed in the next turn, no timer


def test_a_backend_error_fails_every_waiting_request_closed() -> None:
    def broken(batch: Sequence[sm2.VerifyItem]) -> list[bool]:
        raise CryptoError("backend down")

    def short(batch: Sequence[sm2.VerifyItem]) -> list[bool]:
        return [True] * (len(batch) - 1)  # a verdict missing: none may be trusted

    for verify_many in (broken, short):
        batcher = SignatureBatcher(verify_many=verify_many)

        async def run(b: SignatureBatcher = batcher) -> list[object]:
            return list(await asyncio.gather(*(b.verify([item]) for item in _items(3)),
                                             return_exceptions=True))

        outcomes = asyncio.run(run())
        assert all(isinstance(o, Exception) for o in outcomes), outcomes


def test_a_cancelled_request_leaves_the_others_their_verdicts() -> None:
    items = _items(6)
    batcher = SignatureBatcher()

    async def run() -> list[object]:
        tasks = [asyncio.ensure_future(batcher.verify([item])) for item in items]
        await asyncio.sleep(0)  # each has queued its item
        tasks[0].cancel()
        return list(await asyncio.gather(*tasks, return_exceptions=True))

    outcomes = asyncio.run(run())
    assert isinstance(outcomes[0], asyncio.CancelledError)
    assert [o[0] for o in outcomes[1:]] == _expected(items[1:])  # type: ignore[index]


def test_batching_is_on_only_where_it_pays_or_when_forced(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SEALTRUST_QR_BATCH", "on")
    assert batching_wanted()
    monkeypatch.setenv("SEALTRUST_QR_BATCH", "off")
    assert not batching_wanted()
    monkeypatch.delenv("SEALTRUST_QR_BATCH")
    assert batching_wanted() == (sm2.batch_backend_name() is not None)
    with pytest.raises(ValueError):
        SignatureBatcher(max_wait_s=0.5)  # a wait beyond the bound is refused
