"""GB/T 38540 seal operations: make, sign, parse, verify, draw (ops/s, one thread)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.seal_certs import DOCUMENT, T0, CaChain, Kit, make_kit
from trust.seal import parse_seal_signature, render_seal_png, verify_seal, verify_seal_signature
from trust.sm3 import sm3


@pytest.fixture(scope="module", params=["sm2", "rsa-2048"])
def kit(request: pytest.FixtureRequest) -> Kit:
    return make_kit(request.param, signer_algorithm=request.param)


def test_make_seal(benchmark: Any, kit: Kit) -> None:
    benchmark(kit.seal)


def test_sign_with_seal(benchmark: Any, kit: Kit) -> None:
    seal = kit.seal()
    benchmark(lambda: kit.signature(seal))


def test_parse_seal_signature(benchmark: Any, kit: Kit) -> None:
    sig = kit.signature(kit.seal())
    benchmark(lambda: parse_seal_signature(sig))


def test_verify_seal(benchmark: Any, kit: Kit) -> None:
    seal, chain = kit.seal(), CaChain(kit.maker)
    assert benchmark(lambda: verify_seal(seal, T0, chain_validator=chain)).passed


def test_verify_seal_signature(benchmark: Any, kit: Kit) -> None:
    sig, chain, digest = kit.signature(kit.seal()), CaChain(kit.maker), sm3(DOCUMENT)
    result = benchmark(
        lambda: verify_seal_signature(sig, T0, data_hash=digest, chain_validator=chain)
    )
    assert result.passed


@pytest.mark.parametrize("size", [200, 400])
def test_render_seal_png(benchmark: Any, size: int) -> None:
    benchmark(lambda: render_seal_png("北京市朝阳区市场监督管理局", caption="电子证照专用章",
                                      esid="1101050012345", size_px=size))
