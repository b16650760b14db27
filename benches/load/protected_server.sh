#!/usr/bin/env bash
# Load run against the protected_server example with wrk, on 127.0.0.1 only, bounded in time.
# Compares, in the same run: /healthz (no authentication: the baseline), /whoami with a valid
# bearer token (verified once, then from the token cache), and /whoami without a token (401).
# Prints requests/s, latency and the server's peak memory.
#
#   bash benches/load/protected_server.sh            # 10 s per route
#   DURATION=30s CONNECTIONS=64 bash benches/load/protected_server.sh
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

echo "protected_server, wrk -t2 -c$connections -d$duration on 127.0.0.1:$port"
run "GET /healthz (baseline)" "http://127.0.0.1:$port/healthz"
run "GET /whoami, valid token" -H "Authorization: Bearer $token" "http://127.0.0.1:$port/whoami"
run "GET /whoami, no token (401)" "http://127.0.0.1:$port/whoami"
echo "server peak RSS: $(awk '/VmHWM/ {print $2, $3}' /proc/$pid/status)"
