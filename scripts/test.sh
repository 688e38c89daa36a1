#!/usr/bin/env bash
# Run the whole suite: lint, types, tests (SoftHSM2, the SDF library, PostgreSQL, Chromium).
# Usage: scripts/test.sh [pytest args...]
source "$(dirname "${BASH_SOURCE[0]}")/_setup.sh"
apt_install fonts-wqy-microhei libssl3 libssl-dev openssl gcc softhsm2 opensc poppler-utils \
  postgresql chromium chromium-driver
setup_venv "[test,fast,fast-batch]"  # fast-batch: Intel runtime, see docs/operations.md
cd "$ROOT"

# ofd.js (npm, Apache-2.0): an independent OFD renderer for tests/test_ofd_render.py.
# Only its self-contained bundle is needed, so the package is fetched without dependencies.
OFDJS_DIR="$ROOT/.cache/ofdjs"
if [ ! -f "$OFDJS_DIR/ofd.umd.min.js" ]; then
  command -v npm >/dev/null || apt_install npm
  mkdir -p "$OFDJS_DIR"
  ofdjs_tmp="$(mktemp -d)"
  (cd "$ofdjs_tmp" && npm pack ofd.js@0.2.6 --silent >/dev/null \
    && tar xzf ofd.js-0.2.6.tgz package/lib/ofd.umd.min.js \
    && mv package/lib/ofd.umd.min.js "$OFDJS_DIR/")
  rm -rf "$ofdjs_tmp"
fi

# A throwaway PostgreSQL cluster for the `postgres` tests, removed on exit.
if [ -z "${SEALTRUST_TEST_PG_URL:-}" ]; then
  source "$ROOT/scripts/pg_temp.sh"
  pg_temp_start
  trap pg_temp_stop EXIT
fi

echo "== ruff" >&2
"$VENV/bin/ruff" check .
echo "== mypy" >&2
"$VENV/bin/mypy"
echo "== pytest" >&2
"$VENV/bin/pytest" -q "$@"
