"""Seed-derived keys and nonces for the demo PKI: the same seed, the same bytes.

Everything is expanded from the seed with HMAC-SHA256 (HKDF-Extract, then a
counter-mode stream per label), so each role's key depends only on the seed
and the role name.

- SM2 scalars: 40 stream bytes reduced into [1, n-2] (bias below 2^-64).
- RSA keys: primes by stream-driven candidate search, a small-prime sieve and
  a probabilistic primality test (OpenSSL's BN_check_prime through ctypes when
  libcrypto is present, else Miller-Rabin on Python ints, ~20x slower); the
  candidates, hence the primes, depend only on the stream. The key is
  assembled by ``cryptography`` from its numbers.
- SM2 signatures are randomised by design, so certificates signed by an SM2
  demo CA would differ on every run. :class:`DeterministicSm2Key` derives the
  nonce k from the scalar and the message digest (the idea of RFC 6979,
  with HMAC-SHA256) and lets PyPI ``gmssl`` do the curve arithmetic. It is
  for the demo PKI only; production keys sign through their key store.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import hashlib
import hmac
import math
from functools import cache, lru_cache
from typing import Any, Final

from cryptography.hazmat.primitives.asymmetric import rsa
from gmssl import sm2 as _gm

from trust import sm2, sm3
from trust.errors import CryptoError

__all__ = ["DeterministicSm2Key", "Stream", "derive_rsa_key", "derive_sm2_scalar"]

_SALT: Final = b"SealTrust demo PKI v1"
_E: Final = 65537
_SIEVE_BOUND: Final = 2000


def _odd_primes_below(bound: int) -> list[int]:
    flags = bytearray([1]) * bound
    flags[0:2] = b"\x00\x00"
    for i in range(2, math.isqrt(bound) + 1):
        if flags[i]:
            flags[i * i :: i] = bytes(len(range(i * i, bound, i)))
    return [i for i in range(3, bound, 2) if flags[i]]


# One gcd against the product of the odd primes below 2000 rejects ~85% of
# candidates before any modular exponentiation (the dominant cost).
_SMALL_PRIMES_PRODUCT: Final = math.prod(_odd_primes_below(_SIEVE_BOUND))


def _mr_rounds(bits: int) -> int:
    """Miller-Rabin rounds for random candidates, FIPS 186-5 Table B.1 (error < 2^-100)."""
    return 4 if bits >= 1536 else 5


class Stream:
    """An HMAC-SHA256 counter-mode byte stream bound to (seed, label)."""

    def __init__(self, seed: bytes, label: str) -> None:
        prk = hmac.new(_SALT, seed, hashlib.sha256).digest()
        self._key = hmac.new(prk, label.encode(), hashlib.sha256).digest()
        self._counter = 0

    def read(self, n: int) -> bytes:
        out = bytearray()
        while len(out) < n:
            self._counter += 1
            out += hmac.new(self._key, self._counter.to_bytes(8, "big"), hashlib.sha256).digest()
        return bytes(out[:n])

    def randbits(self, bits: int) -> int:
        return int.from_bytes(self.read((bits + 7) // 8), "big") >> (-bits % 8)

    def below(self, bound: int) -> int:
        """Uniform enough in [0, bound): 64 surplus bits make the modulo bias negligible."""
        return self.randbits(bound.bit_length() + 64) % bound


def derive_sm2_scalar(seed: bytes, label: str) -> int:
    """An SM2 private scalar in [1, n-2]."""
    return Stream(seed, label).below(sm2.N - 2) + 1


@cache
def _libcrypto() -> Any:
    """OpenSSL's BN_check_prime (C modexp, ~20x faster than Python ints), if present."""
    for name in ("libcrypto.so.3", ctypes.util.find_library("crypto")):
        if not name:
            continue
        try:
            lib = ctypes.CDLL(name)
            check, bin2bn, free = lib.BN_check_prime, lib.BN_bin2bn, lib.BN_free
        except (OSError, AttributeError):
            continue
        bin2bn.argtypes = [ctypes.c_char_p, ctypes.c_int, ctypes.c_void_p]
        bin2bn.restype = ctypes.c_void_p
        free.argtypes = [ctypes.c_void_p]
        free.restype = None
        check.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p]
        check.restype = ctypes.c_int
        return lib
    return None


def _openssl_prime(n: int) -> bool | None:
    lib = _libcrypto()
    if lib is None:
        return None
    raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
    bn = lib.BN_bin2bn(raw, len(raw), None)
    if not bn:
        return None
    try:
        verdict = lib.BN_check_prime(bn, None, None)
    finally:
        lib.BN_free(bn)
    return None if verdict < 0 else verdict == 1


def _probable_prime(n: int) -> bool:
    if math.gcd(n, _SMALL_PRIMES_PRODUCT) != 1:
        return False
    fast = _openssl_prime(n)
    if fast is not None:
        return fast
    # Bases come from the candidate itself, not the key stream, so the candidate
    # sequence (hence the key) is the same whichever test runs.
    bases = Stream(n.to_bytes((n.bit_length() + 7) // 8, "big"), "miller-rabin bases")
    d, r = n - 1, 0
    while d % 2 == 0:
        d, r = d // 2, r + 1
    for _ in range(_mr_rounds(n.bit_length())):
        x = pow(bases.below(n - 3) + 2, d, n)
        if x in (1, n - 1):
            continue
        for _ in range(r - 1):
            x = pow(x, 2, n)
            if x == n - 1:
                break
        else:
            return False
    return True


def _prime(stream: Stream, bits: int) -> int:
    while True:
        # Top two bits set so p*q has exactly 2*bits bits; odd.
        candidate = stream.randbits(bits) | (3 << (bits - 2)) | 1
        if math.gcd(candidate - 1, _E) == 1 and _probable_prime(candidate):
            return candidate


@lru_cache(maxsize=64)
def derive_rsa_key(seed: bytes, label: str, bits: int) -> rsa.RSAPrivateKey:
    """An RSA key with e = 65537 whose primes come from the (seed, label) stream.

    Memoised: the prime search is the demo PKI's only slow step (~0.1 s per
    2048-bit key) and test suites rebuild the same demo PKI in many modules.
    """
    stream = Stream(seed, label)
    half = bits // 2
    while True:
        p, q = _prime(stream, half), _prime(stream, half)
        if abs(p - q) >> (half - 100) and (p * q).bit_length() == bits:
            break
    p, q = max(p, q), min(p, q)
    d = pow(_E, -1, math.lcm(p - 1, q - 1))
    numbers = rsa.RSAPrivateNumbers(
        p=p,
        q=q,
        d=d,
        dmp1=rsa.rsa_crt_dmp1(d, p),
        dmq1=rsa.rsa_crt_dmq1(d, q),
        iqmp=rsa.rsa_crt_iqmp(p, q),
        public_numbers=rsa.RSAPublicNumbers(_E, p * q),
    )
    # p and q just passed the primality test and n, d, CRT values are built from
    # them, so cryptography's own (costly, prime-testing) consistency check is redundant.
    return numbers.private_key(unsafe_skip_rsa_key_validation=True)


class DeterministicSm2Key:
    """A :class:`trust.keys.SigningKey` for SM2 whose signatures repeat for the same message."""

    algorithm = "sm2"

    def __init__(self, scalar: int) -> None:
        public = sm2.PrivateKey.from_scalar(scalar).public_key()
        self._scalar = scalar
        self._point = public.point
        self._spki = public.to_der()

    def public_key_der(self) -> bytes:
        return self._spki

    def sign(self, message: bytes) -> bytes:
        e = sm3.e_value(self._point, message, sm2.DEFAULT_UID)
        crypt = _gm.CryptSM2(private_key=f"{self._scalar:064x}", public_key="")
        key = self._scalar.to_bytes(32, "big")
        for attempt in range(8):
            block = key + e + attempt.to_bytes(4, "big")
            k_bytes = hmac.new(key, b"k1" + block, hashlib.sha256).digest()
            k_bytes += hmac.new(key, b"k2" + block, hashlib.sha256).digest()
            k = int.from_bytes(k_bytes, "big") % (sm2.N - 1) + 1
            raw = crypt.sign(e, f"{k:064x}")
            if isinstance(raw, str) and len(raw) == 128:
                return sm2.encode_der(int(raw[:64], 16), int(raw[64:], 16))
        raise CryptoError("deterministic SM2 signing failed")

    def __repr__(self) -> str:
        return "DeterministicSm2Key(sm2)"
