"""``sealtrust keys``: generate, list, show, import and export certificates, any scheme.

Every command takes ``--uri`` (``file:``, ``pkcs11:``, ``sdf:``). The PIN or
key-store password comes from ``--pin-env VAR``, ``--pin-file PATH`` (mode
0600) or ``--pin-prompt``; by default from SEALTRUST_KEYSTORE_PASSWORD, then
HOME/secrets/keystore.pass (the embedded development deployment). PINs are
never accepted as option values: they would land in shell history.
"""

from __future__ import annotations

import hashlib
import os
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

import click
from asn1crypto import pem, x509

from api.cli._common import EXIT_FAILED, CliContext, common_options
from api.cli.registry import ensure_kek, keys_or_fail
from api.data_kek import next_file_kek_uri
from api.deployment import open_deployment
from hsm_adapters import (
    EnvPin,
    FilePin,
    Key,
    KeyStoreRegistry,
    LiteralPin,
    PinSource,
)
from trust import audit, pkcs8
from trust.errors import InputError
from trust.keys import ALGORITHMS
from trust.registry.rekey import count_to_rewrap, rewrap_rows

PASSWORD_ENV: Final = "SEALTRUST_KEYSTORE_PASSWORD"  # noqa: S105 - a variable name
MAX_INPUT: Final = 1024 * 1024


def _pin_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    fn = click.option("--pin-prompt", is_flag=True, help="Ask for the PIN on the terminal.")(fn)
    fn = click.option("--pin-file", type=click.Path(dir_okay=False, path_type=Path),
                      help="Read the PIN from a file of mode 0600.")(fn)
    fn = click.option("--pin-env", metavar="VAR",
                      help="Read the PIN from environment variable VAR.")(fn)
    return fn


def _pin(cli: CliContext, pin_env: str | None, pin_file: Path | None,
         pin_prompt: bool) -> PinSource | None:
    if sum(bool(x) for x in (pin_env, pin_file, pin_prompt)) > 1:
        raise InputError("give at most one of --pin-env, --pin-file, --pin-prompt")
    if pin_env:
        return EnvPin(pin_env)
    if pin_file:
        return FilePin(pin_file)
    if pin_prompt:
        return LiteralPin(click.prompt("PIN", hide_input=True, err=True))
    if os.environ.get(PASSWORD_ENV):
        return EnvPin(PASSWORD_ENV)
    default = cli.home / "secrets" / "keystore.pass"
    return FilePin(default) if default.exists() else None


def _fingerprint(der: bytes) -> str:
    return hashlib.sha256(der).hexdigest()


def _describe(key: Key) -> dict[str, Any]:
    chain = []
    for der in key.certificate_chain():
        cert = x509.Certificate.load(der)
        chain.append({"subject": cert.subject.human_friendly,
                      "issuer": cert.issuer.human_friendly,
                      "serial": format(cert.serial_number, "x"),
                      "sha256": _fingerprint(der)})
    return {"uri": key.uri, "algorithm": key.algorithm,
            "public_key_sha256": _fingerprint(key.public_key_der()),
            "public_key_pem": pem.armor("PUBLIC KEY", key.public_key_der()).decode(),
            "certificate_chain": chain, "health": key.health().to_dict()}


def _read_input(path: Path) -> bytes:
    try:
        if path.stat().st_size > MAX_INPUT:
            raise InputError(f"{path} is larger than 1 MiB")
        return path.read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror}") from None


@click.group("keys")
def command() -> None:
    """Signing keys in software files, PKCS#11 tokens and SDF devices."""


@command.command("generate")
@click.option("--uri", required=True, help="Where the key goes (file:, pkcs11:).")
@click.option("--algorithm", type=click.Choice(ALGORITHMS), default="sm2", show_default=True)
@_pin_options
@common_options
def generate(cli: CliContext, uri: str, algorithm: str, pin_env: str | None,
             pin_file: Path | None, pin_prompt: bool) -> None:
    """Create a key (inside the device where there is one)."""
    with KeyStoreRegistry(base_dir=cli.home) as stores, \
            stores.generate(uri, algorithm, _pin(cli, pin_env, pin_file, pin_prompt)) as key:
        data = _describe(key)
    cli.emit(data, f"generated {data['algorithm']} key {data['uri']}\n"
                   f"public key SHA-256 {data['public_key_sha256']}")


@command.command("list")
@click.option("--uri", required=True,
              help="A directory (file:keys), token (pkcs11:token=X) or device (sdf:?module-path=).")
@_pin_options
@common_options
def list_(cli: CliContext, uri: str, pin_env: str | None, pin_file: Path | None,
          pin_prompt: bool) -> None:
    """List the keys a store holds."""
    with KeyStoreRegistry(base_dir=cli.home) as stores:
        infos = stores.list_keys(uri, _pin(cli, pin_env, pin_file, pin_prompt))
    data = [info.to_dict() for info in infos]
    lines = [f"{i['uri']}  {i['algorithm']}{'  +cert' if i['has_certificate'] else ''}"
             for i in data]
    cli.emit(data, "\n".join(lines) or "no keys")


@command.command("show")
@click.option("--uri", required=True)
@_pin_options
@common_options
def show(cli: CliContext, uri: str, pin_env: str | None, pin_file: Path | None,
         pin_prompt: bool) -> None:
    """Algorithm, public key, certificate chain and health of one key."""
    with KeyStoreRegistry(base_dir=cli.home) as stores, \
            stores.open_key(uri, _pin(cli, pin_env, pin_file, pin_prompt)) as key:
        data = _describe(key)
    health = data["health"]
    state = "up" if health["up"] else f"DOWN ({health['code']}: {health['detail']})"
    chain = "".join(f"\n  cert: {c['subject']} (issuer {c['issuer']})"
                    for c in data["certificate_chain"])
    cli.emit(data, f"{data['uri']}\n  algorithm: {data['algorithm']}\n"
                   f"  public key SHA-256: {data['public_key_sha256']}\n  health: {state}{chain}")


@command.command("import")
@click.option("--uri", required=True)
@click.option("--key-file", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="PKCS#8 private key, PEM or DER; encrypted ones need --key-password-env.")
@click.option("--key-password-env", metavar="VAR",
              help="Environment variable holding the key file's password.")
@click.option("--chain-file", type=click.Path(dir_okay=False, path_type=Path),
              help="PEM certificates to store with the key, leaf first.")
@_pin_options
@common_options
def import_(cli: CliContext, uri: str, key_file: Path, key_password_env: str | None,
            chain_file: Path | None, pin_env: str | None, pin_file: Path | None,
            pin_prompt: bool) -> None:
    """Store an existing private key (and optionally its chain) at --uri."""
    data = _read_input(key_file)
    if pem.detect(data):
        try:
            _, _, data = pem.unarmor(data)
        except ValueError as exc:
            raise InputError(f"{key_file} is not valid PEM: {exc}") from None
    if key_password_env:
        data = pkcs8.decrypt(data, EnvPin(key_password_env)())
    pin = _pin(cli, pin_env, pin_file, pin_prompt)
    with KeyStoreRegistry(base_dir=cli.home) as stores:
        stores.import_key(uri, data, pin).close()
        if chain_file is not None:
            certs = [der for _, _, der in pem.unarmor(_read_input(chain_file), multiple=True)]
            stores.set_certificate_chain(uri, certs, pin)
        with stores.open_key(uri, pin) as key:
            described = _describe(key)
    cli.emit(described, f"imported {described['algorithm']} key {described['uri']}")


@command.command("export-cert")
@click.option("--uri", required=True)
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path),
              help="Write the PEM chain here instead of stdout.")
@_pin_options
@common_options
def export_cert(cli: CliContext, uri: str, out: Path | None, pin_env: str | None,
                pin_file: Path | None, pin_prompt: bool) -> None:
    """The key's certificate chain as PEM, leaf first."""
    with KeyStoreRegistry(base_dir=cli.home) as stores, \
            stores.open_key(uri, _pin(cli, pin_env, pin_file, pin_prompt)) as key:
        chain = key.certificate_chain()
    if not chain:
        raise InputError(f"no certificate stored for {uri}", code="keystore.no_certificate")
    text = b"".join(pem.armor("CERTIFICATE", der) for der in chain).decode()
    if out is not None:
        out.write_text(text)
        cli.emit({"uri": uri, "out": str(out), "certificates": len(chain)},
                 f"wrote {len(chain)} certificate(s) to {out}")
    elif cli.json:
        cli.emit({"uri": uri, "pem": text})
    else:
        click.echo(text, nl=False)


@command.command("rotate-kek")
@click.option("--new-uri", default=None,
              help="Where the new key-encryption key goes (default: the next "
                   "file:keys/data-kek-<n>.kek; a pkcs11: URI for a token).")
@click.option("--batch-size", default=500, show_default=True, type=click.IntRange(1, 10_000),
              help="Data keys re-wrapped per transaction.")
@common_options
def rotate_kek(cli: CliContext, new_uri: str | None, batch_size: int) -> None:
    """New data key-encryption key; re-wrap every data key under it (data is not re-encrypted).

    Resumable: when licences are still wrapped by an older KEK (an interrupted
    rotation), this finishes re-wrapping them under the current KEK instead
    of creating another one. Audited. The old KEK is kept: backups taken
    before the rotation still need it.
    """
    from tqdm import tqdm

    actor = cli.actor  # --operator, as every CLI command
    with open_deployment(cli.home) as dep:
        keys = keys_or_fail(dep)
        previous = keys.current
        with dep.registry.session() as session:
            resuming = count_to_rewrap(session, keys.current) > 0
        if not resuming:
            target = new_uri or next_file_kek_uri(previous)
            keys = ensure_kek(dep, target, actor)
            now = datetime.now(UTC)
            with dep.registry.session() as session:
                audit.append(session, kind="data_kek.rotation_started", actor=actor,
                             subject=target, at=now, details={"from": previous, "to": target})
                audit.sign_pending(session, dep.key("audit"), now)
        else:
            cli.say(f"resuming the rotation to {keys.current}")
        with dep.registry.session() as session:
            pending = count_to_rewrap(session, keys.current)
        bar = tqdm(total=pending, unit="key", file=sys.stderr, disable=cli.json or None,
                   dynamic_ncols=True)
        try:
            done = rewrap_rows(dep.registry, keys, keys.current, batch_size=batch_size,
                               on_batch=lambda batch: bar.update(batch.rows),
                               after_batch=lambda s: audit.sign_pending(
                                   s, dep.key("audit"), datetime.now(UTC)))
        finally:
            bar.close()
        now = datetime.now(UTC)
        with dep.registry.session() as session:
            left = count_to_rewrap(session, keys.current)
            audit.append(session, kind="data_kek.rotated", actor=actor, subject=keys.current,
                         at=now, details={"rewrapped": done, "left": left,
                                          "resumed": resuming})
            audit.sign_pending(session, dep.key("audit"), now)
    report = {"data_kek": keys.current, "previous": None if resuming else previous,
              "rewrapped": done, "left": left, "resumed": resuming}
    cli.emit(report, f"data keys re-wrapped under {keys.current}: {done}"
                     + (f", {left} left (run again)" if left else ""))
    if left:
        raise SystemExit(EXIT_FAILED)
