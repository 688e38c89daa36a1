#!/usr/bin/env bash
# Run the whole suite: lint, types, tests (SoftHSM2, the SDF library, PostgreSQL, Chromium).
# Usage: scripts/test.sh [pytest args...]
source "$(dirname "${BASH_SOURCE[0]}")/_setup.sh"
apt_install fonts-wqy-microhei libssl3 libssl-dev openssl gcc softhsm2 opensc poppler-utils \
  postgresql chromium chromium-driver
setup_venv "[test,fast,fast-batch]"  # fast-batch: Intel runtime, see docs/operations.md
cd "$ROOT"

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
