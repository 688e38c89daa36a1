"""Key URIs, PIN sources, error shape and the scheme registry."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hsm_adapters import (
    EnvPin,
    FilePin,
    KeyStoreError,
    KeyStoreRegistry,
    KeyUriError,
    LiteralPin,
    PinError,
    PinSource,
)
from hsm_adapters.base import Key, KeyInfo, KeyStore
from hsm_adapters.pins import CallbackPin, read_pin
from hsm_adapters.uri import KeyUri
from trust.errors import SealTrustError
from trust.keys import SoftwareKey

SECRET = "s3cr3t-PIN-do-not-leak"


def test_rfc7512_uri_parses_path_query_and_percent_encoding() -> None:
    ref = KeyUri.parse(
        "pkcs11:token=Seal%20Trust;object=seal-1;id=%01%FF?module-path=/usr/lib/x.so"
    )
    assert ref.scheme == "pkcs11"
    assert ref.path["token"] == "Seal Trust"
    assert ref.path["id"].encode("utf-8", "surrogateescape") == b"\x01\xff"
    assert ref.query["module-path"] == "/usr/lib/x.so"
    assert KeyUri.parse(str(ref)) == ref


@pytest.mark.parametrize(
    "uri",
    ["no-scheme", "pkcs11:token", "pkcs11:a=1;a=2", "x" * 5000, "pk cs:a=1"],
)
def test_malformed_uris_are_typed_errors(uri: str) -> None:
    with pytest.raises(KeyUriError):
        KeyUri.parse(uri)


@pytest.mark.parametrize("attr", ["pin-value", "pin-source", "PIN-VALUE"])
def test_uri_with_pin_is_refused_without_echoing_it(attr: str) -> None:
    uri = f"pkcs11:token=T;object=k?{attr}={SECRET}"
    with pytest.raises(KeyUriError) as info:
        KeyUri.parse(uri)
    assert SECRET not in str(info.value)
    assert SECRET not in repr(info.value.to_dict())


def test_pin_sources_hide_the_pin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ST_TEST_PIN", SECRET)
    path = tmp_path / "keystore.pass"
    path.write_text(SECRET + "\n")
    path.chmod(0o600)
    sources: list[PinSource] = [EnvPin("ST_TEST_PIN"), FilePin(path), LiteralPin(SECRET),
                                CallbackPin(lambda: SECRET)]
    for source in sources:
        assert source() == SECRET.encode()
        assert SECRET not in repr(source)


def test_pin_file_readable_by_others_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "keystore.pass"
    path.write_text(SECRET)
    path.chmod(0o644)
    with pytest.raises(PinError) as info:
        FilePin(path)()
    assert "0600" in info.value.message
    assert SECRET not in str(info.value)


def test_missing_pin_names_the_key_not_the_pin(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ST_ABSENT_PIN", raising=False)
    with pytest.raises(PinError) as info:
        read_pin(EnvPin("ST_ABSENT_PIN"), "file:keys/a.p8")
    assert info.value.uri == "file:keys/a.p8"
    assert info.value.code == "keystore.pin"
    with pytest.raises(PinError):
        read_pin(None, "file:keys/a.p8")
    with pytest.raises(PinError):
        read_pin(LiteralPin(b""), "file:keys/a.p8")


def test_error_keeps_vendor_code_name_and_uri() -> None:
    err = KeyStoreError("boom", uri="sdf:key-index=1", vendor_code=0x01000004,
                        vendor_name="SDR_HARDFAIL")
    assert isinstance(err, SealTrustError)
    assert err.to_dict() == {
        "code": "keystore.error",
        "message": "boom (SDR_HARDFAIL 0x01000004) [key sdf:key-index=1]",
        "uri": "sdf:key-index=1",
        "vendor_name": "SDR_HARDFAIL",
        "vendor_code": "0x01000004",
    }


class _MemoryKey(Key):
    adapter = "memory"

    def __init__(self, uri: str, key: SoftwareKey, fail: bool = False) -> None:
        super().__init__(uri, key.public_key_der())
        self._key, self.fail = key, fail

    def _sign(self, message: bytes) -> bytes:
        if self.fail:
            raise OSError("device unplugged")
        return self._key.sign(message)

    def _vendor_errors(self) -> tuple[type[Exception], ...]:
        return (OSError,)


class _MemoryStore(KeyStore):
    """A third-party store, as an entry point would provide it."""

    scheme = "mem"

    def __init__(self) -> None:
        self.keys: dict[str, _MemoryKey] = {}

    def open_key(self, uri: str, pin: object) -> Key:
        return self.keys[uri]

    def generate(self, uri: str, algorithm: str, pin: object) -> Key:
        self.keys[uri] = _MemoryKey(uri, SoftwareKey.generate(algorithm))
        return self.keys[uri]

    def import_key(self, uri: str, key: object, pin: object) -> Key:
        raise NotImplementedError

    def set_certificate_chain(self, uri: str, chain: object, pin: object = None) -> None:
        raise NotImplementedError

    def list_keys(self, uri: str, pin: object = None) -> list[KeyInfo]:
        return [KeyInfo(u, k.algorithm, False) for u, k in self.keys.items()]


def test_registry_dispatches_by_scheme_and_accepts_new_schemes() -> None:
    with KeyStoreRegistry(entry_points=False) as stores:
        assert {"file", "pkcs11", "sdf"} <= set(stores.schemes)
        with pytest.raises(KeyUriError):
            stores.open_key("nope:x", LiteralPin("x"))
        stores.register("mem", lambda base_dir=None: _MemoryStore())
        key = stores.generate("MEM:one", "ecdsa-p256", None)
        assert stores.store("mem:one") is stores.store("mem")
        assert stores.list_keys("mem:")[0].algorithm == "ecdsa-p256"
        assert key.health().up


def test_vendor_exception_becomes_typed_error_and_health_down() -> None:
    key = _MemoryKey("mem:k", SoftwareKey.generate("ecdsa-p256"), fail=True)
    with pytest.raises(KeyStoreError) as info:
        key.sign(b"x")
    assert info.value.code == "keystore.device"
    assert info.value.uri == "mem:k"
    health = key.health()
    assert not health.up
    assert health.code == "keystore.device"
    with pytest.raises(SealTrustError):
        key.sign("not bytes")  # type: ignore[arg-type]
    key.close()
    with pytest.raises(KeyStoreError, match="closed"):
        key.sign(b"x")


def test_entry_point_group_is_consulted(monkeypatch: pytest.MonkeyPatch) -> None:
    import hsm_adapters.registry as registry

    class _EP:
        name = "mem"

        def load(self) -> object:
            return lambda base_dir=None: _MemoryStore()

    monkeypatch.setattr(registry, "entry_points", lambda group: [_EP()] if
                        group == registry.ENTRY_POINT_GROUP else [])
    with KeyStoreRegistry() as stores:
        assert isinstance(stores.store("mem:x"), _MemoryStore)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=300))
def test_uri_parser_only_raises_typed_errors(text: str) -> None:
    try:
        ref = KeyUri.parse(text)
    except KeyUriError:
        return
    assert KeyUri.parse(str(ref)) == ref
