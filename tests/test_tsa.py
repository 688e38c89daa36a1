"""The built-in RFC 3161 TSA, checked by independent parsers and verifiers.

RSA tokens are verified by ``openssl ts``; SM2 tokens by asn1crypto parsing,
``cryptography``'s SM3 and gmssl's SM2 (none of them our code path).
"""

from __future__ import annotations

import asyncio
import hashlib
import http.server
import os
import shutil
import subprocess
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from asn1crypto import cms, core, tsp, x509
from cryptography.hazmat.primitives import hashes
from hypothesis import given, settings
from hypothesis import strategies as st
from pyhanko.sign.timestamps import TimeStamper

from signing.tsa import (
    BuiltinTSA,
    InProcessTimeStamper,
    TimestampConfigError,
    TimestampError,
    external_timestamper,
    response_status,
)
from tests.sign_certs import gmssl_verify, make_cert, pki, to_pem
from tests.support import require
from trust.keys import SoftwareKey

POLICY = "1.2.156.999.1.1"
FIXED = datetime(2026, 3, 1, 8, 30, 15, tzinfo=UTC)


def _tsa(alg: str, clock=lambda: FIXED) -> BuiltinTSA:
    p = pki(alg)
    return BuiltinTSA(p.tsa.key, p.tsa.chain, POLICY, clock)


def _request(data: bytes, md: str = "sha256", *, nonce: int | None = 0x1234_5678_9ABC, cert_req: bool = True, **extra) -> tsp.TimeStampReq:
    h = hashes.Hash(hashes.SM3() if md == "sm3" else getattr(hashes, md.upper())())
    h.update(data)
    fields = {
        "version": "v1",
        "message_imprint": {"hash_algorithm": {"algorithm": md}, "hashed_message": h.finalize()},
        "cert_req": cert_req,
        **extra,
    }
    if nonce is not None:
        fields["nonce"] = nonce
    return tsp.TimeStampReq(fields)


def _granted(resp_der: bytes) -> tuple[cms.SignedData, tsp.TSTInfo]:
    resp = tsp.TimeStampResp.load(resp_der)
    assert resp["status"]["status"].native == "granted"
    sd = resp["time_stamp_token"]["content"]
    return sd, sd["encap_content_info"]["content"].parsed


def _status(resp_der: bytes) -> tuple[str, set[str]]:
    status, _, fail_info = response_status(resp_der)
    return status, set(fail_info)


@pytest.fixture(scope="module")
def openssl() -> str:
    path = shutil.which("openssl")
    require(path is not None, "openssl CLI not installed")
    assert path is not None
    return path


# --- RSA: openssl is the judge -------------------------------------------------------


def test_openssl_parses_and_verifies_rsa_reply(tmp_path: Path, openssl: str) -> None:
    data = b"licence bytes to be time-stamped"
    (tmp_path / "data.bin").write_bytes(data)
    (tmp_path / "root.pem").write_text(to_pem(pki("rsa-2048").root.cert))
    (tmp_path / "resp.tsr").write_bytes(_tsa("rsa-2048").respond(_request(data).dump()))

    text = subprocess.run(
        [openssl, "ts", "-reply", "-in", tmp_path / "resp.tsr", "-text"],
        capture_output=True, text=True, check=True,
    ).stdout
    assert "Status: Granted." in text
    assert f"Policy OID: {POLICY}" in text
    assert "Nonce: 0x123456789ABC" in text
    assert "Time stamp: Mar  1 08:30:15 2026 GMT" in text

    ok = subprocess.run(
        [openssl, "ts", "-verify", "-data", tmp_path / "data.bin", "-in", tmp_path / "resp.tsr",
         "-CAfile", tmp_path / "root.pem"],
        capture_output=True, text=True,
    )
    assert ok.returncode == 0 and "Verification: OK" in ok.stdout, ok.stderr

    (tmp_path / "other.bin").write_bytes(data + b"!")
    bad = subprocess.run(
        [openssl, "ts", "-verify", "-data", tmp_path / "other.bin", "-in", tmp_path / "resp.tsr",
         "-CAfile", tmp_path / "root.pem"],
        capture_output=True, text=True,
    )
    assert bad.returncode != 0


def test_openssl_rejects_token_from_untrusted_tsa(tmp_path: Path, openssl: str) -> None:
    data = b"x"
    (tmp_path / "data.bin").write_bytes(data)
    (tmp_path / "root.pem").write_text(to_pem(pki("rsa-3072").root.cert))  # a different root
    (tmp_path / "resp.tsr").write_bytes(_tsa("rsa-2048").respond(_request(data).dump()))
    out = subprocess.run(
        [openssl, "ts", "-verify", "-data", tmp_path / "data.bin", "-in", tmp_path / "resp.tsr",
         "-CAfile", tmp_path / "root.pem"],
        capture_output=True, text=True,
    )
    assert out.returncode != 0


# --- SM2: asn1crypto + cryptography SM3 + gmssl ------------------------------------------


def test_sm2_token_verifies_with_gmssl() -> None:
    data = b"sm2 licence"
    sd, tst = _granted(_tsa("sm2").respond(_request(data, "sm3").dump()))
    signer = sd["signer_infos"][0]
    assert signer["digest_algorithm"]["algorithm"].native == "sm3"
    assert signer["signature_algorithm"]["algorithm"].dotted == "1.2.156.10197.1.501"
    h = hashes.Hash(hashes.SM3())
    h.update(data)
    assert tst["message_imprint"]["hashed_message"].native == h.finalize()

    attrs = {a["type"].native: a["values"][0] for a in signer["signed_attrs"]}
    assert attrs["content_type"].native == "tst_info"
    h = hashes.Hash(hashes.SM3())
    h.update(sd["encap_content_info"]["content"].contents)
    assert attrs["message_digest"].native == h.finalize()

    tsa_cert = pki("sm2").tsa.cert
    spki = x509.Certificate.load(tsa_cert).public_key.dump()
    signed = b"\x31" + signer["signed_attrs"].dump()[1:]  # signed as SET OF, not [0]
    assert gmssl_verify(spki, signed, signer["signature"].native)
    assert not gmssl_verify(spki, signed + b"\x00", signer["signature"].native)


@pytest.mark.parametrize("alg", ["rsa-2048", "sm2"])
def test_signing_certificate_v2_names_the_tsa_cert(alg: str) -> None:
    sd, _ = _granted(_tsa(alg).respond(_request(b"a").dump()))
    attrs = {a["type"].native: a["values"][0] for a in sd["signer_infos"][0]["signed_attrs"]}
    cert_id = attrs["signing_certificate_v2"]["certs"][0]
    assert cert_id["cert_hash"].native == hashlib.sha256(pki(alg).tsa.cert).digest()
    assert cert_id["issuer_serial"]["serial_number"].native == x509.Certificate.load(pki(alg).tsa.cert).serial_number
    embedded = {c.chosen.dump() for c in sd["certificates"]}
    assert embedded == set(pki(alg).tsa.chain)


def test_cert_req_false_omits_certificates() -> None:
    sd, _ = _granted(_tsa("rsa-2048").respond(_request(b"a", cert_req=False).dump()))
    assert sd["certificates"].native is None


# --- protocol behaviour -------------------------------------------------------------------


def test_nonce_echo_and_absent_nonce() -> None:
    tsa = _tsa("rsa-2048")
    _, tst = _granted(tsa.respond(_request(b"a", nonce=987654321).dump()))
    assert tst["nonce"].native == 987654321
    _, tst = _granted(tsa.respond(_request(b"a", nonce=None).dump()))
    assert tst["nonce"].native is None


def test_serials_unique_within_and_across_instances() -> None:
    a, b = _tsa("rsa-2048"), _tsa("rsa-2048")
    req = _request(b"a").dump()
    serials = [_granted(t.respond(req))[1]["serial_number"].native for t in (a, b) for _ in range(200)]
    assert len(set(serials)) == len(serials)
    assert all(0 < s < 2**159 for s in serials)  # positive, at most 20 octets (RFC 3161 2.4.2)


def test_gen_time_follows_the_clock_in_utc() -> None:
    shanghai = timezone(timedelta(hours=8))
    tsa = _tsa("rsa-2048", clock=lambda: datetime(2026, 3, 1, 16, 30, 15, 999_000, tzinfo=shanghai))
    _, tst = _granted(tsa.respond(_request(b"a").dump()))
    assert tst["gen_time"].native == datetime(2026, 3, 1, 8, 30, 15, tzinfo=UTC)
    assert tst["accuracy"]["seconds"].native == 1
    assert tst["policy"].native == POLICY


def test_naive_clock_is_refused() -> None:
    tsa = _tsa("rsa-2048", clock=lambda: datetime(2026, 3, 1, 8, 0))
    with pytest.raises(TimestampError):
        tsa.respond(_request(b"a").dump())


@pytest.mark.parametrize(
    ("request_der", "fail"),
    [
        (_request(b"a", "sha1").dump(), "bad_alg"),
        (_request(b"a", req_policy="1.2.3.999").dump(), "unaccepted_policy"),
        (b"", "bad_data_format"),
        (b"\x30\x03\x02\x01", "bad_data_format"),
        (b"\xff" * 100, "bad_data_format"),
        (b"\x30\x84\xff\xff\xff\xff", "bad_data_format"),
        (b"\x30" + b"\x00" * 20_000, "bad_data_format"),
    ],
)
def test_bad_requests_get_rejections(request_der: bytes, fail: str) -> None:
    status, fail_info = _status(_tsa("rsa-2048").respond(request_der))
    assert status == "rejection"
    assert fail in fail_info


def test_wrong_imprint_length_rejected() -> None:
    req = tsp.TimeStampReq(
        {"version": "v1", "message_imprint": {"hash_algorithm": {"algorithm": "sha256"}, "hashed_message": b"\x00" * 20}}
    )
    assert _status(_tsa("rsa-2048").respond(req.dump())) == ("rejection", {"bad_data_format"})


def test_request_extensions_rejected() -> None:
    req = _request(b"a", extensions=[{"extn_id": "1.2.3.4", "critical": False, "extn_value": core.OctetString(b"x").dump()}])
    assert _status(_tsa("rsa-2048").respond(req.dump())) == ("rejection", {"unaccepted_extensions"})


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=600))
def test_fuzzed_requests_always_get_a_response(data: bytes) -> None:
    assert _status(_FUZZ_TSA.respond(data))[0] in {"granted", "rejection"}


@settings(max_examples=150, deadline=None)
@given(st.integers(min_value=0, max_value=200), st.integers(min_value=0, max_value=255))
def test_mutated_valid_requests_always_get_a_response(pos: int, byte: int) -> None:
    der = bytearray(_request(b"seed").dump())
    der[pos % len(der)] = byte
    assert _status(_FUZZ_TSA.respond(bytes(der)))[0] in {"granted", "rejection"}


_FUZZ_TSA = _tsa("rsa-2048")


# --- configuration ------------------------------------------------------------------------


def test_key_certificate_mismatch_refused() -> None:
    p = pki("rsa-2048")
    with pytest.raises(TimestampConfigError):
        BuiltinTSA(SoftwareKey.generate("rsa-2048"), p.tsa.chain, POLICY, lambda: FIXED)


def test_certificate_without_timestamping_eku_refused() -> None:
    p = pki("rsa-2048")
    with pytest.raises(TimestampConfigError):
        BuiltinTSA(p.signer.key, p.signer.chain, POLICY, lambda: FIXED)


def test_extra_eku_refused() -> None:
    p = pki("sm2")
    key = SoftwareKey.generate("sm2")
    cert = make_cert("Too broad", key, p.root, ca=False, eku=["time_stamping", "code_signing"])
    with pytest.raises(TimestampConfigError):
        BuiltinTSA(key, [cert, p.root.cert], POLICY, lambda: FIXED)


@pytest.mark.parametrize("chain", [[], [b"not a certificate"]])
def test_bad_chain_refused(chain: list[bytes]) -> None:
    with pytest.raises(TimestampConfigError):
        BuiltinTSA(pki("sm2").tsa.key, chain, POLICY, lambda: FIXED)


def test_bad_policy_refused() -> None:
    p = pki("sm2")
    with pytest.raises(TimestampConfigError):
        BuiltinTSA(p.tsa.key, p.tsa.chain, "not-an-oid", lambda: FIXED)


# --- clients --------------------------------------------------------------------------------


def test_in_process_timestamper_embeds_nonce_and_imprint() -> None:
    ts = InProcessTimeStamper(_tsa("sm2"))
    digest = os.urandom(32)
    token = asyncio.run(ts.async_timestamp(digest, "sm3"))
    tst = token["content"]["encap_content_info"]["content"].parsed
    assert tst["message_imprint"]["hashed_message"].native == digest
    assert tst["nonce"].native is not None


@pytest.mark.parametrize("md", ["sm3", "sha256", "sha512"])
def test_direct_token_matches_a_requested_one(md: str) -> None:
    """token_for (the in-process path) gives what a request through pyHanko's client gets."""
    tsa = _tsa("sm2")
    digest = os.urandom(hashlib.new("sha512" if md == "sha512" else "sha256").digest_size)
    _nonce, requested = TimeStamper().request_cms(digest, md)  # pyHanko builds the request
    via_request = tsp.TimeStampResp.load(tsa.stamp(requested))["time_stamp_token"]
    direct = cms.ContentInfo.load(tsa.token_for(md, digest))
    one, two = (t["content"]["encap_content_info"]["content"].parsed for t in (via_request, direct))
    assert one["message_imprint"].dump() == two["message_imprint"].dump()
    assert one["policy"].native == two["policy"].native == POLICY
    assert two["nonce"].native is not None
    for field in ("version", "accuracy", "tsa", "gen_time"):
        assert one[field].native == two[field].native, field
    assert len(direct["content"]["certificates"]) == len(via_request["content"]["certificates"])


@pytest.mark.parametrize(("md", "size"), [("sha1", 20), ("md5", 16), ("sm3", 31), ("sha256", 33)])
def test_direct_token_refuses_what_a_request_would(md: str, size: int) -> None:
    with pytest.raises(TimestampError):
        _tsa("sm2").token_for(md, b"\x01" * size)


def test_in_process_timestamper_maps_refusal() -> None:
    ts = InProcessTimeStamper(_tsa("sm2"))
    with pytest.raises(TimestampError):
        asyncio.run(ts.async_timestamp(b"\x00" * 20, "sha1"))


@pytest.fixture
def tsa_server() -> Iterator[str]:
    tsa = _tsa("rsa-2048")

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            reply = tsa.respond(body)
            self.send_response(200)
            self.send_header("Content-Type", "application/timestamp-reply")
            self.send_header("Content-Length", str(len(reply)))
            self.end_headers()
            self.wfile.write(reply)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/tsa"
    finally:
        server.shutdown()
        server.server_close()


def test_external_timestamper_over_http(tsa_server: str) -> None:
    ts = external_timestamper(tsa_server, https_only=False)
    digest = hashlib.sha256(b"over the wire").digest()
    token = asyncio.run(ts.async_timestamp(digest, "sha256"))
    tst = token["content"]["encap_content_info"]["content"].parsed
    assert tst["message_imprint"]["hashed_message"].native == digest


def test_external_timestamper_maps_rejection(tsa_server: str) -> None:
    ts = external_timestamper(tsa_server, https_only=False)
    with pytest.raises(TimestampError):
        asyncio.run(ts.async_timestamp(b"\x00" * 20, "sha1"))


@pytest.mark.parametrize("url", ["http://tsa.example/", "ftp://tsa.example/", "tsa.example"])
def test_external_timestamper_url_policy(url: str) -> None:
    with pytest.raises(TimestampConfigError):
        external_timestamper(url)
