#!/usr/bin/env bash
# The fault run (issue 13): three `polis serve` replicas on a PostgreSQL of the run's
# own (a throwaway cluster under target/, so restarting it disturbs nothing else),
# contended writes for FAULT_SECONDS (default 60), one replica SIGKILLed and restarted,
# PostgreSQL restarted once; then the invariants and every acknowledged write are
# checked. Exits non-zero when a check fails.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds="${FAULT_SECONDS:-60}"
port="${FAULT_PG_PORT:-55432}"
version="$(ls /usr/lib/postgresql | sort -V | tail -n 1)"
bin="/usr/lib/postgresql/$version/bin"
target_dir="${CARGO_TARGET_DIR:-$PWD/target}"
dir="$target_dir/fault-pg"

# PostgreSQL refuses to run as root: as root, run it as the postgres user.
as_postgres() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

stop() { as_postgres "$bin/pg_ctl" -D "$dir/data" stop -m immediate >/dev/null 2>&1 || true; }
stop
rm -rf "$dir"
mkdir -p "$dir"
if [ "$(id -u)" = 0 ]; then chown postgres "$dir"; fi
echo "fault-run: a private PostgreSQL $version on port $port ($dir)"
as_postgres "$bin/initdb" -D "$dir/data" -U postgres --auth=trust -E UTF8 >/dev/null
as_postgres "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w \
  -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c max_connections=200" start >/dev/null
trap stop EXIT
psql -h 127.0.0.1 -p "$port" -U postgres -q -c "CREATE DATABASE polis_faults"

echo "fault-run: building polis and the run"
cargo build --quiet --bin polis --example fault_run
restart="$bin/pg_ctl -D $dir/data -w -m fast restart"
if [ "$(id -u)" = 0 ]; then restart="runuser -u postgres -- $restart"; fi
"$target_dir/debug/examples/fault_run" \
  --database-url "postgres://postgres@127.0.0.1:$port/polis_faults" \
  --pg-restart "$restart >/dev/null" \
  --seconds "$seconds" \
  --logs "$target_dir/fault-run"
