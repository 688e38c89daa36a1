"""Chain validation: the positive paths and one test per way a chain can be wrong."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from trust.errors import InputError
from trust.indications import Indication, SubIndication
from trust.keys import SoftwareKey
from trust.pki import (
    EKU_SEAL_MAKING,
    ISSUING_CA,
    ROOT_CA,
    SEAL_MAKER,
    SIGNER,
    TSA,
    Certificate,
    ChainResult,
    ChainValidator,
    NaiveDatetimeError,
    Profile,
    RevocationStatus,
    SubjectName,
    issue_certificate,
    validate_chain,
)

T0 = datetime(2026, 1, 1, tzinfo=UTC)
T1 = T0 + timedelta(days=3650)
AT = T0 + timedelta(days=100)
Pair = tuple[Certificate, SoftwareKey]
Triple = tuple[Pair, Pair, Pair]
CA_LINK = replace(ISSUING_CA, path_len=None)  # a CA that may have CAs below it


def make(
    name: str,
    profile: Profile,
    *,
    issuer: tuple[Certificate, SoftwareKey] | None = None,
    alg: str = "sm2",
    key: SoftwareKey | None = None,
    not_before: datetime = T0,
    not_after: datetime = T1,
) -> tuple[Certificate, SoftwareKey]:
    """Issue anything, valid or not (issuer constraints are deliberately not enforced)."""
    key = key or SoftwareKey.generate(alg)
    cert = issue_certificate(
        issuer_key=issuer[1] if issuer else key,
        issuer=issuer[0] if issuer else None,
        subject=SubjectName(name, organization="链测试"),
        subject_spki=key.public_key_der(),
        profile=profile,
        not_before=not_before,
        not_after=not_after,
        enforce_issuer_constraints=False,
    )
    return cert, key


@pytest.fixture(scope="module")
def sm2() -> Triple:
    root = make("SM2 Root", ROOT_CA)
    ca = make("SM2 CA", ISSUING_CA, issuer=root)
    leaf = make("SM2 Signer", SIGNER, issuer=ca)
    return root, ca, leaf


@pytest.fixture(scope="module")
def rsa() -> Triple:
    root = make("RSA Root", ROOT_CA, alg="rsa-2048")
    ca = make("RSA CA", ISSUING_CA, issuer=root, alg="rsa-2048")
    leaf = make("RSA Signer", SIGNER, issuer=ca, alg="rsa-2048")
    return root, ca, leaf


def _fail(result: ChainResult, failure: str, indication: Indication, sub: SubIndication) -> None:
    assert not result.ok, result.message
    assert (result.failure, result.indication, result.sub_indication) == (failure, indication, sub)
    assert result.message


# --- positives ---------------------------------------------------------------------------


@pytest.mark.parametrize("chain", ["sm2", "rsa"])
def test_valid_chain(chain: str, request: pytest.FixtureRequest) -> None:
    root, ca, leaf = request.getfixturevalue(chain)
    result = validate_chain(leaf[0], [ca[0]], [root[0]], AT)
    assert result.ok and result.indication is Indication.TOTAL_PASSED
    assert result.path == (leaf[0], ca[0], root[0])
    assert result.sub_indication is None and result.failure is None
    assert not result.revocation_checked
    assert result.to_check().passed
    report = json.loads(json.dumps(result.to_dict()))
    assert [p["sha256"] for p in report["path"]] == [c.sha256.hex() for c in result.path]


def test_mixed_algorithms() -> None:
    root = make("Mixed Root", ROOT_CA)
    ca = make("Mixed RSA CA", ISSUING_CA, issuer=root, alg="rsa-2048")
    leaf = make("Mixed ECDSA leaf", SIGNER, issuer=ca, alg="ecdsa-p256")
    assert validate_chain(leaf[0], [ca[0]], [root[0]], AT).ok


def test_validity_bounds_are_inclusive_and_timezones_compare(sm2: Triple) -> None:
    root, ca, leaf = sm2
    assert validate_chain(leaf[0], [ca[0]], [root[0]], T1).ok
    assert validate_chain(leaf[0], [ca[0]], [root[0]], T0).ok
    beijing = timezone(timedelta(hours=8))
    assert validate_chain(leaf[0], [ca[0]], [root[0]], T0.astimezone(beijing)).ok
    late = validate_chain(leaf[0], [ca[0]], [root[0]], T1 + timedelta(seconds=1))
    assert late.failure == "chain.expired"


def test_intermediate_order_and_duplicates_do_not_matter(sm2: Triple) -> None:
    root, ca, leaf = sm2
    result = validate_chain(leaf[0], [root[0], ca[0], ca[0], leaf[0]], [root[0]], AT)
    assert result.ok and result.path == (leaf[0], ca[0], root[0])


def test_validator_is_reusable(sm2: Triple, rsa: Triple) -> None:
    validator = ChainValidator([sm2[0][0], rsa[0][0]])
    for _root, ca, leaf in (sm2, rsa):
        assert validator.validate(leaf[0], [ca[0]], at=AT).ok
    assert validator.trust_anchors == (sm2[0][0], rsa[0][0])


def test_renewed_ca_is_found_when_the_old_one_expired(sm2: Triple) -> None:
    root = sm2[0]
    old_ca = make("Renewed CA", ISSUING_CA, issuer=root, not_after=T0 + timedelta(days=50))
    new_ca = make("Renewed CA", ISSUING_CA, issuer=root, key=old_ca[1])
    leaf = make("Under renewed", SIGNER, issuer=old_ca)
    result = validate_chain(leaf[0], [old_ca[0], new_ca[0]], [root[0]], AT)
    assert result.ok and result.path[1] == new_ca[0]


# --- time --------------------------------------------------------------------------------


def test_expired_leaf(sm2: Triple) -> None:
    root, ca, _ = sm2
    leaf = make("Expired", SIGNER, issuer=ca, not_after=AT - timedelta(days=1))
    result = validate_chain(leaf[0], [ca[0]], [root[0]], AT)
    _fail(result, "chain.expired", Indication.INDETERMINATE, SubIndication.OUT_OF_BOUNDS_NO_POE)
    assert result.path[0] == leaf[0]


def test_expired_intermediate(sm2: Triple) -> None:
    root, _, _ = sm2
    ca = make("Short CA", ISSUING_CA, issuer=root, not_after=AT - timedelta(days=1))
    leaf = make("Leaf", SIGNER, issuer=ca)
    result = validate_chain(leaf[0], [ca[0]], [root[0]], AT)
    _fail(result, "chain.expired", Indication.INDETERMINATE, SubIndication.OUT_OF_BOUNDS_NO_POE)
    assert "Short CA" in result.message


def test_not_yet_valid(sm2: Triple) -> None:
    root, ca, _ = sm2
    leaf = make("Future", SIGNER, issuer=ca, not_before=AT + timedelta(seconds=1))
    result = validate_chain(leaf[0], [ca[0]], [root[0]], AT)
    _fail(result, "chain.not_yet_valid", Indication.TOTAL_FAILED, SubIndication.NOT_YET_VALID)


def test_bad_max_path_length(sm2: Triple) -> None:
    with pytest.raises(InputError):
        ChainValidator([sm2[0][0]], max_path_length=0)


def test_naive_datetime_rejected(sm2: Triple) -> None:
    root, ca, leaf = sm2
    with pytest.raises(NaiveDatetimeError):
        validate_chain(leaf[0], [ca[0]], [root[0]], datetime(2026, 3, 1))
    with pytest.raises(NaiveDatetimeError):
        ChainValidator([root[0]]).validate(leaf[0], at="2026-03-01")  # type: ignore[arg-type]


# --- signatures --------------------------------------------------------------------------


def test_wrong_issuer_key(sm2: Triple) -> None:
    """A CA with the real CA's name but another key signed the leaf: a forgery."""
    root, ca, _ = sm2
    twin = make("SM2 CA", ISSUING_CA)  # same subject name, self-issued, other key
    forged = make("Forged", SIGNER, issuer=twin)
    result = validate_chain(forged[0], [ca[0]], [root[0]], AT)
    _fail(
        result, "chain.signature_invalid", Indication.TOTAL_FAILED, SubIndication.SIG_CRYPTO_FAILURE
    )


def test_tampered_signature(rsa: Triple) -> None:
    root, ca, leaf = rsa
    der = leaf[0].der
    tampered = Certificate.from_der(der[:-1] + bytes([der[-1] ^ 0x01]))
    result = validate_chain(tampered, [ca[0]], [root[0]], AT)
    _fail(
        result, "chain.signature_invalid", Indication.TOTAL_FAILED, SubIndication.SIG_CRYPTO_FAILURE
    )


def test_cached_success_does_not_leak_to_an_impostor_anchor(sm2: Triple) -> None:
    root, ca, leaf = sm2
    assert validate_chain(leaf[0], [ca[0]], [root[0]], AT).ok
    impostor = make("SM2 Root", ROOT_CA)  # same name, other key
    result = validate_chain(leaf[0], [ca[0]], [impostor[0]], AT)
    assert result.failure == "chain.signature_invalid"


def test_good_issuer_is_found_among_impostors(sm2: Triple) -> None:
    root, ca, leaf = sm2
    twins = [make("SM2 CA", ISSUING_CA, issuer=root)[0] for _ in range(3)]
    assert validate_chain(leaf[0], [*twins, ca[0]], [root[0]], AT).ok


# --- chain constraints -------------------------------------------------------------------


def test_missing_intermediate(sm2: Triple) -> None:
    root, _, leaf = sm2
    result = validate_chain(leaf[0], [], [root[0]], AT)
    _fail(
        result,
        "chain.not_found",
        Indication.INDETERMINATE,
        SubIndication.NO_CERTIFICATE_CHAIN_FOUND,
    )
    assert result.path == (leaf[0],)


def test_unrelated_anchor(sm2: Triple, rsa: Triple) -> None:
    _, ca, leaf = sm2
    result = validate_chain(leaf[0], [ca[0]], [rsa[0][0]], AT)
    assert result.failure == "chain.not_found"


def test_ca_without_key_cert_sign(sm2: Triple) -> None:
    root, _, _ = sm2
    ca = make("CRL-only CA", replace(ISSUING_CA, key_usage=frozenset({"crl_sign"})), issuer=root)
    leaf = make("Leaf", SIGNER, issuer=ca)
    result = validate_chain(leaf[0], [ca[0]], [root[0]], AT)
    _fail(
        result,
        "chain.no_key_cert_sign",
        Indication.INDETERMINATE,
        SubIndication.CHAIN_CONSTRAINTS_FAILURE,
    )


def test_leaf_used_as_issuer(sm2: Triple) -> None:
    root, ca, leaf = sm2
    grandchild = make("Issued by a signer", SIGNER, issuer=leaf)
    result = validate_chain(grandchild[0], [leaf[0], ca[0]], [root[0]], AT)
    _fail(result, "chain.not_ca", Indication.INDETERMINATE, SubIndication.CHAIN_CONSTRAINTS_FAILURE)


def test_path_len_exceeded(sm2: Triple) -> None:
    root, _, _ = sm2
    ca0 = make("pathLen0 CA", ISSUING_CA, issuer=root)
    sub = make("Sub CA", ISSUING_CA, issuer=ca0)
    leaf = make("Deep leaf", SIGNER, issuer=sub)
    result = validate_chain(leaf[0], [ca0[0], sub[0]], [root[0]], AT)
    _fail(
        result,
        "chain.path_length",
        Indication.INDETERMINATE,
        SubIndication.CHAIN_CONSTRAINTS_FAILURE,
    )
    assert "pathLen0 CA" in result.message


def test_root_path_len_counts_intermediates() -> None:
    strict_root = make("Strict Root", replace(ROOT_CA, path_len=0))
    ca = make("CA", ISSUING_CA, issuer=strict_root)
    leaf = make("Leaf", SIGNER, issuer=ca)
    assert validate_chain(leaf[0], [ca[0]], [strict_root[0]], AT).failure == "chain.path_length"
    direct = make("Direct leaf", SIGNER, issuer=strict_root)
    assert validate_chain(direct[0], [], [strict_root[0]], AT).ok
    loose_root = make("Loose Root", replace(ROOT_CA, path_len=1))
    ca2 = make("CA2", ISSUING_CA, issuer=loose_root)
    leaf2 = make("Leaf2", SIGNER, issuer=ca2)
    assert validate_chain(leaf2[0], [ca2[0]], [loose_root[0]], AT).ok


def test_loop_terminates() -> None:
    b_root = make("Loop B", CA_LINK)
    a = make("Loop A", CA_LINK, issuer=b_root)  # A issued by B
    b = make("Loop B", CA_LINK, issuer=a, key=b_root[1])  # B issued by A
    leaf = make("Loop leaf", SIGNER, issuer=a)
    anchor = make("Elsewhere", ROOT_CA)
    result = validate_chain(leaf[0], [a[0], b[0]], [anchor[0]], AT)
    _fail(result, "chain.loop", Indication.INDETERMINATE, SubIndication.NO_CERTIFICATE_CHAIN_FOUND)


def test_over_long_path() -> None:
    chain = [make("Long Root", ROOT_CA)]
    for i in range(6):
        chain.append(make(f"Long CA {i}", CA_LINK, issuer=chain[-1]))
    leaf = make("Long leaf", SIGNER, issuer=chain[-1])
    pool = [c for c, _ in chain[1:]]
    assert validate_chain(leaf[0], pool, [chain[0][0]], AT).ok  # 8 certificates: the default
    result = validate_chain(leaf[0], pool, [chain[0][0]], AT, max_path_length=5)
    _fail(
        result, "chain.too_long", Indication.INDETERMINATE, SubIndication.CHAIN_CONSTRAINTS_FAILURE
    )


def test_hostile_bag_of_same_named_issuers_is_bounded(sm2: Triple) -> None:
    root, _, _ = sm2
    bait = [make("Bait CA", CA_LINK, issuer=root) for _ in range(12)]
    # Twelve CAs share the leaf's issuer name; none holds the key that signed it.
    leaf = make("Bait leaf", SIGNER, issuer=make("Bait CA", CA_LINK))
    result = validate_chain(leaf[0], [c for c, _ in bait], [root[0]], AT)
    assert not result.ok
    assert result.failure == "chain.signature_invalid"


def test_unhandled_critical_extension_fails() -> None:
    """A trust anchor used directly as the leaf: no signature check, only the path checks."""
    from tests.test_pki_parse import _mutate, _raw_extension

    root = make(
        "Critical Root",
        replace(ROOT_CA, key_usage=frozenset({"digital_signature", "key_cert_sign"})),
    )

    def add_critical(tree: Any) -> None:
        exts = list(tree["tbs_certificate"]["extensions"])
        tree["tbs_certificate"]["extensions"] = type(tree["tbs_certificate"]["extensions"])(
            [*exts, _raw_extension("1.2.3.4.5", True, b"\x05\x00")]
        )

    odd = Certificate.from_der(_mutate(root[0].der, add_critical))
    assert validate_chain(root[0], [], [root[0]], AT).ok
    result = validate_chain(odd, [], [odd], AT)
    _fail(
        result,
        "chain.critical_extension",
        Indication.INDETERMINATE,
        SubIndication.CHAIN_CONSTRAINTS_FAILURE,
    )


# --- leaf usage --------------------------------------------------------------------------


def test_wrong_key_usage(sm2: Triple) -> None:
    root, ca, _ = sm2
    enc_only = make(
        "Encryption", replace(SIGNER, key_usage=frozenset({"key_encipherment"})), issuer=ca
    )
    result = validate_chain(enc_only[0], [ca[0]], [root[0]], AT)
    _fail(
        result, "chain.key_usage", Indication.INDETERMINATE, SubIndication.CHAIN_CONSTRAINTS_FAILURE
    )
    tsa = make("TSA", TSA, issuer=ca)
    assert validate_chain(tsa[0], [ca[0]], [root[0]], AT).ok
    no_nr = validate_chain(
        tsa[0], [ca[0]], [root[0]], AT, required_key_usage=frozenset({"non_repudiation"})
    )
    assert no_nr.failure == "chain.key_usage"


def test_wrong_or_missing_eku(sm2: Triple) -> None:
    root, ca, signer = sm2
    maker = make("Seal maker", SEAL_MAKER, issuer=ca)
    assert validate_chain(maker[0], [ca[0]], [root[0]], AT, required_eku=EKU_SEAL_MAKING).ok
    result = validate_chain(signer[0], [ca[0]], [root[0]], AT, required_eku=EKU_SEAL_MAKING)
    _fail(
        result,
        "chain.ext_key_usage",
        Indication.INDETERMINATE,
        SubIndication.CHAIN_CONSTRAINTS_FAILURE,
    )
    no_eku = make("No EKU", replace(SIGNER, ext_key_usage=()), issuer=ca)
    assert no_eku[0].ext_key_usage is None
    missing = validate_chain(no_eku[0], [ca[0]], [root[0]], AT, required_eku=EKU_SEAL_MAKING)
    assert missing.failure == "chain.ext_key_usage"
    any_eku = make("Any EKU", replace(SIGNER, ext_key_usage=("2.5.29.37.0",)), issuer=ca)
    assert validate_chain(any_eku[0], [ca[0]], [root[0]], AT, required_eku=EKU_SEAL_MAKING).ok


# --- revocation hook ---------------------------------------------------------------------


class _Status:
    def __init__(self, answers: dict[bytes, RevocationStatus]) -> None:
        self.answers = answers
        self.asked: list[tuple[str, str]] = []

    def status(self, cert: Certificate, issuer: Certificate, at: datetime) -> RevocationStatus:
        assert at.tzinfo is not None
        self.asked.append((cert.subject_text, issuer.subject_text))
        return self.answers.get(cert.sha256, RevocationStatus.GOOD)


def test_revocation_hook(sm2: Triple) -> None:
    root, ca, leaf = sm2
    good = _Status({})
    result = validate_chain(leaf[0], [ca[0]], [root[0]], AT, revocation=good)
    assert result.ok and result.revocation_checked
    assert good.asked == [
        (leaf[0].subject_text, ca[0].subject_text),
        (ca[0].subject_text, root[0].subject_text),
    ]

    revoked = validate_chain(
        leaf[0],
        [ca[0]],
        [root[0]],
        AT,
        revocation=_Status({leaf[0].sha256: RevocationStatus.REVOKED}),
    )
    _fail(revoked, "chain.revoked", Indication.INDETERMINATE, SubIndication.REVOKED_NO_POE)

    ca_revoked = validate_chain(
        leaf[0],
        [ca[0]],
        [root[0]],
        AT,
        revocation=_Status({ca[0].sha256: RevocationStatus.REVOKED}),
    )
    _fail(ca_revoked, "chain.ca_revoked", Indication.INDETERMINATE, SubIndication.REVOKED_CA_NO_POE)

    unknown = validate_chain(
        leaf[0],
        [ca[0]],
        [root[0]],
        AT,
        revocation=_Status({leaf[0].sha256: RevocationStatus.UNKNOWN}),
    )
    _fail(unknown, "chain.revocation_unknown", Indication.INDETERMINATE, SubIndication.TRY_LATER)
