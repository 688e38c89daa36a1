"""trust.pki: certificate parsing, chain building and validation (ops/s, one thread)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from trust.keys import SoftwareKey
from trust.pki import (
    Certificate,
    ChainValidator,
    _deterministic,
    build_demo_pki,
    chain,
    parse_cached,
    validate_chain,
)

NOW = datetime(2026, 6, 1, tzinfo=UTC)


@pytest.fixture(scope="module")
def pki():
    return build_demo_pki(b"bench", NOW)


def test_parse_sm2_certificate(benchmark, pki) -> None:
    der = pki.certificate("sm2-issuer").der
    benchmark(Certificate.from_der, der)


def test_parse_cached(benchmark, pki) -> None:
    der = pki.certificate("sm2-issuer").der
    benchmark(parse_cached, der)


def _issuing_ca(pki, role: str):
    """Department certificates chain through their family's issuing CA (key roles)."""
    return [pki.certificate(role.split("-")[0] + "-issuing-ca")]


@pytest.mark.parametrize("role", ["sm2-issuer", "rsa-issuer"])
def test_validate_cold(benchmark, pki, role) -> None:
    leaf = pki.certificate(role)
    validator = ChainValidator(pki.trust_anchors)
    intermediates = _issuing_ca(pki, role)

    def run():
        chain._shared_cache._results.clear()
        return validator.validate(leaf, intermediates, at=NOW)

    assert benchmark(run).ok


@pytest.mark.parametrize("role", ["sm2-issuer", "rsa-issuer"])
def test_validate_warm(benchmark, pki, role) -> None:
    leaf = pki.certificate(role)
    validator = ChainValidator(pki.trust_anchors)
    assert benchmark(validator.validate, leaf, _issuing_ca(pki, role), at=NOW).ok


def test_validate_chain_function_warm(benchmark, pki) -> None:
    leaf = pki.certificate("sm2-seal-maker")
    assert benchmark(validate_chain, leaf, [], pki.trust_anchors, NOW).ok


def test_build_demo_pki_cold(benchmark) -> None:
    counter = iter(range(10**6))

    def run():
        _deterministic.derive_rsa_key.cache_clear()
        return build_demo_pki(b"cold-%d" % next(counter), NOW)

    benchmark.pedantic(run, rounds=5, iterations=1)


def test_issue_90_department_certs(benchmark, pki) -> None:
    keys = [SoftwareKey.generate("sm2") for _ in range(90)]
    from trust.pki.names import uscc_check_char

    def run():
        for i, key in enumerate(keys):
            body = f"11330100MB{i:07d}"
            pki.issue_department_cert("sm2-root", f"部门{i}", body + uscc_check_char(body), key)

    benchmark.pedantic(run, rounds=3, iterations=1)
