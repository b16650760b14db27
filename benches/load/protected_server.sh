#!/usr/bin/env bash
# Load run against the protected_server example with wrk, on 127.0.0.1 only, bounded in time.
#
# First, like with like: /bench/open and /bench/protected run the same handler, without and
# behind the token layer, and get the same request (with the same bearer token, which the
# open route ignores), in ROUNDS interleaved runs of PAIR_DURATION each; prints the median
# requests/s of each and their ratio (what the layer costs, a cached token each time).
# Then, in the same run: /healthz (no authentication), /whoami with a valid bearer token, and
# /whoami without a token (401); requests/s, latency and the server's peak memory.
#
#   bash benches/load/protected_server.sh            # 5 x 3 s per pair member, 10 s per route
#   ROUNDS=7 PAIR_DURATION=5s DURATION=30s CONNECTIONS=64 bash benches/load/protected_server.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
command -v wrk >/dev/null || { echo "wrk is needed (Debian package wrk)"; exit 1; }

duration=${DURATION:-10s}
connections=${CONNECTIONS:-32}
port=${PORT:-18090}
cargo build --release --quiet --features axum --example protected_server --example dev_token

dir=$(mktemp -d)
pid=""
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$dir"; }
trap cleanup EXIT

export MESHWARD_ISSUER=https://dev.meshward.invalid MESHWARD_AUDIENCE=api
token=$(target/release/examples/dev_token "$dir" read 2>/dev/null)
MESHWARD_LISTEN=127.0.0.1:$port MESHWARD_JWKS_FILE=$dir/jwks.json \
  target/release/examples/protected_server >/dev/null 2>&1 &
pid=$!
for _ in $(seq 50); do
  (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null && break
  sleep 0.1
done

run() {
  local name=$1; shift
  local out
  out=$(wrk -t2 -c"$connections" -d"$duration" --latency "$@")
  local rps p50 p99 non2xx
  rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
  p50=$(awk '$1=="50%" {print $2}' <<<"$out")
  p99=$(awk '$1=="99%" {print $2}' <<<"$out")
  non2xx=$(awk '/Non-2xx/ {print $5}' <<<"$out")
  printf '%-28s %12s req/s   p50 %-9s p99 %-9s non-2xx %s\n' "$name" "$rps" "$p50" "$p99" "${non2xx:-0}"
}

rounds=${ROUNDS:-5}
pair_duration=${PAIR_DURATION:-3s}
rate() { wrk -t2 -c"$connections" -d"$pair_duration" "$@" | awk '/Requests\/sec/ {print $2}'; }
median() { sort -n | awk '{v[NR]=$1} END {print (NR % 2) ? v[(NR+1)/2] : (v[NR/2] + v[NR/2+1]) / 2}'; }
open_rates=(); protected_rates=()
for _ in $(seq "$rounds"); do
  # The same request bytes on both: the open route ignores the header.
  open_rates+=("$(rate -H "Authorization: Bearer $token" "http://127.0.0.1:$port/bench/open")")
  protected_rates+=("$(rate -H "Authorization: Bearer $token" "http://127.0.0.1:$port/bench/protected")")
done
open_median=$(printf '%s\n' "${open_rates[@]}" | median)
protected_median=$(printf '%s\n' "${protected_rates[@]}" | median)
echo "same handler, $rounds interleaved rounds of wrk -t2 -c$connections -d$pair_duration:"
printf '  %-34s %12s req/s (runs: %s)\n' "GET /bench/open" "$open_median" "${open_rates[*]}"
printf '  %-34s %12s req/s (runs: %s)\n' "GET /bench/protected, valid token" "$protected_median" "${protected_rates[*]}"
awk -v p="$protected_median" -v o="$open_median" 'BEGIN {printf "  protected / open: %.3f\n\n", p / o}'

echo "protected_server, wrk -t2 -c$connections -d$duration on 127.0.0.1:$port"
run "GET /healthz (baseline)" "http://127.0.0.1:$port/healthz"
run "GET /whoami, valid token" -H "Authorization: Bearer $token" "http://127.0.0.1:$port/whoami"
run "GET /whoami, no token (401)" "http://127.0.0.1:$port/whoami"
echo "server peak RSS: $(awk '/VmHWM/ {print $2, $3}' /proc/$pid/status)"
