"""The HTTP side of the audit witness (``sealtrust audit witness``); judging is trust.witness.

The witness talks to the service like any auditor client: ``GET
/v1/audit/head``, ``GET /v1/audit/proof/consistency`` and, once, ``GET
/v1/audit/key`` to pin the log key when none was given.
"""

from __future__ import annotations

import base64
from typing import Any

import httpx
from asn1crypto import keys as asn1_keys

from trust.audit import Checkpoint
from trust.errors import InputError
from trust.witness import Verdict, WitnessState, judge

__all__ = ["WitnessClient", "load_spki"]

_MAX_PROOF = 64  # a consistency proof of a tree below 2**62 leaves has fewer nodes


def load_spki(data: bytes) -> bytes:
    """A SubjectPublicKeyInfo from DER or PEM bytes, re-encoded as DER."""
    if data.lstrip().startswith(b"-----BEGIN"):
        body = b"".join(line for line in data.strip().splitlines()
                        if line and not line.startswith(b"-----"))
        try:
            data = base64.b64decode(body, validate=True)
        except ValueError:
            raise InputError("the log key PEM is not base64") from None
    try:
        return bytes(asn1_keys.PublicKeyInfo.load(data, strict=True).dump())
    except (ValueError, TypeError):
        raise InputError("the log key is not a SubjectPublicKeyInfo (DER or PEM)") from None


class WitnessClient:
    """Polls one service and keeps its held head in a :class:`WitnessState`."""

    def __init__(self, url: str, credential: str, state: WitnessState, *,
                 timeout_s: float = 10.0) -> None:
        self.url = url.rstrip("/")
        self.state = state
        self._http = httpx.Client(timeout=timeout_s, follow_redirects=False,
                                  headers={"Authorization": f"Bearer {credential}"})

    def _get(self, path: str, **params: int) -> Any:
        response = self._http.get(self.url + path, params=params)
        if response.status_code != 200:
            raise InputError(f"GET {path}: HTTP {response.status_code}",
                             code="witness.http")
        return response.json()

    def _log_key(self) -> bytes:
        key = self.state.log_key()
        if key is None:  # trust on first use, then pinned for every later poll
            data = self._get("/v1/audit/key")
            key = load_spki(bytes.fromhex(str(data.get("spki_der", ""))))
            self.state.pin_log_key(key)
        return key

    def poll(self) -> Verdict:
        """One check; the held head is replaced only when the new one is consistent."""
        key = self._log_key()
        data = self._get("/v1/audit/head")
        if not isinstance(data, dict):
            raise InputError("GET /v1/audit/head did not return a head", code="witness.http")
        seen = Checkpoint.from_json(data)
        held = self.state.head()
        proof: list[bytes] | None = None
        if held is not None and 0 < held.size < seen.size and seen.verify([key]):
            raw = self._get("/v1/audit/proof/consistency", old=held.size, new=seen.size)
            nodes = raw.get("proof") if isinstance(raw, dict) else None
            if not isinstance(nodes, list) or len(nodes) > _MAX_PROOF:
                raise InputError("malformed consistency proof", code="witness.http")
            try:
                proof = [bytes.fromhex(str(n)) for n in nodes]
            except ValueError:
                raise InputError("malformed consistency proof", code="witness.http") from None
        verdict = judge(held, seen, proof, key)
        if verdict.outcome.ok and (held is None or seen.size > held.size):
            self.state.save_head(seen)
        return verdict

    def close(self) -> None:
        self._http.close()
