"""What every ``sealtrust`` command shares: ``--home``, ``--json``, output, errors.

Machine output (``--json``) is exactly one JSON document on stdout; human text
goes to stderr so that pipes stay clean.

The CLI opens the deployment's keys and database directly, so the HTTP roles
do not apply to it: whoever can read HOME can act. What it does is audited
under the operator's name instead (``--operator``, ``SEALTRUST_OPERATOR``, or
the OS user), as ``cli:<operator>`` in every audit entry it writes.
"""

from __future__ import annotations

import functools
import getpass
import json
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import click

from trust.errors import InputError, NotFoundError, SealTrustError

DEFAULT_HOME = Path(".sealtrust")
F = TypeVar("F", bound=Callable[..., Any])

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
OPERATOR_ENV = "SEALTRUST_OPERATOR"
_OPERATOR = re.compile(r"^[^\x00-\x1f\x7f]{1,64}$")


def os_operator() -> str:
    """The OS user running the command (the default operator name)."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry (a container) and no LOGNAME/USER
        return "unknown-os-user"


def check_operator(name: str) -> str:
    """An operator name fit for an audit entry: 1-64 printable characters."""
    name = name.strip()
    if not _OPERATOR.match(name):
        raise InputError("--operator: 1 to 64 printable characters")
    return name


@dataclass(frozen=True)
class CliContext:
    """Options common to all commands."""

    home: Path
    json: bool
    operator: str = ""

    @property
    def actor(self) -> str:
        """The audit actor of this invocation: ``cli:<operator>``."""
        return f"cli:{self.operator or os_operator()}"

    def emit(self, data: Any, human: str | None = None) -> None:
        """Print ``data`` as one JSON document (``--json``) or ``human`` text to stderr."""
        if self.json:
            click.echo(json.dumps(data, ensure_ascii=False, indent=2, default=str))
        elif human is not None:
            click.echo(human, err=True)
        else:
            click.echo(json.dumps(data, ensure_ascii=False, indent=2, default=str), err=True)

    def say(self, text: str) -> None:
        """Human progress text (stderr), silent under ``--json``."""
        if not self.json:
            click.echo(text, err=True)


def common_options(fn: F) -> F:
    """Add ``--home`` (env SEALTRUST_HOME) and ``--json``; pass a CliContext as ``cli``."""

    @click.option(
        "--home",
        type=click.Path(file_okay=False, path_type=Path),
        envvar="SEALTRUST_HOME",
        default=DEFAULT_HOME,
        show_default=True,
        help="Deployment directory (env SEALTRUST_HOME).",
    )
    @click.option("--json", "as_json", is_flag=True, help="Print one JSON document on stdout.")
    @click.option("--operator", envvar=OPERATOR_ENV, default=None, metavar="NAME",
                  help="Who runs this command, recorded in every audit entry it writes "
                       "(env SEALTRUST_OPERATOR; default: the OS user). The CLI bypasses "
                       "the HTTP roles.")
    @functools.wraps(fn)
    def wrapper(*args: Any, home: Path, as_json: bool, operator: str | None,
                **kwargs: Any) -> Any:
        cli = CliContext(home=home, json=as_json)
        try:
            cli = CliContext(home=home, json=as_json,
                             operator=check_operator(operator or os_operator()))
            return fn(*args, cli=cli, **kwargs)
        except SealTrustError as exc:
            _fail(cli, exc)

    return wrapper  # type: ignore[return-value]


def _fail(cli: CliContext, exc: SealTrustError) -> None:
    usage = isinstance(exc, InputError | NotFoundError)
    if cli.json:
        click.echo(json.dumps({"error": exc.to_dict()}, ensure_ascii=False))
    click.echo(f"error [{exc.code}]: {exc.message}", err=True)
    sys.exit(EXIT_USAGE if usage else EXIT_FAILED)
