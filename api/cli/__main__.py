"""``python -m api.cli`` runs the ``sealtrust`` command."""

from api.cli import main

main()
