"""``sealtrust archive``: packages for the records office (docs/archive.md).

``export`` writes the chosen licences, their registry status and evidence
(trust list, status lists, signed audit head and inclusion proofs) in clear,
and their personal records and files encrypted to the records office's SM2
certificate; the export is audited. ``open`` reads a package back with the
records office's private key and checks its evidence. Like every CLI
command it bypasses the HTTP roles and is audited under ``--operator``.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path

import click

from api.cli._common import EXIT_FAILED, CliContext, common_options
from api.deployment import open_deployment
from trust.errors import InputError
from trust.registry.archive_select import Selection

__all__ = ["command"]


@click.group("archive")
def command() -> None:
    """Archive packages for the records office (personal data encrypted to its SM2 key)."""


@command.command("export")
@click.option("--licence", "licence_ids", multiple=True, metavar="ID",
              help="A licence to export (repeatable).")
@click.option("--type", "type_code", default=None, help="Every licence of this type.")
@click.option("--department", default=None, help="Every licence of this department.")
@click.option("--recipient", required=True, type=click.Path(dir_okay=False, exists=True,
                                                             path_type=Path),
              help="The records office's SM2 certificate (PEM).")
@click.option("--out", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="Where to write the package (zip; must not exist).")
@common_options
def export(cli: CliContext, licence_ids: tuple[str, ...], type_code: str | None,
           department: str | None, recipient: Path, out: Path) -> None:
    """Write an archive package of the chosen licences (audited: archive.exported)."""
    from api.archive import export_archive

    selection = Selection(licence_ids=licence_ids, type_code=type_code, department=department)
    if out.exists():
        raise InputError(f"{out} exists: choose a new file / 输出文件已存在", code="archive.out")
    with open_deployment(cli.home) as dep:
        result = export_archive(dep, selection, recipient.read_bytes(), out, actor=cli.actor,
                                now=datetime.now(UTC))
    cli.emit(result.to_dict(), f"wrote {result.licences} licences to {result.path} "
                               f"(package {result.package_id}, audit entry {result.audit_seq})")


@command.command("open")
@click.argument("package", type=click.Path(dir_okay=False, exists=True, path_type=Path))
@click.option("--key", "key_file", required=True,
              type=click.Path(dir_okay=False, exists=True, path_type=Path),
              help="The records office's SM2 private key (PEM or DER; PKCS#8 or SEC1).")
@click.option("--password-env", default=None, metavar="NAME",
              help="Environment variable holding the password of an encrypted key.")
@click.option("--out-dir", default=None, type=click.Path(file_okay=False, path_type=Path),
              help="Write the decrypted records, files and evidence here (created, 0700).")
@common_options
def open_(cli: CliContext, package: Path, key_file: Path, password_env: str | None,
          out_dir: Path | None) -> None:
    """Decrypt and check a package; exit 1 when its evidence does not check out."""
    from api.archive import read_private_key
    from trust.archive import check_evidence, open_package

    password = None
    if password_env:
        value = os.environ.get(password_env)
        if value is None:
            raise InputError(f"{password_env} is not set", code="archive.key")
        password = value.encode()
    opened = open_package(package, read_private_key(key_file.read_bytes(), password))
    problems = check_evidence(opened)
    if out_dir is not None:
        out_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        for folder, entries in (("personal", opened.personal), ("evidence", opened.evidence)):
            (out_dir / folder).mkdir(exist_ok=True, mode=0o700)
            for name, data in entries.items():  # names were checked against a safe pattern
                target = out_dir / folder / name
                fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
                with os.fdopen(fd, "wb") as fh:
                    fh.write(data)
        (out_dir / "manifest.json").write_text(
            json.dumps(opened.manifest, ensure_ascii=False, indent=1), encoding="utf-8")
    report = {"package_id": opened.manifest["package_id"],
              "licences": [lic["id"] for lic in opened.manifest.get("licences", [])],
              "personal_entries": len(opened.personal), "evidence_ok": not problems,
              "problems": problems}
    cli.emit(report, f"package {report['package_id']}: {len(report['licences'])} licences, "
                     f"{len(opened.personal)} personal entries decrypted; evidence "
                     + ("ok" if not problems else "PROBLEMS:\n  " + "\n  ".join(problems)))
    if problems:
        raise SystemExit(EXIT_FAILED)
