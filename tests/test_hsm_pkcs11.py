"""PKCS#11 adapter on a real SoftHSM2 token initialised in a temporary directory.

Every signature is checked with ``cryptography``; key attributes are read back
through python-pkcs11 directly, independently of the adapter.
"""

from __future__ import annotations

import datetime as dt
import threading
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import NameOID

from hsm_adapters import (
    DeviceError,
    ExtractableKeyError,
    KeyExistsError,
    KeyNotFoundError,
    KeyStoreRegistry,
    KeyStoreUnavailableError,
    LiteralPin,
    PinError,
    UnsupportedOperationError,
)
from hsm_adapters.pkcs11 import Pkcs11Config, Pkcs11KeyStore
from tests.sdf import harness
from tests.support import require
from trust.keys import SoftwareKey

pytestmark = pytest.mark.pkcs11
PIN = LiteralPin(harness.USER_PIN)
TOKEN = f"pkcs11:token={harness.TOKEN_LABEL}"


@pytest.fixture(scope="session")
def softhsm(tmp_path_factory: pytest.TempPathFactory) -> Path:
    require(harness.have_softhsm(), "SoftHSM2 (Debian package softhsm2)")
    return harness.init_softhsm(tmp_path_factory.mktemp("softhsm"))


@pytest.fixture
def store(softhsm: Path) -> Any:
    with Pkcs11KeyStore(Pkcs11Config(pool_size=2)) as s:
        yield s


def _raw_session(login: bool = True) -> Any:
    """A python-pkcs11 session outside the adapter (login=False while the adapter is logged in)."""
    import pkcs11

    token = pkcs11.lib(harness.SOFTHSM_MODULE).get_token(token_label=harness.TOKEN_LABEL)
    return token.open(rw=True, user_pin=harness.USER_PIN if login else None)


def _verify(spki: bytes, algorithm: str, message: bytes, signature: bytes) -> None:
    public = serialization.load_der_public_key(spki)
    if algorithm.startswith("rsa"):
        assert isinstance(public, rsa.RSAPublicKey)
        public.verify(signature, message, padding.PKCS1v15(), hashes.SHA256())
    else:
        assert isinstance(public, ec.EllipticCurvePublicKey)
        public.verify(signature, message, ec.ECDSA(hashes.SHA256()))


@pytest.mark.parametrize("algorithm", ["rsa-2048", "ecdsa-p256"])
def test_generated_keys_are_non_extractable_and_sign(store: Any, algorithm: str) -> None:
    import pkcs11
    from pkcs11 import Attribute, ObjectClass

    uri = f"{TOKEN};object=gen-{algorithm}"
    key = store.generate(uri, algorithm, PIN)
    assert key.algorithm == algorithm
    for n in range(5):
        message = b"licence %d" % n
        _verify(key.public_key_der(), algorithm, message, key.sign(message))
    with pytest.raises(Exception):  # noqa: B017 - any wrong message must fail verification
        _verify(key.public_key_der(), algorithm, b"other", key.sign(b"licence 0"))
    assert key.health().up
    key.close()
    with _raw_session() as session:
        private = session.get_key(object_class=ObjectClass.PRIVATE_KEY, label=f"gen-{algorithm}")
        assert private[Attribute.SENSITIVE] is True
        assert private[Attribute.EXTRACTABLE] is False
        secret = Attribute.PRIVATE_EXPONENT if algorithm.startswith("rsa") else Attribute.VALUE
        with pytest.raises(pkcs11.exceptions.AttributeSensitive):
            private[secret]


def test_extractable_key_is_refused(store: Any) -> None:
    from pkcs11 import Attribute, KeyType

    with _raw_session() as session:
        session.generate_keypair(KeyType.RSA, 2048, label="leaky", id=b"leaky", store=True,
                                 private_template={Attribute.SENSITIVE: False,
                                                   Attribute.EXTRACTABLE: True})
    with pytest.raises(ExtractableKeyError) as info:
        store.open_key(f"{TOKEN};object=leaky", PIN)
    assert info.value.uri == f"{TOKEN};object=leaky"


def test_faults_are_typed_and_name_the_uri(store: Any, tmp_path: Path) -> None:
    store.generate(f"{TOKEN};object=fault", "ecdsa-p256", PIN).close()
    with pytest.raises(PinError) as wrong:
        store.open_key(f"{TOKEN};object=fault", LiteralPin("0000-wrong"))
    assert wrong.value.vendor_name == "CKR_PIN_INCORRECT"
    assert wrong.value.vendor_code == 0xA0
    assert "0000-wrong" not in str(wrong.value)
    with pytest.raises(KeyStoreUnavailableError, match="token not present"):
        store.open_key("pkcs11:token=NoSuchToken;object=x", PIN)
    with pytest.raises(KeyStoreUnavailableError, match="module not found"):
        store.open_key(f"{TOKEN};object=x?module-path={tmp_path}/absent.so", PIN)
    (tmp_path / "not-a-module.so").write_bytes(b"\x7fELF junk")
    with pytest.raises(KeyStoreUnavailableError, match="cannot load PKCS#11 module"):
        store.open_key(f"{TOKEN};object=x?module-path={tmp_path}/not-a-module.so", PIN)
    with pytest.raises(KeyNotFoundError):
        store.open_key(f"{TOKEN};object=absent", PIN)
    with pytest.raises(KeyExistsError):
        store.generate(f"{TOKEN};object=fault", "ecdsa-p256", PIN)
    with pytest.raises(UnsupportedOperationError):
        store.generate(f"{TOKEN};object=sm2", "sm2", PIN)


def test_device_error_mid_batch_then_health_down(store: Any) -> None:
    from pkcs11 import ObjectClass

    key = store.generate(f"{TOKEN};object=vanishing", "ecdsa-p256", PIN)
    for n in range(4):  # every pooled session has resolved the key handle
        assert key.sign(b"%d" % n)
    with _raw_session(login=False) as session:  # the key disappears from the device mid-batch
        session.get_key(object_class=ObjectClass.PRIVATE_KEY, label="vanishing").destroy()
    with pytest.raises(DeviceError) as info:
        key.sign(b"two")
    assert info.value.vendor_name is not None and info.value.vendor_name.startswith("CKR_")
    assert info.value.uri == key.uri
    assert not key.health().up
    key.close()


def _certificate(spki: bytes, issuer_key: ec.EllipticCurvePrivateKey, cn: str) -> bytes:
    public = serialization.load_der_public_key(spki)
    now = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)]))
            .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Test CA")]))
            .public_key(public).serial_number(x509.random_serial_number())  # type: ignore[arg-type]
            .not_valid_before(now).not_valid_after(now + dt.timedelta(days=30))
            .sign(issuer_key, hashes.SHA256()))
    return cert.public_bytes(serialization.Encoding.DER)


def test_import_and_certificate_chain_on_token(softhsm: Path, tmp_path: Path) -> None:
    software = SoftwareKey.generate("ecdsa-p256")
    ca = ec.generate_private_key(ec.SECP256R1())
    ca_spki = ca.public_key().public_bytes(serialization.Encoding.DER,
                                           serialization.PublicFormat.SubjectPublicKeyInfo)
    with KeyStoreRegistry(base_dir=tmp_path, entry_points=False) as stores:
        uri = f"{TOKEN};object=imported;id=%AA%01"
        key = stores.import_key(uri, software, PIN)
        assert key.public_key_der() == software.public_key_der()
        _verify(key.public_key_der(), "ecdsa-p256", b"m", key.sign(b"m"))
        key.close()
        chain = [_certificate(software.public_key_der(), ca, "seal"),
                 _certificate(ca_spki, ca, "Test CA")]
        stores.set_certificate_chain(uri, chain, PIN)
        with stores.open_key(uri, PIN) as reopened:
            assert reopened.certificate_chain() == chain
        listed = {info.uri.split(";id=")[0]: info for info in stores.list_keys(TOKEN, PIN)}
        assert listed[f"{TOKEN};object=imported"].has_certificate
        assert listed[f"{TOKEN};object=imported"].algorithm == "ecdsa-p256"


def test_pool_shares_one_login_and_threads_sign_concurrently(store: Any) -> None:
    key = store.generate(f"{TOKEN};object=pool", "ecdsa-p256", PIN)
    second = store.open_key(f"{TOKEN};object=pool", PIN)  # same token: login reused
    with pytest.raises(PinError):
        store.open_key(f"{TOKEN};object=pool", LiteralPin("not-the-pin"))
    results: list[tuple[bytes, bytes]] = []
    lock = threading.Lock()

    def work(k: Any, tag: int) -> None:
        for n in range(25):
            message = b"%d/%d" % (tag, n)
            signature = k.sign(message)
            with lock:
                results.append((message, signature))

    threads = [threading.Thread(target=work, args=(k, t))
               for t, k in enumerate([key, second, key, second])]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 100
    for message, signature in results:
        _verify(key.public_key_der(), "ecdsa-p256", message, signature)
    second.close()
    assert key.sign(b"still logged in")
    key.close()


def test_cli_generate_list_show_on_the_token(
    softhsm: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import json

    from click.testing import CliRunner

    from api.cli import cli

    monkeypatch.setenv("ST_P11_PIN", harness.USER_PIN)
    base = ["--home", str(tmp_path), "--json", "--pin-env", "ST_P11_PIN"]
    runner = CliRunner()
    made = runner.invoke(cli, ["keys", "generate", "--uri", f"{TOKEN};object=cli-rsa",
                               "--algorithm", "rsa-2048", *base])
    assert made.exit_code == 0, made.output
    assert json.loads(made.stdout)["health"]["up"] is True
    listed = runner.invoke(cli, ["keys", "list", "--uri", TOKEN, *base])
    uris = [k["uri"] for k in json.loads(listed.stdout)]
    [uri] = [u for u in uris if ";object=cli-rsa;" in u]
    shown = runner.invoke(cli, ["keys", "show", "--uri", uri, *base])
    assert json.loads(shown.stdout)["algorithm"] == "rsa-2048"


# --- key-encryption keys (data at rest) -------------------------------------------------

def test_kek_on_the_token_is_aes_non_extractable_and_wraps_with_gcm(store: Any) -> None:
    from hsm_adapters.wrapping import UnwrapError

    uri = f"{TOKEN};object=data-kek-t1"
    with store.generate_wrapping_key(uri, PIN) as kek:
        assert ";id=" in kek.uri
        wrapped = kek.wrap(b"d" * 16, b"licence A")
        assert wrapped[0] == 0x02 and len(wrapped) == 1 + 12 + 16 + 16
        assert kek.unwrap(wrapped, b"licence A") == b"d" * 16
        with pytest.raises(UnwrapError):
            kek.unwrap(wrapped, b"licence B")  # another licence's context
        tampered = wrapped[:-1] + bytes([wrapped[-1] ^ 1])
        with pytest.raises(UnwrapError):
            kek.unwrap(tampered, b"licence A")
    with pytest.raises(KeyExistsError):
        store.generate_wrapping_key(uri, PIN)
    import pkcs11
    from pkcs11 import Attribute, KeyType, ObjectClass

    with _raw_session() as session:  # read back outside the adapter
        key = session.get_key(object_class=ObjectClass.SECRET_KEY, key_type=KeyType.AES,
                              label="data-kek-t1")
        assert key[Attribute.SENSITIVE] and not key[Attribute.EXTRACTABLE]
        assert key[Attribute.VALUE_LEN] == 32
        with pytest.raises(pkcs11.exceptions.AttributeSensitive):
            key[Attribute.VALUE]
    with store.generate_wrapping_key(f"{TOKEN};object=data-kek-t2", PIN) as other, \
            pytest.raises(UnwrapError):
        other.unwrap(wrapped, b"licence A")  # another KEK


def test_extractable_kek_is_refused(store: Any) -> None:
    from pkcs11 import Attribute, KeyType

    with _raw_session() as session:
        session.generate_key(KeyType.AES, 256, label="loose-kek", store=True, template={
            Attribute.SENSITIVE: False, Attribute.EXTRACTABLE: True})
    with pytest.raises(ExtractableKeyError):
        store.open_wrapping_key(f"{TOKEN};object=loose-kek", PIN)


def test_rotation_onto_a_token_kek(softhsm: Path, tmp_path: Path,
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """A software-KEK deployment rotates onto the token; records still open, via the token."""
    import json

    from click.testing import CliRunner

    from api.cli import cli as sealtrust
    from api.deployment import (
        DEMO_DEPARTMENT,
        Deployment,
        Home,
        device_pin_env,
        init_deployment,
        load_config,
    )
    from api.issuance import issue_one
    from signing.types import builtin_types
    from trust.registry.models import Licence
    from trust.registry.sealed import licence_file, licence_record

    root = tmp_path / "home"
    init_deployment(root)
    home = Home(root)
    dep = Deployment(home, load_config(home))
    record = builtin_types().get("DL").example(3)
    try:
        with dep.registry.session() as s:
            issued = issue_one(dep, s, type_code="DL", record=record,
                               department=DEMO_DEPARTMENT, actor="test")
    finally:
        dep.close()
    uri = f"{TOKEN};object=deployment-kek?module-path={harness.SOFTHSM_MODULE}"
    monkeypatch.setenv(device_pin_env(uri), harness.USER_PIN)
    result = CliRunner().invoke(sealtrust, ["keys", "rotate-kek", "--new-uri", uri, "--json",
                                            "--home", str(root)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["data_kek"].startswith(f"{TOKEN};object=deployment-kek;id=")
    assert report["rewrapped"] == 1 and report["left"] == 0
    dep = Deployment(home, load_config(home))
    try:
        with dep.registry.session() as s:
            licence = s.get(Licence, issued.licence_id)
            assert licence is not None and licence.data_kek == report["data_kek"]
            assert licence.data_key is not None and licence.data_key[4] == 0x02  # token wrap
            assert licence_record(s, licence).holder_name == record["name"]
            assert licence_file(s, issued.licence_id) == issued.pdf
    finally:
        dep.close()
