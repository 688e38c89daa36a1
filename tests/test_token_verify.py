"""Issuing and validating tokens: size budget, offline and online rules, hostile text."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.vectors.qr import testpki
from tests.vectors.qr.testpki import CLOCK, ISSUER, LICENCE_TYPE
from tests.work_budget import calls_made
from trust.errors import SealTrustError
from trust.indications import Indication, SubIndication
from trust.keys import SoftwareKey
from trust.qrimage import qr_version
from trust.status import LicenceStatus, StatusList
from trust.token import (
    PREFIX,
    Claims,
    Grant,
    InMemoryLiveStatus,
    InMemoryReplayCache,
    TokenFormatError,
    TokenKind,
    VerifierPolicy,
    encode_token,
    mask_id_number,
    mask_name,
    new_jti,
    verify_token,
)
from trust.token import certs as certs_module
from trust.trustlist import Role, TrustEntry, TrustList


@pytest.fixture(scope="module")
def pki() -> testpki.Pki:
    return testpki.build()


@pytest.fixture(scope="module")
def lists(pki: testpki.Pki) -> tuple[TrustList, dict[str, StatusList]]:
    status = pki.status_list(revoked=(9,))
    return pki.trust_list(), {status.list_id: status}


def claims(kind: TokenKind = TokenKind.PRESENTATION, **kw: object) -> Claims:
    fields: dict[str, object] = {
        "kind": kind,
        "issuer": ISSUER,
        "licence_id": "BL-310000-2026-000123-K",
        "licence_type": LICENCE_TYPE,
        "holder_name": mask_name("欧阳小明"),
        "holder_id_last4": mask_id_number("11010519491231002X"),
        "valid_from": date(2026, 1, 1),
        "valid_until": date(2046, 1, 1),
        "issued_at": CLOCK,
        "expires_at": CLOCK + timedelta(seconds=60),
        "jti": new_jti(),
        "status_list": "SH-2026-0",
        "status_index": 123,
    }
    fields.update(kw)
    return Claims(**fields)  # type: ignore[arg-type]


def test_presentation_token_fits_the_size_budget(pki: testpki.Pki) -> None:
    """At most 350 characters and QR version <= 13 at level M, with generous fields."""
    worst = claims(
        licence_id="BL-310000-2026-00012345678-K",
        licence_type="food-business",
        status_list="SH-2026-0001",
        status_index=(1 << 24) - 1,
        holder_name=mask_name("爱新觉罗溥仪"),
    )
    text = encode_token(worst, pki.token_signer.key, pki.token_signer.cert)
    assert text.startswith(PREFIX)
    assert len(text) <= 350, len(text)
    assert qr_version(text, "M") <= 13


def test_grant_token_still_fits_version_13(pki: testpki.Pki) -> None:
    """A grant adds ~60 bytes: over the 350-character budget, still QR version <= 13 at M."""
    grant = Grant(
        "GOV-HALL-07", ("holder_name", "address"), CLOCK + timedelta(minutes=10), new_jti()
    )
    text = encode_token(claims(grant=grant), pki.token_signer.key, pki.token_signer.cert)
    assert len(text) <= 420, len(text)
    assert qr_version(text, "M") <= 13


def test_policy_bounds_are_typed_errors() -> None:
    with pytest.raises(SealTrustError):
        VerifierPolicy(clock_skew=timedelta(hours=1))
    with pytest.raises(SealTrustError):
        VerifierPolicy(max_status_list_age=timedelta(0))


def test_valid_offline(pki: testpki.Pki, lists: tuple[TrustList, dict[str, StatusList]]) -> None:
    text = encode_token(claims(), pki.token_signer.key, pki.token_signer.cert)
    result = verify_token(text, trust_list=lists[0], status_lists=lists[1], now=CLOCK)
    assert result.indication is Indication.TOTAL_PASSED, result.checks
    assert result.claims is not None and result.claims.holder_name == "欧**明"
    assert result.status_list_age == timedelta(hours=2)
    assert result.to_dict()["trust_list_age_s"] == 3600


@pytest.mark.parametrize("zone", [UTC, timezone(timedelta(hours=8)), timezone(timedelta(hours=-5))])
def test_licence_days_are_china_days_whatever_zone_now_is_in(
    pki: testpki.Pki, lists: tuple[TrustList, dict[str, StatusList]], zone: timezone
) -> None:
    """A licence valid until 1 June is good until 16:00 UTC that day (midnight in China)."""
    text = encode_token(claims(valid_until=date(2026, 6, 1)), pki.token_signer.key,
                        pki.token_signer.cert)
    last = datetime(2026, 6, 1, 15, 59, 59, 999_999, tzinfo=UTC)

    def validity(now: datetime) -> Indication:
        result = verify_token(text, trust_list=lists[0], status_lists=lists[1],
                              now=now.astimezone(zone))
        return next(c for c in result.checks if c.name == "licence.validity").indication

    assert validity(last) is Indication.TOTAL_PASSED
    assert validity(last + timedelta(microseconds=1)) is Indication.TOTAL_FAILED


def test_revoked_index(pki: testpki.Pki, lists: tuple[TrustList, dict[str, StatusList]]) -> None:
    text = encode_token(claims(status_index=9), pki.token_signer.key, pki.token_signer.cert)
    result = verify_token(text, trust_list=lists[0], status_lists=lists[1], now=CLOCK)
    assert (result.indication, result.sub_indication) == (
        Indication.TOTAL_FAILED,
        SubIndication.REVOKED,
    )


def test_stale_lists_are_reported_with_their_age(
    pki: testpki.Pki, lists: tuple[TrustList, dict[str, StatusList]]
) -> None:
    text = encode_token(
        claims(
            issued_at=CLOCK + timedelta(days=2), expires_at=CLOCK + timedelta(days=2, seconds=60)
        ),
        pki.token_signer.key,
        pki.token_signer.cert,
    )
    result = verify_token(
        text, trust_list=lists[0], status_lists=lists[1], now=CLOCK + timedelta(days=2)
    )
    assert result.indication is Indication.INDETERMINATE
    assert result.sub_indication is SubIndication.TRY_LATER
    stale = next(c for c in result.checks if c.name == "status.list")
    assert "2 days, 2:00:00 old" in stale.detail
    assert result.status_list_age == timedelta(days=2, hours=2)
    loose = VerifierPolicy(max_status_list_age=timedelta(days=3))
    again = verify_token(
        text,
        trust_list=lists[0],
        status_lists=lists[1],
        now=CLOCK + timedelta(days=2),
        policy=loose,
    )
    # next_update (one day) has passed as well: still refused.
    assert again.indication is Indication.INDETERMINATE


def test_online_replay_and_live_status(
    pki: testpki.Pki, lists: tuple[TrustList, dict[str, StatusList]]
) -> None:
    c = claims()
    text = encode_token(c, pki.token_signer.key, pki.token_signer.cert)
    live, cache = InMemoryLiveStatus(), InMemoryReplayCache()
    # Unknown to the registry: INDETERMINATE, and the jti is not spent.
    first = verify_token(text, trust_list=lists[0], now=CLOCK, live_status=live, replay_cache=cache)
    assert first.sub_indication is SubIndication.TRY_LATER and len(cache) == 0
    live.set(ISSUER, c.licence_id, LicenceStatus.VALID)
    ok = verify_token(text, trust_list=lists[0], now=CLOCK, live_status=live, replay_cache=cache)
    assert ok.passed and ok.online
    again = verify_token(
        text,
        trust_list=lists[0],
        now=CLOCK + timedelta(seconds=5),
        live_status=live,
        replay_cache=cache,
    )
    assert again.sub_indication is SubIndication.SIG_CONSTRAINTS_FAILURE


def test_document_code_is_not_single_use(
    pki: testpki.Pki, lists: tuple[TrustList, dict[str, StatusList]]
) -> None:
    c = claims(TokenKind.DOCUMENT, expires_at=CLOCK + timedelta(days=3650))
    text = encode_token(c, pki.token_signer.key, pki.token_signer.cert)
    live = InMemoryLiveStatus({(ISSUER, c.licence_id): LicenceStatus.VALID})
    cache = InMemoryReplayCache()
    for _ in range(3):
        assert verify_token(
            text, trust_list=lists[0], now=CLOCK, live_status=live, replay_cache=cache
        ).passed


def test_signer_certificate_must_match_key(pki: testpki.Pki) -> None:
    with pytest.raises(TokenFormatError):
        encode_token(claims(), pki.status_signer.key, pki.token_signer.cert)


def test_naive_now_is_refused(
    pki: testpki.Pki, lists: tuple[TrustList, dict[str, StatusList]]
) -> None:
    text = encode_token(claims(), pki.token_signer.key, pki.token_signer.cert)
    with pytest.raises(SealTrustError):
        verify_token(text, trust_list=lists[0], now=datetime(2026, 6, 1, 2, 0))


def test_rsa_signer_for_foreign_verifiers(pki: testpki.Pki) -> None:
    rsa = SoftwareKey.generate("rsa-2048")
    cert = testpki.certificate(
        "RSA token signer", rsa, issuer_cn="Demo SH Issuer CA", issuer_key=pki.ca.key
    )
    base = pki.trust_list()
    trust_list = TrustList(
        8,
        base.issued_at,
        base.next_update,
        (*base.entries, TrustEntry(ISSUER, "CN-31", Role.TOKEN_SIGNER, ("*",), cert)),
    )
    text = encode_token(claims(), rsa, cert)
    live = InMemoryLiveStatus({(ISSUER, "BL-310000-2026-000123-K"): LicenceStatus.VALID})
    assert verify_token(text, trust_list=trust_list, now=CLOCK, live_status=live).passed


def test_every_certificate_sharing_a_kid_is_tried(
    pki: testpki.Pki, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Kids are truncated hashes: simulate a collision by making every kid equal."""
    monkeypatch.setattr(certs_module, "kid_of", lambda der: b"\x00" * 8)
    other = SoftwareKey.generate("sm2")
    other_cert = testpki.certificate(
        "Colliding signer", other, issuer_cn="Demo SH Issuer CA", issuer_key=pki.ca.key
    )
    base = pki.trust_list()
    entries = [e for e in base.entries if e.role is Role.ISSUER_CA]
    colliding = TrustList(
        9,
        base.issued_at,
        base.next_update,
        (
            *entries,
            TrustEntry(ISSUER, "CN-31", Role.TOKEN_SIGNER, ("*",), other_cert),
            TrustEntry(ISSUER, "CN-31", Role.TOKEN_SIGNER, ("*",), pki.token_signer.cert),
        ),
    )
    assert len(colliding.candidates(b"\x00" * 8, Role.TOKEN_SIGNER)) == 2
    monkeypatch.setattr("trust.token.codec.kid_of", lambda der: b"\x00" * 8)
    text = encode_token(claims(), pki.token_signer.key, pki.token_signer.cert)
    live = InMemoryLiveStatus({(ISSUER, "BL-310000-2026-000123-K"): LicenceStatus.VALID})
    result = verify_token(text, trust_list=colliding, now=CLOCK, live_status=live)
    assert result.passed, result.checks
    assert "Token Signer 1" in (result.signer or "")


@settings(max_examples=200, deadline=None)
@given(
    st.text(max_size=400)
    | st.text(alphabet="0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:", max_size=400).map(
        lambda t: PREFIX + t
    )
)
def test_fuzz_any_text_is_a_format_failure(text: str) -> None:
    trust_list = _FUZZ_PKI.trust_list()
    result = verify_token(text, trust_list=trust_list, now=CLOCK)
    assert result.indication is not Indication.TOTAL_PASSED
    assert result.claims is None or result.sub_indication is not None


_FUZZ_PKI = testpki.build()


def test_huge_text_is_refused_before_decoding(
    lists: tuple[TrustList, dict[str, StatusList]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Bounded work, not seconds: a 10 MB text costs a few hundred calls and never reaches Base45."""
    from trust.token import base45

    def refuse_decoding(_text: str) -> bytes:
        raise AssertionError("the oversized text reached the Base45 decoder")

    monkeypatch.setattr(base45, "decode", refuse_decoding)
    result, calls = calls_made(verify_token, PREFIX + "A" * 10_000_000, trust_list=lists[0], now=CLOCK)
    assert result.sub_indication is SubIndication.FORMAT_FAILURE
    assert "exceeds" in result.checks[0].detail
    assert calls < 2_000, calls


def test_result_is_frozen(pki: testpki.Pki, lists: tuple[TrustList, dict[str, StatusList]]) -> None:
    text = encode_token(claims(), pki.token_signer.key, pki.token_signer.cert)
    result = verify_token(text, trust_list=lists[0], status_lists=lists[1], now=CLOCK)
    with pytest.raises(AttributeError):
        result.indication = Indication.TOTAL_FAILED  # type: ignore[misc]
    assert replace(result, online=True).online


def test_token_for_another_issuers_licence_fails(
    pki: testpki.Pki, lists: tuple[TrustList, dict[str, StatusList]]
) -> None:
    """Issue 12: a genuine signer of ISSUER vouching for a licence id issued by another
    authority (status read from the wrong issuer's list) is TOTAL_FAILED, not PASSED."""
    from trust.licence_id import format_licence_id

    foreign = format_licence_id("BL", "11330100002482077H", 42, date(2026, 1, 15))
    text = encode_token(claims(licence_id=foreign), pki.token_signer.key, pki.token_signer.cert)
    result = verify_token(text, trust_list=lists[0], status_lists=lists[1], now=CLOCK)
    assert result.indication is Indication.TOTAL_FAILED, result.checks
    assert result.sub_indication is SubIndication.SIG_CONSTRAINTS_FAILURE
    (check,) = [c for c in result.checks if c.name == "licence.issuer"]
    assert "11330100002482077H" in check.detail and ISSUER in check.detail
    broken = encode_token(claims(licence_id=foreign[:-1] + "Z" if foreign[-1] != "Z"
                                 else foreign[:-1] + "Y"),
                          pki.token_signer.key, pki.token_signer.cert)
    bad = verify_token(broken, trust_list=lists[0], status_lists=lists[1], now=CLOCK)
    assert bad.indication is Indication.TOTAL_FAILED
