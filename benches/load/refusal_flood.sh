#!/usr/bin/env bash
# A flood of refused requests against the protected_server example, on 127.0.0.1 only: each
# request a bearer token naming a `kid` the server does not know (10 000 different ones).
# Measures the audit log the server writes (bytes per second) with every refusal logged
# (MESHWARD_AUDIT_REFUSALS_PER_SECOND=unlimited: the behaviour before the limit) and with the
# default limit, in the same run, and the server's peak memory.
#
#   bash benches/load/refusal_flood.sh            # 10 s per run
#   DURATION=30s bash benches/load/refusal_flood.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
command -v wrk >/dev/null || { echo "wrk is needed (Debian package wrk)"; exit 1; }

duration=${DURATION:-10s}
connections=${CONNECTIONS:-32}
port=${PORT:-18091}
cargo build --release --quiet --features axum --example protected_server --example dev_token

dir=$(mktemp -d)
pid=""
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$dir"; }
trap cleanup EXIT

export MESHWARD_ISSUER=https://dev.meshward.invalid MESHWARD_AUDIENCE=api
target/release/examples/dev_token "$dir" read >/dev/null 2>&1

# 10 000 tokens with unknown kids: base64url header and claims, a signature of zeros.
b64url() { base64 -w0 | tr '+/' '-_' | tr -d '='; }
claims=$(printf '{"iss":"%s","aud":"api","sub":"mallory","exp":4102444800}' "$MESHWARD_ISSUER" | b64url)
signature=$(head -c 64 /dev/zero | b64url)
for i in $(seq 10000); do
  printf '{"alg":"ES256","kid":"k%d"}' "$i" | b64url
  printf '.%s.%s\n' "$claims" "$signature"
done > "$dir/tokens"

cat > "$dir/flood.lua" <<LUA
local tokens = {}
for line in io.lines("$dir/tokens") do tokens[#tokens + 1] = line end
request = function()
  local t = tokens[math.random(#tokens)]
  return wrk.format("GET", "/whoami", { ["Authorization"] = "Bearer " .. t })
end
LUA

flood() {
  local name=$1 limit=$2
  MESHWARD_LISTEN=127.0.0.1:$port MESHWARD_JWKS_FILE=$dir/jwks.json \
    MESHWARD_AUDIT_REFUSALS_PER_SECOND=$limit \
    target/release/examples/protected_server >"$dir/log" 2>&1 &
  pid=$!
  for _ in $(seq 50); do
    (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null && break
    sleep 0.1
  done
  local start_bytes out rps requests seconds bytes
  start_bytes=$(stat -c %s "$dir/log")
  out=$(wrk -t2 -c"$connections" -d"$duration" -s "$dir/flood.lua" "http://127.0.0.1:$port/")
  bytes=$(( $(stat -c %s "$dir/log") - start_bytes ))
  rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
  requests=$(awk '/requests in/ {print $1}' <<<"$out")
  seconds=${duration%s}
  printf '%-34s %10s req/s %10s requests   log %12s bytes (%s bytes/s, %s lines)   peak RSS %s\n' \
    "$name" "$rps" "$requests" "$bytes" "$(( bytes / seconds ))" "$(wc -l < "$dir/log")" \
    "$(awk '/VmHWM/ {print $2, $3}' /proc/$pid/status)"
  kill "$pid"; wait "$pid" 2>/dev/null || true; pid=""
}

echo "protected_server under a flood of unknown kids, wrk -t2 -c$connections -d$duration on 127.0.0.1:$port"
flood "every refusal logged (unlimited)" unlimited
flood "default limit (100/s per reason)" 100
