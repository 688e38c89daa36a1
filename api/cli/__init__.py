"""The ``sealtrust`` command line.

Each command group lives in its own module under ``api.cli`` and exposes a
click command or group named ``command``; ``_COMMANDS`` lists them. Commands
call the same domain functions the HTTP routes call.
"""

from __future__ import annotations

import importlib

import click

_COMMANDS = (
    "keys",
    "init",
    "doctor",
    "pki",
    "serve",
    "dept",
    "seal",
    "clients",
    "issue",
    "licence",
    "types",
    "services",
    "qr",
    "trust",
    "verify",
    "audit",
    "registry",
    "cases",
    "worker",
    "outbox",
    "archive",
)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="sealtrust")
def cli() -> None:
    """SealTrust: electronic licences and seals (SM2/SM3, RSA, GB/T 38540).

    The CLI works on the deployment's keys and database directly and bypasses
    the HTTP API's roles (seal administrator, issuer, CA operator...): run it
    only as a trusted operator. Every audit entry it writes names the operator
    (--operator, env SEALTRUST_OPERATOR, or the OS user) as cli:<name>.
    """


for _name in _COMMANDS:
    _module = importlib.import_module(f"api.cli.{_name}")
    cli.add_command(_module.command)
    for _extra in getattr(_module, "EXTRA_COMMANDS", ()):
        cli.add_command(_extra)


def main() -> None:
    """Console-script entry point."""
    cli(prog_name="sealtrust")
