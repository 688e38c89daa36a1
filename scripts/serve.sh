#!/usr/bin/env bash
# Run SealTrust on the embedded default: SQLite, software key store, demo PKI and seal.
# Usage: scripts/serve.sh [--host H] [--port P]   (home: $SEALTRUST_HOME or ./.sealtrust)
source "$(dirname "${BASH_SOURCE[0]}")/_setup.sh"
apt_install fonts-wqy-microhei libssl3 openssl gcc  # gcc: compiled parsers (docs/operations.md)
setup_venv "[fast]"
"$VENV/bin/sealtrust" init
exec "$VENV/bin/sealtrust" serve "$@"
