"""``sealtrust registry``: personal data at rest: status (is the KEK right?) and encrypt.

``registry encrypt`` seals the licences of a deployment that stored them in
clear before encryption existed, in resumable batches (one transaction
each): interrupt it and run it again. Reading works throughout: a row is
plaintext or sealed and the registry tells which. Like every CLI command it
bypasses the HTTP roles; it is audited under ``--operator`` (default: the
OS user).
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click
from sqlalchemy import text

from api.cli._common import EXIT_FAILED, CliContext, common_options
from api.data_kek import CONFIG_KEY, FIRST_FILE_KEK, create_kek, data_keys_for, set_current_kek
from api.deployment import Deployment, device_pin_env, open_deployment
from hsm_adapters.errors import KeyExistsError
from trust import audit
from trust.errors import SealTrustError
from trust.registry.rekey import BatchProgress, count_plaintext, count_to_rewrap, encrypt_rows
from trust.registry.request_macs import count_unkeyed
from trust.registry.sealed import (
    DataKeys,
    DataKeyUnavailableError,
    check_kek,
    kek_registered,
    register_kek,
)

__all__ = ["command", "ensure_kek"]

@click.group("registry")
def command() -> None:
    """Personal data at rest: encryption status and migration of plaintext rows."""


def keys_or_fail(dep: Deployment) -> DataKeys:
    """The deployment's KEKs, checked: a missing or wrong KEK stops here with a clear error."""
    keys = dep.registry.data_keys
    if keys is None:
        raise DataKeyUnavailableError(
            "this deployment has no data key-encryption key: run `sealtrust registry encrypt` "
            "/ 本部署尚未配置数据密钥加密密钥")
    with dep.registry.session() as session:
        check_kek(session, keys)
    return keys


def ensure_kek(dep: Deployment, uri: str, actor: str) -> DataKeys:
    """Create (or, after an interrupted run, adopt) the KEK at ``uri`` and make it current."""
    pin = dep.pin_for(uri)
    now = datetime.now(UTC)
    requested = uri
    with dep.registry.session() as session:
        try:
            uri = create_kek(dep.stores, uri, pin, session)
        except KeyExistsError:
            # A previous run created the key and stopped before deployment.json named it:
            # adopt it only if it is the one registered here (check_kek below).
            with dep.stores.open_wrapping_key(uri, pin) as kek:
                if not kek_registered(session, uri):
                    register_kek(session, kek)
        audit.append(session, kind="data_kek.created", actor=actor, subject=uri, at=now,
                     details={"previous": dep.config.get(CONFIG_KEY)})
        audit.sign_pending(session, dep.key("audit"), now)
    if uri != requested:  # the token added id=: the new URI keeps the requested PIN source
        spec = dep.config.get("pins", {}).get(requested) or {"env": device_pin_env(requested)}
        dep.set_pin_source(uri, env=spec.get("env"),
                           file=Path(spec["file"]) if "file" in spec else None)
    dep.config = set_current_kek(dep.home, uri)
    keys = data_keys_for(dep)
    assert keys is not None
    dep.registry.data_keys = keys
    with dep.registry.session() as session:
        check_kek(session, keys)
    return keys


@command.command("status")
@common_options
def status(cli: CliContext) -> None:
    """How many licences are sealed or still in clear, and whether the KEK is the right one."""
    with open_deployment(cli.home) as dep:
        with dep.registry.session() as session:
            plain = count_plaintext(session)
            total = int(session.execute(text("SELECT COUNT(*) FROM licences")).scalar_one())
        current = dep.config.get(CONFIG_KEY)
        report: dict[str, Any] = {"licences": total, "plaintext": plain,
                                  "sealed": total - plain, "data_kek": current}
        # rows still holding a plain request digest (sealtrust init keys them)
        report["request_digests_unkeyed"] = count_unkeyed(dep.registry)
        problem: SealTrustError | None = None
        try:
            keys = keys_or_fail(dep)
            with dep.registry.session() as session:
                report["under_other_keks"] = count_to_rewrap(session, keys.current)
            report["data_kek_status"] = "ok"
        except SealTrustError as exc:
            problem = exc
            report["data_kek_status"] = f"down: [{exc.code}] {exc.message}"
    cli.emit(report, f"{total} licences: {total - plain} sealed, {plain} in clear\n"
                     f"data KEK {current or '(none)'}: {report['data_kek_status']}")
    if problem is not None:
        raise SystemExit(EXIT_FAILED)


@command.command("encrypt")
@click.option("--batch-size", default=200, show_default=True, type=click.IntRange(1, 10_000),
              help="Licences sealed per transaction.")
@click.option("--kek-uri", default=None,
              help=f"Where to create the KEK when the deployment has none (default "
                   f"{FIRST_FILE_KEK}; pkcs11: for a token).")
@click.option("--vacuum/--no-vacuum", default=True, show_default=True,
              help="Afterwards rewrite the tables so freed plaintext pages do not linger "
                   "(SQLite VACUUM; PostgreSQL VACUUM FULL of licences and licence_files).")
@common_options
def encrypt(cli: CliContext, batch_size: int, kek_uri: str | None, vacuum: bool) -> None:
    """Seal every licence still stored in clear (resumable; reading works throughout)."""
    from tqdm import tqdm

    actor = cli.actor  # --operator, as every CLI command
    with open_deployment(cli.home) as dep:
        if dep.registry.data_keys is None:
            keys = ensure_kek(dep, kek_uri or FIRST_FILE_KEK, actor)
            cli.say(f"created the data key-encryption key {keys.current}")
        else:
            keys = keys_or_fail(dep)
        now = datetime.now(UTC)
        with dep.registry.session() as session:
            pending = count_plaintext(session)
            audit.append(session, kind="registry.encrypt_started", actor=actor,
                         subject="licences", at=now,
                         details={"pending": pending, "data_kek": keys.current})
            audit.sign_pending(session, dep.key("audit"), now)
        bar = tqdm(total=pending, unit="licence", file=sys.stderr, disable=cli.json or None,
                   dynamic_ncols=True)

        def after_batch(session: Any) -> None:
            audit.sign_pending(session, dep.key("audit"), datetime.now(UTC))

        def progress(batch: BatchProgress) -> None:
            bar.update(batch.rows)

        try:
            sealed = encrypt_rows(dep.registry, keys, batch_size=batch_size, on_batch=progress,
                                  after_batch=after_batch)
        finally:
            bar.close()
        now = datetime.now(UTC)
        with dep.registry.session() as session:
            left = count_plaintext(session)
            audit.append(session, kind="registry.encrypted", actor=actor, subject="licences",
                         at=now, details={"sealed": sealed, "left": left,
                                          "data_kek": keys.current})
            audit.sign_pending(session, dep.key("audit"), now)
        if vacuum:
            _vacuum(dep)
    report = {"sealed": sealed, "plaintext_left": left, "data_kek": keys.current,
              "vacuumed": vacuum}
    cli.emit(report, f"sealed {sealed} licences, {left} left in clear, KEK {keys.current}"
                     + ("" if vacuum else "; run VACUUM to drop freed plaintext pages"))
    if left:
        raise SystemExit(EXIT_FAILED)


def _vacuum(dep: Deployment) -> None:
    """Rewrite storage so the plaintext of sealed rows does not survive in freed pages."""
    with dep.registry.engine.connect() as conn:
        conn = conn.execution_options(isolation_level="AUTOCOMMIT")
        if conn.dialect.name == "sqlite":
            conn.exec_driver_sql("VACUUM")
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        else:
            conn.exec_driver_sql("VACUUM FULL licences, licence_files")
