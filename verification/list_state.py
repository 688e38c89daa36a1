"""The verifier's memory of the newest lists it accepted: refuse rollback across runs.

A verifier that only checks signatures and freshness accepts an *older*
signed list as long as it is still inside its next-update window -- one
from before a revocation, replayed by whoever controls the verifier's
download (the DCC lesson). So it persists, per trust-list operator (the
pinned anchor's SHA-256) and per status-list issuer and list id, the
highest sequence it accepted, and refuses anything lower with a typed
:class:`~trust.trustlist.RollbackError`. Only lists whose signatures
verified are recorded, so a forged list cannot poison the state.

The file (``HOME/state/verifier-lists.json`` by default) is small JSON,
written atomically (temporary file, fsync, rename) so a crash leaves either
the old or the new state, never half of one.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Final

from trust.errors import InputError
from trust.status import StatusList
from trust.trustlist import RollbackError, TrustList

__all__ = ["STATE_FILE", "ListState"]

STATE_FILE: Final = "verifier-lists.json"
_VERSION: Final = 1
_MAX_STATE: Final = 1024 * 1024


class ListState:
    """Highest accepted sequences, loaded from and saved to ``path``."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.trust_lists: dict[str, int] = {}
        self.status_lists: dict[str, int] = {}
        self._load()

    def _load(self) -> None:
        try:
            if self.path.stat().st_size > _MAX_STATE:
                raise InputError(f"{self.path} is larger than {_MAX_STATE} bytes",
                                 code="verifier.state")
            raw = json.loads(self.path.read_text("utf-8"))
        except FileNotFoundError:
            return
        except (OSError, ValueError) as exc:
            # an unreadable state must not silently reset the rollback protection
            raise InputError(f"cannot read the verifier state {self.path}: {exc}",
                             code="verifier.state") from None
        try:
            if raw.get("version") != _VERSION:
                raise ValueError("unknown version")
            self.trust_lists = {str(k): int(v) for k, v in raw["trust_lists"].items()}
            self.status_lists = {str(k): int(v) for k, v in raw["status_lists"].items()}
        except (AttributeError, KeyError, TypeError, ValueError) as exc:
            raise InputError(f"malformed verifier state {self.path}: {exc}",
                             code="verifier.state") from None

    @staticmethod
    def operator_key(anchors: Iterable[bytes]) -> str:
        """The trust-list operator as pinned: SHA-256 of its certificate(s)."""
        return "+".join(sorted(hashlib.sha256(a).hexdigest() for a in anchors))

    def admit(self, operator: str, trust_list: TrustList,
              status_lists: Iterable[StatusList]) -> None:
        """Refuse any list below the highest accepted; otherwise record the new highs.

        Threat: an older, still-unexpired list (before a revocation) replayed to an
        offline verifier.
        """
        lists = list(status_lists)
        accepted = self.trust_lists.get(operator)
        if accepted is not None and trust_list.sequence < accepted:
            raise RollbackError(
                f"trust list sequence {trust_list.sequence} is below the accepted {accepted} "
                f"(信任列表被回滚：序号 {trust_list.sequence} 低于已接受的 {accepted})")
        for status_list in lists:
            key = f"{status_list.issuer}/{status_list.list_id}"
            seen = self.status_lists.get(key)
            if seen is not None and status_list.sequence < seen:
                raise RollbackError(
                    f"status list of {status_list.issuer} sequence {status_list.sequence} is "
                    f"below the accepted {seen} (状态列表被回滚)", code="status.rollback")
        changed = accepted is None or trust_list.sequence > accepted
        self.trust_lists[operator] = max(trust_list.sequence, accepted or 0)
        for status_list in lists:
            key = f"{status_list.issuer}/{status_list.list_id}"
            if status_list.sequence > self.status_lists.get(key, -1):
                self.status_lists[key] = status_list.sequence
                changed = True
        if changed:
            self._save()

    def _save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        data = json.dumps({"version": _VERSION, "trust_lists": self.trust_lists,
                           "status_lists": self.status_lists}, indent=1, sort_keys=True)
        fd, tmp = tempfile.mkstemp(prefix=".state-", dir=self.path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                out.write(data)
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
