"""Verify a 亮证 QR code (text or image), offline with exported lists or online.

Offline: the signed trust list (checked against a pinned operator
certificate) and the issuers' signed status lists, as ``sealtrust trust
export`` writes them. Online: the registry is the authority -- live licence
status and, for a counter's redemption only, the shared replay cache --
while the trust list, built from the registry, is cached in-process for a
short time so a check costs one SM2 verification and two indexed queries.

A public check (anyone scanning) never spends a presentation code: if it
did, a bystander scanning first would burn the holder's code and the
counter would be refused. One-use is the counter's authenticated
redemption (``redeem=True``); against everyone else the code's short
lifetime (60 s) is the replay bound (docs/qr-format.md, threat model).

Results use the TokenResult vocabulary (ETSI indications, as for PDFs);
:func:`result_view` adds bilingual messages for the page, API and CLI.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Final

from trust.errors import InputError
from trust.indications import Check, Indication, SubIndication
from trust.pki.certificate import Certificate
from trust.pki.crl import MAX_CRL_SIZE, CrlStore
from trust.pki.pem import pem_certificates
from trust.qrimage import read_qr
from trust.registry.db import Registry
from trust.registry.statuslist import build_status_lists, build_trust_list, status_list_size
from trust.registry.tokens import DbLiveStatus, DbReplayCache
from trust.sm2 import VerifyItem
from trust.status import StatusList
from trust.token import (
    Claims,
    DecodedToken,
    LiveStatus,
    ReplayCache,
    TokenResult,
    VerifierPolicy,
    decode_token,
)
from trust.token.errors import TokenFormatError
from trust.token.verify import (
    format_failure,
    require_aware,
    signature_items,
    verify_decoded,
)
from trust.trustlist import TrustList
from verification.list_state import ListState

__all__ = [
    "EXPORT_CRL_DIR",
    "EXPORT_STATUS_DIR",
    "EXPORT_TRUST_LIST",
    "OfflineLists",
    "PendingCheck",
    "QrVerifier",
    "anchors_from_pem",
    "read_crl_dir",
    "result_view",
    "verify_qr",
    "verify_qr_image",
]

EXPORT_TRUST_LIST: Final = "trust-list.cose"
EXPORT_STATUS_DIR: Final = "status"
EXPORT_CRL_DIR: Final = "crl"
_MAX_CRL_FILES: Final = 256
CACHE_TTL: Final = timedelta(seconds=60)
_MAX_LIST_FILE: Final = 4 * 1024 * 1024

StatusLists = Mapping[tuple[str, str], StatusList]  # (issuer, list id) -> list


@dataclass(frozen=True)
class OfflineLists:
    """A verified trust list, the status lists it vouches for, and the CAs' CRLs.

    CRLs are parsed here and judged per CA when used (signature against the
    CA, freshness at the validation time): ``verification.revocation``.
    """

    trust_list: TrustList
    status_lists: dict[tuple[str, str], StatusList] = field(default_factory=dict)
    crls: CrlStore = field(default_factory=CrlStore)

    @classmethod
    def from_signed(
        cls,
        trust_list: bytes,
        anchors: Iterable[bytes],
        status_lists: Iterable[bytes] = (),
        *,
        previous_sequence: int | None = None,
        crls: Iterable[bytes] = (),
        crl_signers: Iterable[bytes] = (),
        state: ListState | None = None,
    ) -> OfflineLists:
        """Check every signature: the trust list against ``anchors``, status lists against it.

        With ``state`` the verified lists must not be older than the newest accepted
        before (``RollbackError``), and become the newest accepted.
        """
        pinned = list(anchors)
        checked = TrustList.verify(trust_list, pinned, previous_sequence=previous_sequence)
        lists = [StatusList.verify(data, checked) for data in status_lists]
        if state is not None:
            state.admit(ListState.operator_key(pinned), checked, lists)
        store = CrlStore.from_der(crls, [Certificate.from_der(d) for d in crl_signers])
        return cls(checked, {(sl.issuer, sl.list_id): sl for sl in lists}, store)

    @classmethod
    def load(cls, directory: Path, anchors: Iterable[bytes], *,
             crl_dirs: Iterable[Path] = (), state: ListState | None = None) -> OfflineLists:
        """Read an export directory (``trust-list.cose``, ``status/*.cose``, ``crl/*.crl``)
        plus the CRLs of ``crl_dirs`` (``*.crl``, DER or PEM; ``*.pem``: CRL signers)."""
        status_dir = directory / EXPORT_STATUS_DIR
        status_files = sorted(status_dir.glob("*.cose")) if status_dir.is_dir() else []
        crls: list[bytes] = []
        signers: list[bytes] = []
        for folder in (directory / EXPORT_CRL_DIR, *crl_dirs):
            found, pems = read_crl_dir(folder)
            crls += found
            signers += pems
        return cls.from_signed(_read(directory / EXPORT_TRUST_LIST), anchors,
                               [_read(p) for p in status_files], crls=crls,
                               crl_signers=signers, state=state)


def _read(path: Path) -> bytes:
    try:
        if path.stat().st_size > _MAX_LIST_FILE:
            raise InputError(f"{path} is larger than {_MAX_LIST_FILE} bytes")
        return path.read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror}",
                         code="qr.lists_missing") from None


def read_crl_dir(folder: Path) -> tuple[list[bytes], list[bytes]]:
    """DER CRLs (``*.crl``, PEM-armoured accepted) and CRL-signer certificates (``*.pem``)
    of one directory; a missing directory holds none. Bounded in count and size."""
    if not folder.is_dir():
        return [], []
    crls: list[bytes] = []
    signers: list[bytes] = []
    for path in sorted(folder.iterdir())[:_MAX_CRL_FILES]:
        if path.suffix == ".crl":
            data = _read_crl(path)
            crls.append(data)
        elif path.suffix == ".pem":
            signers += pem_certificates(_read(path))
    return crls, signers


def _read_crl(path: Path) -> bytes:
    try:
        if path.stat().st_size > MAX_CRL_SIZE:
            raise InputError(f"{path} is larger than {MAX_CRL_SIZE} bytes", code="crl.invalid")
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror}", code="crl.missing") from None
    if data.lstrip().startswith(b"-----BEGIN"):
        from asn1crypto import pem

        try:
            _, _, data = pem.unarmor(data)
        except ValueError as exc:
            raise InputError(f"{path}: {exc}", code="crl.invalid") from None
    return data


def _issuer_lists(issuer: str, status_lists: StatusLists) -> dict[str, StatusList]:
    """The token's issuer's lists by id (several issuers share list ids)."""
    return {list_id: sl for (iss, list_id), sl in status_lists.items() if iss == issuer}


def verify_qr(
    text: str,
    *,
    trust_list: TrustList,
    now: datetime,
    status_lists: StatusLists | None = None,
    policy: VerifierPolicy | None = None,
    live_status: LiveStatus | None = None,
    replay_cache: ReplayCache | None = None,
) -> TokenResult:
    """Validate QR text; online when ``live_status`` is given (see trust.token.verify)."""
    require_aware(now)
    try:
        token = decode_token(text)
    except TokenFormatError as exc:
        return format_failure(exc, trust_list, now, online=live_status is not None)
    return _verify(token, trust_list=trust_list, now=now, status_lists=status_lists,
                   policy=policy, live_status=live_status, replay_cache=replay_cache)


def _verify(token: DecodedToken, *, trust_list: TrustList, now: datetime,
            status_lists: StatusLists | None = None, policy: VerifierPolicy | None = None,
            live_status: LiveStatus | None = None,
            replay_cache: ReplayCache | None = None,
            signature_verdicts: Mapping[bytes, bool] | None = None) -> TokenResult:
    """:func:`verify_qr` of a token decoded once (its issuer picks the status lists)."""
    by_id = None if live_status is not None else _issuer_lists(token.claims.issuer,
                                                                status_lists or {})
    return verify_decoded(token, trust_list=trust_list, now=now, status_lists=by_id,
                          policy=policy, live_status=live_status, replay_cache=replay_cache,
                          signature_verdicts=signature_verdicts)


@dataclass(frozen=True, slots=True)
class PendingCheck:
    """A QR check decoded, its signer candidates found, waiting for their SM2 verdicts:
    a server verifies those of concurrent requests in one batch (api.sm2_batcher) and
    finishes each check with :meth:`QrVerifier.finish_cached` or :meth:`QrVerifier.finish`."""

    token: DecodedToken
    trust_list: TrustList

    def items(self) -> dict[bytes, VerifyItem]:
        """The SM2 verifications to batch, by candidate signer SPKI (signature_items)."""
        return signature_items(self.token, self.trust_list)


def _unreadable(message: str, trust_list: TrustList, now: datetime, online: bool) -> TokenResult:
    check = Check("image", Indication.TOTAL_FAILED, SubIndication.FORMAT_FAILURE, message)
    return TokenResult(Indication.TOTAL_FAILED, SubIndication.FORMAT_FAILURE, (check,),
                       trust_list_age=trust_list.age(now), online=online)


def verify_qr_image(data: bytes, *, trust_list: TrustList, now: datetime,
                    **options: Any) -> TokenResult:
    """Read the QR symbol (zxing-cpp) and validate it; an unreadable image is a FORMAT_FAILURE."""
    try:
        text = read_qr(data)
    except InputError as exc:
        return _unreadable(f"{exc.code}: {exc.message}", trust_list, now,
                           options.get("live_status") is not None)
    return verify_qr(text, trust_list=trust_list, now=now, **options)


class QrVerifier:
    """The service-side verifier: registry-backed, trust material cached for ``ttl``.

    Thread-safe; one per process. A certificate revoked in the registry leaves
    the cached trust list within ``ttl``. ``online=False`` uses the status lists
    as an offline verifier would have downloaded them (rebuilt every ``ttl``,
    and early when a token names a licence issued since).
    """

    def __init__(self, registry: Registry, *, policy: VerifierPolicy | None = None,
                 ttl: timedelta = CACHE_TTL) -> None:
        self._registry = registry
        self.policy = policy or VerifierPolicy()
        self._ttl = ttl.total_seconds()
        self._lock = threading.Lock()
        self._trust: tuple[float, TrustList] | None = None
        self._statuses: tuple[float, dict[tuple[str, str], StatusList]] | None = None
        self.live_status = DbLiveStatus(registry)
        self.replay_cache = DbReplayCache(registry)

    def trust_list(self, now: datetime) -> TrustList:
        with self._lock:
            if self._trust is None or time.monotonic() > self._trust[0]:
                with self._registry.session() as session:
                    built = build_trust_list(session, at=now)
                self._trust = (time.monotonic() + self._ttl, built)
            return self._trust[1]

    def status_lists(self, now: datetime, token: DecodedToken | None = None
                     ) -> dict[tuple[str, str], StatusList]:
        """The cached lists, rebuilt after ``ttl`` -- or at once when ``token`` names an index
        past them that the registry has since allocated (a licence issued meanwhile)."""
        with self._lock:
            cached = self._statuses
            if cached is not None and time.monotonic() <= cached[0] and not (
                    token is not None and self._grown_past(cached[1], token.claims)):
                return cached[1]
            with self._registry.session() as session:
                lists = build_status_lists(session, at=now)
            by_key = {(sl.issuer, sl.list_id): sl for sl in lists.values()}
            self._statuses = (time.monotonic() + self._ttl, by_key)
            return by_key

    def _grown_past(self, lists: StatusLists, claims: Claims) -> bool:
        """One indexed max() query, and only for a token beyond the cached list."""
        if not _beyond(lists, claims):
            return False
        with self._registry.session() as session:
            return status_list_size(session) > _known_size(lists, claims)

    def verify(self, text: str, now: datetime, *, online: bool = True,
               redeem: bool = False) -> TokenResult:
        """Judge ``text``; ``redeem`` (online, a counter's authenticated call) spends the code."""
        if redeem and not online:
            raise InputError("a code is redeemed online only", code="qr.redeem_offline")
        require_aware(now)
        try:
            token = decode_token(text)  # once: the status-list pick needs the claims too
        except TokenFormatError as exc:
            return format_failure(exc, self.trust_list(now), now, online=online)
        return self.finish(PendingCheck(token, self.trust_list(now)), None, now, online=online,
                           redeem=redeem)

    def verify_cached(self, text: str, now: datetime) -> TokenResult | None:
        """An offline verdict from the cached lists alone, or None when that needs the
        database (a list past its ``ttl``, never built, or a token beyond the cached list).

        Never does I/O, so a server may run it on its event loop: a slow or hung database
        must not stall the loop, whose other requests (and their timeouts) run there.
        """
        pending = self.pending(text, now, online=False)
        if not isinstance(pending, PendingCheck):
            return pending
        return self.finish_cached(pending, None, now)

    def pending(self, text: str, now: datetime, *, online: bool
                ) -> TokenResult | PendingCheck | None:
        """``text`` decoded against the cached trust list, up to its SM2 verifications; a
        format failure's verdict; or None when the trust list needs the database. No I/O."""
        require_aware(now)
        try:
            token = decode_token(text)
        except TokenFormatError as exc:
            token, failure = None, exc
        # No lock: a thread rebuilding a list holds it across its database queries. Each
        # cache is an immutable tuple, replaced whole, so reading the reference suffices.
        trust = self._trust
        if trust is None or time.monotonic() > trust[0]:
            return None
        if token is None:
            return format_failure(failure, trust[1], now, online=online)
        return PendingCheck(token, trust[1])

    def finish_cached(self, pending: PendingCheck, verdicts: Mapping[bytes, bool] | None,
                      now: datetime) -> TokenResult | None:
        """The offline verdict of ``pending`` with its signature ``verdicts`` (None: verify
        here) from the cached status lists, or None when they need the database. No I/O."""
        statuses = self._statuses
        if (statuses is None or time.monotonic() > statuses[0]
                or _beyond(statuses[1], pending.token.claims)):
            return None
        return _verify(pending.token, trust_list=pending.trust_list, now=now,
                       policy=self.policy, status_lists=statuses[1],
                       signature_verdicts=verdicts)

    def finish(self, pending: PendingCheck, verdicts: Mapping[bytes, bool] | None,
               now: datetime, *, online: bool, redeem: bool = False) -> TokenResult:
        """The verdict of ``pending`` with its signature ``verdicts`` (None: verify here):
        online (live status; ``redeem`` spends the code) or from status lists rebuilt as
        needed. May do I/O: run it off the event loop."""
        if online:
            # Threat: a bystander's public scan spending the holder's one-use code. Only
            # the counter's redemption consults (and fills) the replay cache.
            return _verify(pending.token, trust_list=pending.trust_list, now=now,
                           policy=self.policy, live_status=self.live_status,
                           replay_cache=self.replay_cache if redeem else None,
                           signature_verdicts=verdicts)
        return _verify(pending.token, trust_list=pending.trust_list, now=now,
                       policy=self.policy, status_lists=self.status_lists(now, pending.token),
                       signature_verdicts=verdicts)

    def verify_image(self, data: bytes, now: datetime, *, online: bool = True,
                     redeem: bool = False) -> TokenResult:
        try:
            text = read_qr(data)
        except InputError as exc:
            return _unreadable(f"{exc.code}: {exc.message}", self.trust_list(now), now, online)
        return self.verify(text, now, online=online, redeem=redeem)


def _beyond(lists: StatusLists, claims: Claims) -> bool:
    """The token's index is past its issuer's cached list (the list may have grown since)."""
    return claims.status_index >= _known_size(lists, claims) >= 0


def _known_size(lists: StatusLists, claims: Claims) -> int:
    known = lists.get((claims.issuer, claims.status_list))
    return -1 if known is None else known.size


_PASSED: Final = {
    "presentation": ("有效：持证人正在出示此证照", "Valid: the holder is presenting this licence"),
    "document": ("有效：证照真实且状态正常", "Valid: authentic as issued, and in good standing"),
}
_BY_SUB: Final[dict[SubIndication | None, tuple[str, str]]] = {
    SubIndication.FORMAT_FAILURE: ("不是有效的亮证码", "Not a valid licence code"),
    SubIndication.SIG_CRYPTO_FAILURE: ("签名无效，内容可能被篡改",
                                       "Invalid signature: the content may have been altered"),
    SubIndication.NO_SIGNING_CERTIFICATE_FOUND: ("签发者不在信任列表中",
                                                 "The signer is not in the trust list"),
    SubIndication.SIG_CONSTRAINTS_FAILURE: ("签发者无权签发此证照",
                                            "The signer may not vouch for this licence"),
    SubIndication.OUT_OF_BOUNDS_NO_POE: ("签名证书不在有效期内",
                                         "The signing certificate was not valid"),
    SubIndication.EXPIRED: ("已过期", "Expired"),
    SubIndication.NOT_YET_VALID: ("尚未生效，请检查设备时间", "Not yet valid: check the clock"),
    SubIndication.REVOKED: ("证照已被吊销或注销", "The licence has been revoked or cancelled"),
    SubIndication.TRY_LATER: ("暂时无法确认证照状态（列表过旧或证照暂停）",
                              "Cannot confirm the status now (lists too old, or suspended)"),
}
_BY_CHECK: Final = {
    "replay": ("此码已核验过，请持证人刷新后再出示",
               "This code was already checked: ask the holder to refresh it"),
    "token.time": ("亮证码已过期，请持证人刷新", "The code has expired: ask the holder to refresh"),
    "licence.validity": ("证照不在有效期内", "The licence is outside its validity period"),
}


# Each licence state in its own words (trust.token.verify gives the detail).
_BY_STATUS: Final = {
    "licence revoked": ("证照已被吊销", "The licence has been revoked"),
    "licence cancelled": ("证照已注销", "The licence has been cancelled"),
    "licence superseded by a newer licence": ("证照已变更，已被新证照替代",
                                              "The licence has been replaced by a newer one"),
    "licence suspended": ("证照已暂停使用", "The licence is suspended"),
    "licence expired": ("证照已过期", "The licence has expired"),
}


def _message(result: TokenResult) -> tuple[str, str]:
    if result.passed:
        kind = "document" if result.claims and result.claims.kind == 0 else "presentation"
        return _PASSED[kind]
    deciding = next((c for c in result.checks if c.indication is result.indication), None)
    if deciding is not None and deciding.name in _BY_CHECK:
        return _BY_CHECK[deciding.name]
    if deciding is not None and deciding.name in ("status", "status.live") and \
            deciding.detail in _BY_STATUS:
        return _BY_STATUS[deciding.detail]
    return _BY_SUB.get(result.sub_indication, ("无法确定", "Cannot decide"))


def result_view(result: TokenResult) -> dict[str, Any]:
    """The JSON contract of the page, the API and ``sealtrust qr verify --json``."""
    zh, en = _message(result)
    base = result.to_dict()
    return {
        "indication": base["indication"],
        "sub_indication": base["sub_indication"],
        "passed": result.passed,
        "message_zh": zh,
        "message_en": en,
        "claims": base["claims"],
        "checks": [{**c, "passed": c["indication"] == Indication.TOTAL_PASSED.value}
                   for c in base["checks"]],
        "lists": {"trust_list_age_s": base["trust_list_age_s"],
                  "status_list_age_s": base["status_list_age_s"]},
        "expires_at": None if result.claims is None else result.claims.expires_at.isoformat(),
        "signer": result.signer,
        "online": result.online,
    }


def anchors_from_pem(pem: bytes) -> list[bytes]:
    """Every certificate in a PEM bundle, as DER (the pinned trust-list operator)."""
    return pem_certificates(pem)
