#!/usr/bin/env bash
# End-to-end test of the TypeScript client: starts the Kratos test double and Polis on
# a fresh PostgreSQL database, then runs e2e/scenario.ts against them.
#
# Needs PostgreSQL on 127.0.0.1:5432 with trust auth and `npm ci` done in
# clients/typescript. Ports and the database name can be overridden:
#   POLIS_E2E_PORT (18080), KRATOS_E2E_PUBLIC_PORT (14433), KRATOS_E2E_ADMIN_PORT (14434),
#   POLIS_E2E_DB (polis_e2e).
set -euo pipefail

client_dir="$(cd "$(dirname "$0")/.." && pwd)"
repo="$(cd "$client_dir/../.." && pwd)"
cd "$repo"

polis_port="${POLIS_E2E_PORT:-18080}"
kratos_public_port="${KRATOS_E2E_PUBLIC_PORT:-14433}"
kratos_admin_port="${KRATOS_E2E_ADMIN_PORT:-14434}"
db="${POLIS_E2E_DB:-polis_e2e}"
pg="postgres://postgres@127.0.0.1:5432"
polis_url="http://127.0.0.1:$polis_port"

say() { echo "e2e: $*"; }

logs="$(mktemp -d)"
pids=()
cleanup() {
  local status=$?
  for pid in "${pids[@]}"; do
    kill "$pid" 2>/dev/null || true
  done
  for pid in "${pids[@]}"; do
    wait "$pid" 2>/dev/null || true
  done
  if [ "$status" -ne 0 ]; then
    for log in "$logs"/*.log; do
      [ -s "$log" ] || continue
      echo "---- last lines of $(basename "$log")"
      tail -n 40 "$log"
    done
  fi
  rm -rf "$logs"
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# A port already taken would let this script talk to some other server.
for port in "$polis_port" "$kratos_public_port" "$kratos_admin_port"; do
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
    say "port $port is already in use; set POLIS_E2E_PORT / KRATOS_E2E_*_PORT" >&2
    exit 1
  fi
done

say "building polis and the Kratos double"
cargo build --locked --quiet --bin polis --example kratos-double
target_dir="${CARGO_TARGET_DIR:-$repo/target}"
polis_bin="$target_dir/debug/polis"
kratos_bin="$target_dir/debug/examples/kratos-double"

say "fresh database $db"
PGOPTIONS="-c client_min_messages=warning" psql "$pg/postgres" -v ON_ERROR_STOP=1 -q \
  -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" \
  -c "CREATE DATABASE $db"

export DATABASE_URL="$pg/$db"
export POLIS_LISTEN_ADDR="127.0.0.1:$polis_port"
export KRATOS_PUBLIC_URL="http://127.0.0.1:$kratos_public_port"
export KRATOS_ADMIN_URL="http://127.0.0.1:$kratos_admin_port"
export POLIS_LOG_FORMAT=text
# The scenario adds members by identity id as Alice (Clerk's organization.addMember).
export POLIS_DIRECT_ADD=managers
# No metrics listener: its default port may be taken by another Polis on this machine.
export POLIS_METRICS_LISTEN_ADDR=
# Short-lived org tokens, so that the scenario sees one expire; the issuer the scenario
# verifies; signing keys sealed at rest, as in production.
export POLIS_TOKEN_TTL=3
export POLIS_PUBLIC_URL="$polis_url"
export POLIS_SIGNING_KEY_SECRET="e2e-signing-key-secret-$(date +%s)-0123456789abcdef"

# Migrates the database and prints the key, once, on stdout.
api_key="$("$polis_bin" api-keys create --name e2e --scope admin 2>>"$logs/polis.log")"

"$kratos_bin" --identities "$client_dir/e2e/seed.json" \
  --public "127.0.0.1:$kratos_public_port" --admin "127.0.0.1:$kratos_admin_port" \
  >"$logs/kratos-double.log" 2>&1 &
pids+=("$!")
"$polis_bin" serve >>"$logs/polis.log" 2>&1 &
pids+=("$!")

# Bounded wait: both must answer within 30 s, and neither may have exited.
wait_ready() {
  local name="$1" url="$2" pid="$3"
  for _ in $(seq 1 60); do
    if ! kill -0 "$pid" 2>/dev/null; then
      say "$name exited before it was ready" >&2
      return 1
    fi
    if curl -fsS -o /dev/null --max-time 2 "$url"; then
      return 0
    fi
    sleep 0.5
  done
  say "$name was not ready at $url after 30 s" >&2
  return 1
}
wait_ready "the Kratos double" "$KRATOS_PUBLIC_URL/health/ready" "${pids[0]}"
wait_ready "polis" "$polis_url/health/ready" "${pids[1]}"
say "polis is ready at $polis_url"

cd "$client_dir"
say "type-checking the client and the scenario"
npx --no-install tsc --noEmit
say "running the scenario"
POLIS_URL="$polis_url" POLIS_E2E_API_KEY="$api_key" POLIS_BIN="$polis_bin" \
  npx --no-install tsx e2e/scenario.ts
