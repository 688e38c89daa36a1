"""The QR conformance suite (tests/vectors/qr/*.json), stage by stage.

Each case states the expected outcome of every stage (picture decode,
unprefix, Base45, COSE, claims) and the final indication; the stored
stages must also be consistent with each other, and every SM2 token that
should verify is re-verified with gmssl, an independent implementation.
"""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
from datetime import datetime
from pathlib import Path
from typing import Any

import cbor2
import pytest
from gmssl import sm2 as gm

from tests.support import require
from trust import sm2
from trust.errors import SealTrustError
from trust.qrimage import read_qr
from trust.status import LicenceStatus, StatusList
from trust.token import base45
from trust.token.certs import CertFacts
from trust.token.claims import Claims
from trust.token.codec import unprefix
from trust.token.cose import ALG_ES256, ALG_SM2_SM3, decode_sign1
from trust.token.online import InMemoryLiveStatus, InMemoryReplayCache
from trust.token.verify import verify_token
from trust.trustlist import TrustList

VECTORS = sorted((Path(__file__).parent / "vectors" / "qr").glob("*.json"))


def _load(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text())
    return data


def _stage(fn: Any, *args: Any) -> tuple[bool, Any]:
    try:
        return True, fn(*args)
    except SealTrustError:
        return False, None


def test_suite_is_complete() -> None:
    names = {p.stem for p in VECTORS}
    required = {
        "broken_image",
        "wrong_prefix",
        "bad_base45",
        "der_signature",
        "overlong_signature",
        "wrong_algorithm",
        "kid_7_bytes",
        "kid_9_bytes",
        "clock_before_iat",
        "clock_after_exp",
        "replayed_jti",
        "revoked_licence",
        "stale_status_list",
        "tampered_payload",
        "unknown_issuer",
        "valid_presentation_sm2",
        "valid_document_sm2",
    }
    assert required <= names


@pytest.mark.parametrize("path", VECTORS, ids=[p.stem for p in VECTORS])
def test_stages(path: Path) -> None:
    case = _load(path)
    expected = case["expected"]
    picture_ok, text = _stage(read_qr, base64.b64decode(case["png_base64"]))
    assert picture_ok == expected["picture_decode"]
    if picture_ok:
        assert text == case["prefixed"]
    got: dict[str, bool] = {}
    got["unprefix"], body = _stage(unprefix, case["prefixed"])
    got["base45_decode"], blob = _stage(base45.decode, body) if body is not None else (False, None)
    if blob is not None:
        assert blob.hex() == case["cose_hex"]
    got["cose_decode"], envelope = _stage(decode_sign1, blob) if blob else (False, None)
    if envelope is not None:
        assert envelope.payload.hex() == case["cbor_hex"]
    got["claims_decode"], claims = (
        _stage(Claims.from_cbor, envelope.payload) if envelope else (False, None)
    )
    if claims is not None and case["payload"] is not None:
        assert claims.to_dict() == case["payload"]
    for stage, value in got.items():
        assert value == expected[stage], stage


@pytest.mark.parametrize("path", VECTORS, ids=[p.stem for p in VECTORS])
def test_outcome(path: Path) -> None:
    case = _load(path)
    ctx = case["context"]
    anchor = base64.b64decode(ctx["trust_list_anchor"])
    trust_list = TrustList.verify(base64.b64decode(ctx["trust_list"]), [anchor])
    status_list = StatusList.verify(base64.b64decode(ctx["status_list"]), trust_list)
    now = datetime.fromisoformat(ctx["validation_clock"])
    online: dict[str, Any] = {}
    if ctx["online"] is not None:
        payload = case["payload"]
        live = InMemoryLiveStatus()
        live.set(payload["issuer"], payload["licence_id"], LicenceStatus[ctx["online"]["live"]])
        cache = InMemoryReplayCache()
        for jti in ctx["online"]["seen"]:
            assert cache.first_use(
                payload["issuer"],
                bytes.fromhex(jti),
                datetime.fromisoformat(payload["expires_at"]),
                now,
            )
        online = {"live_status": live, "replay_cache": cache}
    result = verify_token(
        case["prefixed"],
        trust_list=trust_list,
        now=now,
        status_lists={status_list.list_id: status_list},
        **online,
    )
    assert (result.indication.value, getattr(result.sub_indication, "value", None)) == (
        case["expected"]["indication"],
        case["expected"]["sub_indication"],
    ), result.checks
    assert (result.claims is not None) == any(
        c.name == "signature" and c.passed for c in result.checks
    )
    json.dumps(result.to_dict(), ensure_ascii=False)


PASSING = [p for p in VECTORS if _load(p)["expected"]["indication"] == "TOTAL_PASSED"]


@pytest.mark.parametrize("path", PASSING, ids=[p.stem for p in PASSING])
def test_independent_implementations_agree(path: Path, tmp_path: Path) -> None:
    """SM2 tokens re-verified by gmssl, ES256 tokens by the openssl CLI."""
    case = _load(path)
    envelope = decode_sign1(bytes.fromhex(case["cose_hex"]))
    spki = CertFacts.from_der(base64.b64decode(case["context"]["signer_certificate"])).spki
    # Sig_structure written out by hand (RFC 9052 §4.4), not through trust.token.cose.
    tbs = cbor2.dumps(["Signature1", envelope.protected, b"", envelope.payload])
    sig = envelope.signature
    if envelope.alg == ALG_SM2_SM3:
        crypt = gm.CryptSM2(private_key="", public_key="")
        crypt.public_key = sm2.PublicKey.from_der(spki).point[1:].hex()
        assert crypt.verify_with_sm3(sig.hex(), tbs)
        assert not crypt.verify_with_sm3(sig.hex(), tbs + b"x")
        return
    assert envelope.alg == ALG_ES256
    require(shutil.which("openssl") is not None, "openssl CLI not installed")
    (tmp_path / "pub.der").write_bytes(spki)
    (tmp_path / "tbs").write_bytes(tbs)
    (tmp_path / "sig").write_bytes(sm2.raw_to_der(sig))  # same DER SEQUENCE{r, s} shape
    run = subprocess.run(
        [
            "openssl",
            "dgst",
            "-sha256",
            "-keyform",
            "DER",
            "-verify",
            str(tmp_path / "pub.der"),
            "-signature",
            str(tmp_path / "sig"),
            str(tmp_path / "tbs"),
        ],
        capture_output=True,
        check=False,
    )
    assert run.returncode == 0, run.stderr
