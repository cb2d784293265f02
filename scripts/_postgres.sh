# Sourced by scripts/test: a throwaway PostgreSQL server for the tests, stopped (and deleted) when the run ends.
# Exports ENCORE_TEST_DATABASE_URL; keeps one that is already set; does nothing when no server binaries exist.
postgres_bin() {
  local dir
  for dir in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
    [ -x "$dir/pg_ctl" ] && { echo "$dir"; return 0; }
  done
  command -v pg_ctl >/dev/null 2>&1 && { dirname "$(command -v pg_ctl)"; return 0; }
  return 1
}

start_test_postgres() {
  [ -n "${ENCORE_TEST_DATABASE_URL:-}" ] && return 0
  local bin
  bin="$(postgres_bin)" || { echo "scripts/test: no PostgreSQL server binaries: the PostgreSQL tests are skipped" >&2; return 0; }
  local as=()
  # initdb and pg_ctl refuse to run as root: then they run as the postgres user.
  [ "$(id -u)" = 0 ] && as=(runuser -u postgres --)
  ENCORE_PGDATA="$(mktemp -d "${TMPDIR:-/tmp}/encore-pg.XXXXXX")"
  [ "$(id -u)" = 0 ] && chown postgres "$ENCORE_PGDATA"
  local port
  port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
  ENCORE_PG_CTL=("${as[@]}" "$bin/pg_ctl" -D "$ENCORE_PGDATA/data")
  trap stop_test_postgres EXIT
  "${as[@]}" "$bin/initdb" -D "$ENCORE_PGDATA/data" -U postgres -A trust --no-sync >"$ENCORE_PGDATA/initdb.log" 2>&1 \
    || { cat "$ENCORE_PGDATA/initdb.log" >&2; return 1; }
  "${ENCORE_PG_CTL[@]}" -l "$ENCORE_PGDATA/server.log" -w -o \
    "-p $port -k $ENCORE_PGDATA -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off" \
    start >/dev/null || { cat "$ENCORE_PGDATA/server.log" >&2; return 1; }
  export ENCORE_TEST_DATABASE_URL="postgresql://postgres@127.0.0.1:$port/postgres"
}

stop_test_postgres() {
  if [ -n "${ENCORE_PGDATA:-}" ]; then
    "${ENCORE_PG_CTL[@]}" stop -m immediate >/dev/null 2>&1 || true
    rm -rf "$ENCORE_PGDATA"
  fi
}
