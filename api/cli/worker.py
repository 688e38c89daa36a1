"""``sealtrust worker``: drain the outbox (case issuance, holder notifications)."""

from __future__ import annotations

import click

from api.cli._common import CliContext, common_options


@click.command("worker")
@click.option("--once", is_flag=True, help="Process what is due now, then exit.")
@click.option("--idle", default=1.0, show_default=True, type=float,
              help="Seconds to wait when nothing is due.")
@common_options
def command(cli: CliContext, once: bool, idle: float) -> None:
    """Run an outbox worker (any number may run, on any node: items are leased).

    The notifier comes from the environment as for ``serve``
    (SEALTRUST_NOTIFIER=log|webhook, SEALTRUST_NOTIFY_WEBHOOK_URL, ..._SECRET).
    """
    import threading

    from api.deployment import open_deployment
    from api.settings import Settings
    from api.worker import deployment_worker
    from trust.registry import outbox

    with open_deployment(cli.home) as dep:
        worker = deployment_worker(dep, Settings(home=cli.home))
        if once:
            tally = worker.run_once()
            with dep.registry.session() as session:
                left = outbox.counts(session)
            cli.emit({"worker": worker.owner, "processed": tally, "outbox": left},
                     f"worker {worker.owner}: " + ", ".join(f"{v} {k}" for k, v in tally.items())
                     + f"; outbox {left}")
            return
        cli.say(f"worker {worker.owner} running (Ctrl-C to stop)")
        stop = threading.Event()
        try:
            worker.run_forever(stop, idle=idle)
        except KeyboardInterrupt:
            stop.set()
