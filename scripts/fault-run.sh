#!/usr/bin/env bash
# The fault run (issue 13): three `polis serve` replicas on a PostgreSQL of the run's
# own (a throwaway cluster under target/, so restarting it disturbs nothing else),
# contended writes for FAULT_SECONDS (default 60), one replica SIGKILLed and restarted,
# PostgreSQL restarted once; then the invariants and every acknowledged write are
# checked. Exits non-zero when a check fails.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds="${FAULT_SECONDS:-60}"
# Candidate ports lie below Linux's ephemeral range (32768-60999), where one of the run's
# own client connections could be holding the port; one taken anyway is skipped.
ports="${FAULT_PG_PORT:-25432 25433 25434 25435 25436}"
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
as_postgres "$bin/initdb" -D "$dir/data" -U postgres --auth=trust -E UTF8 >/dev/null
port=""
for candidate in $ports; do
  if as_postgres "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w \
    -o "-p $candidate -k $dir -c listen_addresses=127.0.0.1 -c max_connections=200" \
    start >/dev/null; then
    port="$candidate"
    break
  fi
done
[ -n "$port" ] || { echo "fault-run: PostgreSQL did not start on $ports ($dir/server.log)" >&2; exit 1; }
echo "fault-run: a private PostgreSQL $version on port $port ($dir)"
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
