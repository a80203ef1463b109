#!/usr/bin/env bash
# Schema-based fuzzing of Polis against the committed openapi/openapi.json, with schemathesis.
#
# Starts the Kratos double and two Polis instances (SQLite and a fresh PostgreSQL database),
# then, for each backend, fuzzes every operation once with an admin API key and once with an
# identity's session token. Data is seeded first (seed.py) so org-scoped routes get real ids.
# Fails on any 5xx and on any response the spec does not describe (status, content type, body,
# headers), plus the other checks enabled in schemathesis.toml.
#
# Needs PostgreSQL on 127.0.0.1:5432 with trust auth and python3 (3.11+, as schemathesis
# needs) with venv. Settings:
#   FUZZ_MAX_TIME      seconds per run; 4 runs, two at a time (default 70)
#   FUZZ_MAX_EXAMPLES  test cases per operation and phase (default 30)
#   FUZZ_SEED          schemathesis seed, to replay a run (default: random, printed)
#   FUZZ_VENV          the virtualenv, reused while requirements.txt is unchanged (target/fuzz-venv)
#   FUZZ_REPORT_DIR    logs, configs and JUnit reports (target/fuzz-report)
#   POLIS_FUZZ_DB      PostgreSQL database, dropped and re-created (polis_fuzz)
set -euo pipefail

fuzz_dir="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$fuzz_dir/../.." && pwd)"
cd "$repo"

target_dir="${CARGO_TARGET_DIR:-$repo/target}"
venv="${FUZZ_VENV:-$target_dir/fuzz-venv}"
report_dir="${FUZZ_REPORT_DIR:-$target_dir/fuzz-report}"
max_time="${FUZZ_MAX_TIME:-70}"
max_examples="${FUZZ_MAX_EXAMPLES:-30}"
seed="${FUZZ_SEED:-$RANDOM$RANDOM}"
db="${POLIS_FUZZ_DB:-polis_fuzz}"
pg="postgres://postgres@127.0.0.1:5432"

say() { echo "fuzz: $*"; }
started_at=$SECONDS

pids=()
cleanup() {
  local status=$?
  for pid in "${pids[@]}"; do
    kill "$pid" 2>/dev/null || true
  done
  for pid in "${pids[@]}"; do
    wait "$pid" 2>/dev/null || true
  done
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Schemathesis and its dependencies, at the versions requirements.txt pins, in a virtualenv of
# their own: installed once, then reused for as long as requirements.txt stays the same.
stamp="$venv/polis-requirements.txt"
if ! cmp -s "$fuzz_dir/requirements.txt" "$stamp"; then
  say "installing schemathesis ($fuzz_dir/requirements.txt) into $venv"
  rm -rf "$venv"
  if ! python3 -m venv "$venv" >/dev/null 2>&1; then
    # Debian's python3 keeps venv (ensurepip) in a package of its own.
    say "python3 has no venv module; installing python3-venv"
    rm -rf "$venv"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null
    python3 -m venv "$venv"
  fi
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$fuzz_dir/requirements.txt"
  cp "$fuzz_dir/requirements.txt" "$stamp"
fi
python="$venv/bin/python"

say "building polis and the Kratos double"
cargo build --locked --quiet --bin polis --example kratos-double
polis_bin="$target_dir/debug/polis"
kratos_bin="$target_dir/debug/examples/kratos-double"

rm -rf "$report_dir"
mkdir -p "$report_dir"

# Free ports from the OS; the other end-to-end suites use fixed ones (18080, 18180, 145xx…).
read -r kratos_public_port kratos_admin_port sqlite_port postgres_port < <("$python" - <<'EOF'
import socket
sockets = [socket.socket() for _ in range(4)]
for s in sockets:
    s.bind(("127.0.0.1", 0))
print(*(s.getsockname()[1] for s in sockets))
EOF
)

export KRATOS_PUBLIC_URL="http://127.0.0.1:$kratos_public_port"
export KRATOS_ADMIN_URL="http://127.0.0.1:$kratos_admin_port"
export POLIS_LOG_FORMAT=text
# Every request would otherwise be answered from the session cache after the first.
export POLIS_SESSION_CACHE_TTL=5
# The fuzzer sends hundreds of requests a second with one key: rate limits would answer
# most of them 429 and hide what the handlers do. Two Polis run at once, so neither
# opens the metrics listener (its default port would clash).
export POLIS_RATE_LIMIT_READS=0 POLIS_RATE_LIMIT_WRITES=0 POLIS_RATE_LIMIT_ANONYMOUS=0
export POLIS_METRICS_LISTEN_ADDR=

"$kratos_bin" --identities "$fuzz_dir/identities.json" \
  --public "127.0.0.1:$kratos_public_port" --admin "127.0.0.1:$kratos_admin_port" \
  >"$report_dir/kratos-double.log" 2>&1 &
pids+=("$!")
kratos_pid=$!

say "fresh PostgreSQL database $db"
PGOPTIONS="-c client_min_messages=warning" psql "$pg/postgres" -v ON_ERROR_STOP=1 -q \
  -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" \
  -c "CREATE DATABASE $db"

declare -A database_url=(
  [sqlite]="sqlite://$report_dir/polis-fuzz.db"
  [postgres]="$pg/$db"
)
declare -A port=([sqlite]="$sqlite_port" [postgres]="$postgres_port")
declare -A api_key polis_pid

for backend in sqlite postgres; do
  log="$report_dir/polis-$backend.log"
  # Migrates the database and prints the key, once, on stdout.
  api_key[$backend]="$(DATABASE_URL="${database_url[$backend]}" \
    "$polis_bin" api-keys create --name "fuzz-$backend" --scope admin 2>>"$log")"
  DATABASE_URL="${database_url[$backend]}" POLIS_LISTEN_ADDR="127.0.0.1:${port[$backend]}" \
    "$polis_bin" serve >>"$log" 2>&1 &
  pids+=("$!")
  polis_pid[$backend]=$!
done

# Bounded wait: each must answer within 30 s, and none may have exited.
wait_ready() {
  local name="$1" url="$2" pid="$3"
  for _ in $(seq 1 60); do
    if ! kill -0 "$pid" 2>/dev/null; then
      say "$name exited before it was ready; see $report_dir" >&2
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
wait_ready "the Kratos double" "$KRATOS_PUBLIC_URL/health/ready" "$kratos_pid"
for backend in sqlite postgres; do
  wait_ready "polis ($backend)" "http://127.0.0.1:${port[$backend]}/health/ready" "${polis_pid[$backend]}"
done

# The session caller is Alice (identities.json): seed.py makes her admin of one org and a
# non-member invited to another.
session_token="$("$python" -c 'import json,sys; print(json.load(open(sys.argv[1]))["identities"][0]["sessions"][0])' "$fuzz_dir/identities.json")"

# One run: seed its data, write its config, fuzz. Prints one summary line; the exit status
# is schemathesis's.
fuzz_run() {
  local backend="$1" credential="$2"
  local run="$backend-$credential" url="http://127.0.0.1:${port[$backend]}"
  local run_dir="$report_dir/$run" status=0 run_started=$SECONDS
  mkdir -p "$run_dir"
  POLIS_URL="$url" FUZZ_API_KEY="${api_key[$backend]}" \
    "$python" "$fuzz_dir/seed.py" "$run" "$run_dir" >"$run_dir/seed.log" 2>&1 || {
    echo "  $run: seeding FAILED: $(tail -n 1 "$run_dir/seed.log")"
    return 1
  }
  cp "$fuzz_dir/schemathesis.toml" "$run_dir/schemathesis.toml"
  if [ "$credential" = admin ]; then
    printf '\n[auth.openapi.api_key]\nbearer = "${FUZZ_API_KEY}"\n' >>"$run_dir/schemathesis.toml"
  else
    printf '\n[auth.openapi.session_token]\napi_key = "${FUZZ_SESSION_TOKEN}"\n' >>"$run_dir/schemathesis.toml"
  fi
  # From the run's directory, so Hypothesis's own files land there too. One worker: threads
  # of CPython 3.11 that parse source at once can fail with "AST constructor recursion depth
  # mismatch" inside Hypothesis; the two backends run side by side instead.
  (cd "$run_dir" && FUZZ_API_KEY="${api_key[$backend]}" FUZZ_SESSION_TOKEN="$session_token" \
    FUZZ_CACHE_DIR="$target_dir/fuzz-cache/$run" \
    "$venv/bin/schemathesis" --config-file schemathesis.toml run "$repo/openapi/openapi.json" \
    --url "$url" \
    --max-time "$max_time" \
    --max-examples "$max_examples" \
    --seed "$seed" \
    --workers 1 \
    --request-timeout 10 \
    --no-color \
    --report junit --report-dir . \
    >schemathesis.log 2>&1) || status=$?
  if [ "$status" -eq 0 ]; then
    echo "  $run: passed in $((SECONDS - run_started)) s"
  else
    echo "  $run: FAILED (exit $status) in $((SECONDS - run_started)) s"
  fi
  return "$status"
}

# Each backend's admin run, then its session run (one after the other, so neither changes
# the other's data mid-run); the two backends side by side.
fuzz_backend() {
  local status=0
  fuzz_run "$1" admin || status=1
  fuzz_run "$1" session || status=1
  return "$status"
}

say "fuzzing: 2 backends x 2 credentials, up to $max_time s per run, seed $seed"
lanes=()
for backend in sqlite postgres; do
  fuzz_backend "$backend" >"$report_dir/summary-$backend.txt" &
  lanes+=("$!")
done
failed=0
for lane in "${lanes[@]}"; do
  wait "$lane" || failed=1
done

if [ "$failed" -ne 0 ]; then
  for backend in sqlite postgres; do
    for credential in admin session; do
      run="$backend-$credential"
      grep -q "^  $run: passed" "$report_dir/summary-$backend.txt" && continue
      say "---- $run: what schemathesis found"
      if [ -f "$report_dir/$run/schemathesis.log" ]; then
        # The failures and errors sections, without the progress lines before them and the
        # coverage warnings after them (those stay in the log).
        sed -n '/^=* \(FAILURES\|ERRORS\) =*$/,/^=* WARNINGS =*$/p' "$report_dir/$run/schemathesis.log" |
          grep -v '^=* WARNINGS =*$'
        grep -E '^  [0-9]+ generated|^Seed:' "$report_dir/$run/schemathesis.log" || true
      fi
      say "---- $run: errors logged by polis ($backend)"
      grep -E ' ERROR |panicked' "$report_dir/polis-$backend.log" | tail -n 20 || true
    done
  done
fi

say "summary (seed $seed, $((SECONDS - started_at)) s in all; logs in $report_dir)"
cat "$report_dir/summary-sqlite.txt" "$report_dir/summary-postgres.txt"
if [ "$failed" -ne 0 ]; then
  say "FAILED; replay with FUZZ_SEED=$seed bash openapi/fuzz/run.sh" >&2
  exit 1
fi
