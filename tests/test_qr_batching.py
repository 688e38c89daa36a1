"""QR checks of concurrent requests with their SM2 verifications batched (api.sm2_batcher):
the same verdicts as one at a time, and a verdict only ever stands for its own key."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import httpx
from hypothesis import given, settings
from hypothesis import strategies as st

from api.sm2_batcher import SignatureBatcher
from tests.api_support import Api
from tests.test_qr_service import deployment, issue_licence, present
from trust import keys, sm2
from trust.registry.lifecycle import LicenceStatus, change_status
from trust.token import base45
from trust.token.codec import PREFIX
from trust.token.cose import decode_sign1, sign1, sm2_verify_item, verify_sign1
from verification.qr import PendingCheck, QrVerifier

SM2_KEY = keys.SoftwareKey.generate("sm2")
OTHER_KEY = keys.SoftwareKey.generate("sm2")
P256_KEY = keys.SoftwareKey.generate("ecdsa-p256")
KID = b"\x01" * 8


def _tampered(token: str) -> str:
    """The same token with the last byte of its signature changed."""
    raw = bytearray(base45.decode(token[len(PREFIX):]))
    raw[-1] ^= 0x01
    return PREFIX + base45.encode(bytes(raw))


def _verdict(body: dict[str, Any]) -> tuple[Any, ...]:
    return (body["indication"], body["sub_indication"],
            tuple((c["name"], c["passed"], c["sub_indication"]) for c in body["checks"]))


def test_concurrent_checks_batched_give_the_verdicts_of_one_at_a_time(api: Api) -> None:
    ids = [issue_licence(api, 700 + i)[0] for i in range(4)]
    tokens = [present(api, licence_id)["token"] for licence_id in ids]
    dep = deployment(api)
    try:
        with dep.registry.session() as s:
            change_status(s, ids[3], LicenceStatus.REVOKED, reason="test",
                          at=datetime.now(UTC), actor="test")
            s.commit()
    finally:
        dep.close()
    texts = [*tokens, *(_tampered(t) for t in tokens), "LZ1:not a token"]
    state = api.client.app.state  # type: ignore[attr-defined]
    sizes: list[int] = []

    def spy(items: Sequence[sm2.VerifyItem]) -> list[bool]:
        sizes.append(len(items))
        return sm2.verify_many(items)

    def one_at_a_time(offline: bool) -> list[tuple[Any, ...]]:
        state.sm2_batcher = None
        suffix = "?offline=true" if offline else ""
        return [_verdict(api.client.post("/v1/qr/verify" + suffix, json={"token": t}).json())
                for t in texts]

    async def together(offline: bool) -> list[tuple[Any, ...]]:
        state.sm2_batcher = SignatureBatcher(verify_many=spy)
        suffix = "?offline=true" if offline else ""
        transport = httpx.ASGITransport(app=api.client.app)  # type: ignore[arg-type]
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            answers = await asyncio.gather(*(client.post("/v1/qr/verify" + suffix,
                                                         json={"token": t}) for t in texts))
        return [_verdict(a.json()) for a in answers]

    try:
        for offline in (True, False):
            api.client.post("/v1/qr/verify?offline=true", json={"token": tokens[0]})  # warm lists
            expected = one_at_a_time(offline)
            assert [v[0] for v in expected] == (["TOTAL_PASSED"] * 3 + ["TOTAL_FAILED"] * 6)
            sizes.clear()
            assert asyncio.run(together(offline)) == expected
            assert sum(sizes) == 8 and max(sizes) > 1, sizes  # batched, one item per signature
    finally:
        state.sm2_batcher = None


def test_a_verdict_only_stands_for_the_key_it_was_computed_for(api: Api) -> None:
    licence_id = issue_licence(api, 720)[0]
    text = present(api, licence_id)["token"]
    dep = deployment(api)
    verifier = QrVerifier(dep.registry)
    now = datetime.now(UTC)
    verifier.trust_list(now)
    pending = verifier.pending(text, now, online=False)
    assert isinstance(pending, PendingCheck)
    items = pending.items()
    assert len(items) == 1
    spki = next(iter(items))
    forged = verifier.pending(_tampered(text), now, online=False)
    assert isinstance(forged, PendingCheck)
    # A True for some other key does not make a forged signature verify ...
    other = verifier.finish(forged, {b"another key": True}, now, online=False)
    assert other.indication.value == "TOTAL_FAILED"
    # ... and the verdict handed back for this token's own key is the one used.
    assert verifier.finish(pending, {spki: True}, now, online=False).passed
    refused = verifier.finish(pending, {spki: False}, now, online=False)
    dep.close()
    assert refused.sub_indication is not None
    assert refused.sub_indication.value == "SIG_CRYPTO_FAILURE"


@settings(max_examples=150, deadline=None)
@given(r=st.sampled_from([0, 1, sm2.N - 1, sm2.N, sm2.N + 1, 2**256 - 1])
       | st.integers(0, 2**256 - 1),
       s=st.sampled_from([0, 1, sm2.N - 1, sm2.N]) | st.integers(0, 2**256 - 1),
       which=st.sampled_from(["good", "r", "s", "short", "other", "p256"]))
def test_the_batch_item_verdict_is_verify_sign1s(r: int, s: int, which: str) -> None:
    envelope = decode_sign1(sign1(b"claims", SM2_KEY, kid=KID))
    sig = envelope.signature
    if which == "r":
        sig = r.to_bytes(32, "big") + sig[32:]
    elif which == "s":
        sig = sig[:32] + s.to_bytes(32, "big")
    elif which == "short":
        sig = sig[:63]
    message = dataclasses.replace(envelope, signature=sig)
    spki = {"other": OTHER_KEY, "p256": P256_KEY}.get(which, SM2_KEY).public_key_der()
    item = sm2_verify_item(message, spki)
    batched = sm2.verify_many([item])[0] if item is not None else None
    direct = verify_sign1(message, spki)
    assert (batched if item is not None else direct) == direct
    if which == "good":
        assert item is not None and batched is True
