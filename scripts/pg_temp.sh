# Start/stop a private PostgreSQL cluster on a Unix socket in a temp directory.
# Exports SEALTRUST_TEST_PG_URL for the tests marked `postgres`.
pg_temp_start() {
  local bindir
  bindir="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)"
  if [ -z "$bindir" ]; then
    echo "PostgreSQL server binaries not found" >&2
    return 1
  fi
  PG_TMP="$(mktemp -d /tmp/sealtrust-pg.XXXXXX)"
  local runas=()
  if [ "$(id -u)" -eq 0 ]; then
    chown postgres:postgres "$PG_TMP"
    runas=(runuser -u postgres --)
  fi
  "${runas[@]}" "$bindir/initdb" -D "$PG_TMP/data" -U sealtrust -A trust -E UTF8 >/dev/null
  "${runas[@]}" "$bindir/pg_ctl" -D "$PG_TMP/data" -l "$PG_TMP/log" -w \
    -o "-k $PG_TMP -c listen_addresses='' -c max_connections=200 -c fsync=off" start >/dev/null
  "${runas[@]}" "$bindir/createdb" -h "$PG_TMP" -U sealtrust sealtrust_test
  export SEALTRUST_TEST_PG_URL="postgresql+psycopg://sealtrust@/sealtrust_test?host=$PG_TMP"
  export PG_BINDIR="$bindir"
  echo "PostgreSQL test cluster at $PG_TMP" >&2
}

pg_temp_stop() {
  [ -n "${PG_TMP:-}" ] || return 0
  local runas=()
  [ "$(id -u)" -eq 0 ] && runas=(runuser -u postgres --)
  "${runas[@]}" "$PG_BINDIR/pg_ctl" -D "$PG_TMP/data" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$PG_TMP"
}
