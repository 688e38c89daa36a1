"""``sealtrust serve``: run the HTTP service with uvicorn."""

from __future__ import annotations

from typing import Any

import click

from api.cli._common import CliContext, common_options
from api.reuseport import REUSE_PORT, serve_workers


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to bind.")
@click.option("--port", default=8080, show_default=True, type=int, help="TCP port.")
@click.option("--workers", default=1, show_default=True, type=int, help="Worker processes.")
@click.option("--access-log/--no-access-log", default=False, show_default=True,
              help="uvicorn's per-request log line (off: it costs ~0.1 ms CPU a request, "
                   "1/8 of a QR check, and its URLs carry QR tokens; /metrics counts "
                   "requests).")
@common_options
def command(cli: CliContext, host: str, port: int, workers: int, access_log: bool) -> None:
    """Serve the API and the verification page on HOST:PORT."""
    import os

    import uvicorn

    os.environ["SEALTRUST_HOME"] = str(cli.home.resolve())
    click.echo(f"SealTrust on http://{host}:{port}/ (home {cli.home.resolve()})", err=True)
    click.echo(f"Verification page: http://{host}:{port}/verify", err=True)
    click.echo(f"API docs: http://{host}:{port}/docs", err=True)
    config: dict[str, Any] = {
        "app": "api.app:create_app",
        "factory": True,
        "host": host,
        "port": port,
        "log_level": "info",
        # Threat: live QR tokens (GET /v1/qr/render?text=...) and licence ids written to a
        # log file that many people read; off unless a deployment asks for it.
        "access_log": access_log,
    }
    if workers > 1 and REUSE_PORT:
        # A socket per worker (SO_REUSEPORT): uvicorn's shared socket let one worker
        # accept every connection of a burst (api/reuseport.py).
        raise SystemExit(serve_workers(config, host, port, workers))
    uvicorn.run(**config, workers=workers)
