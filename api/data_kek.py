"""The deployment's data key-encryption key (KEK): created at init, opened lazily, rotated.

``deployment.json`` names the current KEK (``"data_kek": URI``); rows name
the KEK that wraps their data key (``licences.data_kek``), so older KEKs are
opened by URI while a rotation is under way. The default is an SM4 key in a
password-protected file (``file:keys/data-kek-<n>.kek``, the key-store
password); a PKCS#11 token holds an AES-256 key instead (SoftHSM2 offers no
SM4), see docs/encryption-at-rest.md. A deployment without ``data_kek``
stores personal data in clear (created before encryption; ``sealtrust
registry encrypt`` creates the KEK and seals the rows).
"""

from __future__ import annotations

import json
import os
import re
from typing import TYPE_CHECKING, Any, Final

from hsm_adapters import KeyStoreRegistry
from hsm_adapters.pins import PinSource
from trust.registry.sealed import DataKeys, register_kek

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from api.deployment import Deployment, Home

__all__ = ["CONFIG_KEY", "create_kek", "data_keys_for", "next_file_kek_uri", "set_current_kek"]

CONFIG_KEY: Final = "data_kek"
FIRST_FILE_KEK: Final = "file:keys/data-kek-1.kek"
_NUMBERED: Final = re.compile(r"^file:keys/data-kek-(\d+)\.kek$")


def create_kek(stores: KeyStoreRegistry, uri: str, pin: PinSource | None,
               session: Session) -> str:
    """Generate a KEK at ``uri`` in its store, register its check value; its full URI.

    A token may add to the URI (``id=`` of the new object): the returned URI is
    the one to record, as rows and check values name it.
    """
    with stores.generate_wrapping_key(uri, pin) as kek:
        register_kek(session, kek)
        return kek.uri


def data_keys_for(deployment: Deployment) -> DataKeys | None:
    """The KEKs of ``deployment`` (opened on first use with each URI's PIN source)."""
    current = deployment.config.get(CONFIG_KEY)
    if not isinstance(current, str) or not current:
        return None
    return DataKeys(current, lambda uri: deployment.stores.open_wrapping_key(
        uri, deployment.pin_for(uri)))


def next_file_kek_uri(current: str | None) -> str:
    """``file:keys/data-kek-<n+1>.kek`` after the current numbered file KEK."""
    match = _NUMBERED.match(current or "")
    return FIRST_FILE_KEK if match is None and not current else \
        f"file:keys/data-kek-{int(match.group(1)) + 1 if match else 2}.kek"


def set_current_kek(home: Home, uri: str) -> dict[str, Any]:
    """Record ``uri`` as the current KEK in deployment.json (atomic replace); the new config."""
    from api.deployment import load_config

    config = load_config(home)  # re-read: another command may have changed it
    config[CONFIG_KEY] = uri
    tmp = home.config.with_name(f".{home.config.name}.{os.getpid()}.kek.tmp")
    tmp.write_text(json.dumps(config, ensure_ascii=False, indent=2))
    tmp.replace(home.config)
    return config
