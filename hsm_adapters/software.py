"""``file:`` keys: encrypted PKCS#8 files (scrypt + AES-256-CBC), any algorithm.

The default store of the embedded deployment (``sealtrust init``): the key
file ``name.p8`` is PBES2-encrypted with the key-store password; its
certificate chain lives beside it as ``name.chain.pem`` (leaf first).
Relative URIs (``file:keys/seal.p8``) resolve against the deployment home.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Final

from asn1crypto import keys as asn1_keys
from asn1crypto import pem
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from hsm_adapters.base import Key, KeyInfo, KeyStore, validate_chain
from hsm_adapters.errors import (
    KeyExistsError,
    KeyNotFoundError,
    KeyStoreError,
    KeyUriError,
    PinError,
)
from hsm_adapters.pins import PinSource, read_pin
from hsm_adapters.software_kek import FileWrappingKey, create_kek_file, read_kek_file
from trust import oids, pkcs8, sm2
from trust.errors import InputError
from trust.keys import SoftwareKey, algorithm_of_spki

__all__ = ["FileKey", "FileKeyStore"]

SUFFIX: Final = ".p8"
CHAIN_SUFFIX: Final = ".chain.pem"
MAX_KEY_FILE: Final = 64 * 1024


class FileKey(Key):
    """A decrypted in-memory key loaded from an encrypted PKCS#8 file."""

    adapter = "file"

    def __init__(self, uri: str, key: SoftwareKey, chain: Sequence[bytes]) -> None:
        super().__init__(uri, key.public_key_der(), chain)
        self._key: SoftwareKey | None = key

    def _sign(self, message: bytes) -> bytes:
        key = self._key
        if key is None:
            raise KeyStoreError("key is closed", uri=self.uri, code="keystore.closed")
        return key.sign(message)

    def _close(self) -> None:
        self._key = None


def _pkcs8_of(key: SoftwareKey) -> bytes:
    private = key.private
    if isinstance(private, sm2.PrivateKey):
        return private.to_der()
    return private.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def software_key_from_pkcs8(der: bytes) -> SoftwareKey:
    """An in-memory key from unencrypted PKCS#8 DER of any accepted algorithm."""
    try:
        info = asn1_keys.PrivateKeyInfo.load(bytes(der), strict=True)
        alg = info["private_key_algorithm"]
        is_sm2 = (alg["algorithm"].native == "ec" and alg["parameters"].name == "named"
                  and alg["parameters"].chosen.dotted == oids.SM2P256V1)
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        raise InputError(f"not a PKCS#8 private key: {exc}", code="keystore.bad_key") from None
    if is_sm2:
        return SoftwareKey(sm2.PrivateKey.from_der(der))
    try:
        private = serialization.load_der_private_key(bytes(der), password=None)
    except (ValueError, TypeError) as exc:
        raise InputError(f"cannot load private key: {exc}", code="keystore.bad_key") from None
    if not isinstance(private, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
        raise InputError("only SM2, RSA and ECDSA P-256 keys are accepted",
                         code="keystore.bad_key")
    return SoftwareKey(private)


def _read_chain(path: Path) -> list[bytes]:
    if not path.exists():
        return []
    data = path.read_bytes()
    return [der for _, _, der in pem.unarmor(data, multiple=True)]


class FileKeyStore(KeyStore):
    """Encrypted PKCS#8 files under a base directory; safe for concurrent use."""

    scheme = "file"

    def __init__(self, base_dir: Path | str | None = None) -> None:
        self.base_dir = Path(base_dir) if base_dir is not None else Path.cwd()
        self._lock = threading.Lock()

    def path_of(self, uri: str) -> Path:
        """The key file a ``file:`` URI names (``file:/abs.p8``, ``file:rel.p8``)."""
        if not uri.startswith("file:"):
            raise KeyUriError("not a file: key URI")
        rest = uri[5:]
        if rest.startswith("//"):
            host, _, rest = rest[2:].partition("/")
            if host not in ("", "localhost"):
                raise KeyUriError("file: key URIs must be local", uri=uri)
            rest = "/" + rest
        if not rest or "\x00" in rest:
            raise KeyUriError("file: key URI has no path", uri=uri)
        path = Path(rest)
        return path if path.is_absolute() else self.base_dir / path

    def open_key(self, uri: str, pin: PinSource | None) -> FileKey:
        path = self.path_of(uri)
        try:
            if path.stat().st_size > MAX_KEY_FILE:
                raise KeyStoreError("key file is too large", uri=uri, code="keystore.bad_key")
            data = path.read_bytes()
        except FileNotFoundError:
            raise KeyNotFoundError("no key file", uri=uri) from None
        except OSError as exc:
            raise KeyStoreError(f"cannot read key file: {exc.strerror}", uri=uri) from None
        if data.startswith(b"-----"):
            try:
                _, _, data = pem.unarmor(data)
            except ValueError:
                raise KeyStoreError("key file is not PEM/DER", uri=uri,
                                    code="keystore.bad_key") from None
        try:
            plain = pkcs8.decrypt(data, read_pin(pin, uri))
        except pkcs8.KeyDecryptionError:
            raise PinError("wrong password or corrupted key file", uri=uri) from None
        try:
            key = software_key_from_pkcs8(plain)
        except InputError as exc:
            raise KeyStoreError(exc.message, uri=uri, code="keystore.bad_key") from None
        chain = _read_chain(self._chain_path(path))
        if chain and self._public_of_chain(uri, chain) != key.public_key_der():
            # CBC has no integrity: a corrupted file can decrypt to another valid key.
            raise KeyStoreError("the key does not match its certificate", uri=uri,
                                code="keystore.bad_key")
        return FileKey(uri, key, chain)

    def generate(self, uri: str, algorithm: str, pin: PinSource | None) -> FileKey:
        return self.import_key(uri, SoftwareKey.generate(algorithm), pin)

    def import_key(self, uri: str, key: SoftwareKey | bytes, pin: PinSource | None) -> FileKey:
        path = self.path_of(uri)
        software = key if isinstance(key, SoftwareKey) else software_key_from_pkcs8(key)
        encrypted = pkcs8.encrypt(_pkcs8_of(software), read_pin(pin, uri))
        with self._lock:
            path.parent.mkdir(parents=True, exist_ok=True)
            try:
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            except FileExistsError:
                raise KeyExistsError("a key file already exists", uri=uri) from None
            with os.fdopen(fd, "wb") as fh:
                fh.write(encrypted)
        return FileKey(uri, software, [])

    def set_certificate_chain(
        self, uri: str, chain: Sequence[bytes], pin: PinSource | None = None
    ) -> None:
        path = self.path_of(uri)
        key = self.open_key(uri, pin) if pin is not None else None
        spki = key.public_key_der() if key is not None else self._public_of_chain(uri, chain)
        certs = validate_chain(uri, spki, chain)
        text = b"".join(pem.armor("CERTIFICATE", der) for der in certs)
        if not path.exists():
            raise KeyNotFoundError("no key file", uri=uri)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_bytes(text)
        tmp.replace(self._chain_path(path))

    def generate_wrapping_key(self, uri: str, pin: PinSource | None) -> FileWrappingKey:
        """A new SM4 KEK in the file ``uri`` names (``file:keys/data-kek-1.kek``)."""
        path = self.path_of(uri)
        with self._lock:
            key = create_kek_file(path, read_pin(pin, uri), uri)
        return FileWrappingKey(uri, key)

    def open_wrapping_key(self, uri: str, pin: PinSource | None) -> FileWrappingKey:
        return FileWrappingKey(uri, read_kek_file(self.path_of(uri), read_pin(pin, uri), uri))

    @staticmethod
    def _public_of_chain(uri: str, chain: Sequence[bytes]) -> bytes:
        if not chain:
            raise KeyStoreError("empty certificate chain", uri=uri, code="keystore.bad_certificate")
        from asn1crypto import x509

        try:
            cert = x509.Certificate.load(bytes(chain[0]), strict=True)
            return cert["tbs_certificate"]["subject_public_key_info"].dump()  # type: ignore[no-any-return]
        except (ValueError, TypeError, KeyError) as exc:
            raise KeyStoreError(f"leaf is not DER X.509: {exc}", uri=uri,
                                code="keystore.bad_certificate") from None

    def list_keys(self, uri: str = "file:.", pin: PinSource | None = None) -> list[KeyInfo]:
        """Key files in the directory ``uri`` names; with ``pin``, also their algorithm."""
        directory = self.path_of(uri)
        if not directory.is_dir():
            raise KeyNotFoundError("not a key directory", uri=uri)
        prefix = uri[5:].rstrip("/")
        out = []
        for path in sorted(directory.glob(f"*{SUFFIX}")):
            key_uri = f"file:{prefix}/{path.name}" if prefix not in ("", ".") else \
                f"file:{path.name}"
            chain = _read_chain(self._chain_path(path))
            if pin is not None:
                with self.open_key(key_uri, pin) as key:
                    algorithm = key.algorithm
            elif chain:  # without the password the certificate still names the algorithm
                algorithm = algorithm_of_spki(self._public_of_chain(key_uri, chain))
            else:
                algorithm = "unknown"
            out.append(KeyInfo(key_uri, algorithm, bool(chain)))
        return out

    @staticmethod
    def _chain_path(path: Path) -> Path:
        name = path.name[: -len(SUFFIX)] if path.name.endswith(SUFFIX) else path.name
        return path.with_name(name + CHAIN_SUFFIX)
