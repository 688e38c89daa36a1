"""What every ``sealtrust`` command shares: ``--home``, ``--json``, output, errors.

Machine output (``--json``) is exactly one JSON document on stdout; human text
goes to stderr so that pipes stay clean.
"""

from __future__ import annotations

import functools
import json
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


@dataclass(frozen=True)
class CliContext:
    """Options common to all commands."""

    home: Path
    json: bool

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
    @functools.wraps(fn)
    def wrapper(*args: Any, home: Path, as_json: bool, **kwargs: Any) -> Any:
        cli = CliContext(home=home, json=as_json)
        try:
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
