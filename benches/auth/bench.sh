#!/usr/bin/env bash
# What authentication costs, on the embedded store, in one run of one release
# binary:
#   - the same webhook workflow (webhook -> set, response_mode last_node) with
#     no check and with a header-token check (authentication: header);
#   - an API read (GET /api/v1/workflows?limit=1) with an access token (JWT)
#     and with an API key, beside GET /health/live (no auth, no query) as a floor;
#   - sign-in latency (POST /api/v1/auth/login) with the configured Argon2id
#     parameters (the defaults unless FLOWFORGE_ARGON2_* are set).
#
# usage: bench.sh
# Environment (all optional):
#   SRC       source checkout                   (default: this repository)
#   TARGET    CARGO_TARGET_DIR                  (default $CARGO_TARGET_DIR, else $SRC/target)
#   BUILD     1 = cargo build --release first   (default 1)
#   CONNS     wrk connections                   (default 16)
#   DURATION  each measured run                 (default 15s)
#   LOGINS    sequential sign-ins timed         (default 50)
#
# Needs: wrk, curl, python3. Only talks to 127.0.0.1.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=../common.sh
. "$HERE/../common.sh"
SRC=${SRC:-$(cd "$HERE/../.." && pwd)}
TARGET=${TARGET:-${CARGO_TARGET_DIR:-$SRC/target}}
BUILD=${BUILD:-1}
CONNS=${CONNS:-16}
DURATION=${DURATION:-15s}
LOGINS=${LOGINS:-50}
PORT=18090
BASE="http://127.0.0.1:$PORT"
OUT=$(mktemp -d)
BIN="$TARGET/release/flowforge"

if [ "$BUILD" = 1 ]; then
    (cd "$SRC" && CARGO_TARGET_DIR="$TARGET" cargo build --release -p flowforge-api --bin flowforge) >"$OUT/build.log" 2>&1
fi

# Rate limits off: this measures what checking credentials costs, not the limiter.
FLOWFORGE_DATA_DIR="$OUT/data" FLOWFORGE_API_RATE=0 FLOWFORGE_WEBHOOK_RATE=0 FLOWFORGE_SIGN_IN_RATE=0 \
    RUST_LOG=warn "$BIN" serve --listen "127.0.0.1:$PORT" >"$OUT/server.log" 2>&1 &
SERVER=$!
trap 'kill $SERVER 2>/dev/null; wait $SERVER 2>/dev/null; rm -rf "$OUT"' EXIT
wait_ready "$BASE" "$SERVER"

TOKEN=$(sign_in "$BASE")
AUTH="Authorization: Bearer $TOKEN"
KEY=$(curl -fs "$BASE/api/v1/api-keys" -H "$AUTH" -H 'content-type: application/json' \
    -d '{"name": "bench", "role": "viewer"}' | json '["key"]')

hook() { # path, extra webhook parameters
    local id
    id=$(curl -fs "$BASE/api/v1/workflows" -H "$AUTH" -H 'content-type: application/json' -d "{\"name\": \"$1\", \"nodes\": [
        {\"name\": \"Start\", \"type\": \"webhook\", \"parameters\": {\"path\": \"$1\", \"response_mode\": \"last_node\"$2}},
        {\"name\": \"Total\", \"type\": \"set\", \"parameters\": {\"fields\": {\"total\": \"{{ \$json.body.a + \$json.body.b }}\"}}}],
        \"connections\": {\"Start\": {\"main\": [[{\"node\": \"Total\"}]]}}}" | json '["id"]')
    curl -fs -o /dev/null -X POST -H "$AUTH" "$BASE/api/v1/workflows/$id/activate"
}
hook open ''
hook checked ', "authentication": {"type": "header", "name": "X-Hook-Token", "value": "bench-token"}'

lua() { # file, method, body, header name, header value
    cat >"$OUT/$1.lua" <<LUA
wrk.method = "$2"
wrk.body = '$3'
wrk.headers["Content-Type"] = "application/json"
$( [ -n "$4" ] && echo "wrk.headers[\"$4\"] = \"$5\"" )
LUA
}
lua open POST '{"a": 4, "b": 9}' '' ''
lua checked POST '{"a": 4, "b": 9}' X-Hook-Token bench-token
lua jwt GET '' Authorization "Bearer $TOKEN"
lua key GET '' X-API-Key "$KEY"
lua floor GET '' '' ''

run() { # label, script, path
    wrk -t2 -c"$CONNS" -d5s -s "$OUT/$2.lua" "$BASE$3" >/dev/null
    wrk -t2 -c"$CONNS" -d"$DURATION" --latency -s "$OUT/$2.lua" "$BASE$3" >"$OUT/$2.txt"
    wrk_row "$1" "$OUT/$2.txt"
}

echo "commit $(git -C "$SRC" rev-parse --short HEAD), $(nproc) cores, wrk -t2 -c$CONNS -d$DURATION, embedded store"
echo
echo "| request | req/s | p50 | p99 | non-2xx |"
echo "| --- | --- | --- | --- | --- |"
run "webhook, no check" open /webhook/open
run "webhook, header-token check" checked /webhook/checked
run "API read, access token (JWT)" jwt "/api/v1/workflows?limit=1"
run "API read, API key" key "/api/v1/workflows?limit=1"
run "GET /health/live (no auth, no query)" floor /health/live

for _ in $(seq "$LOGINS"); do
    curl -fs -o /dev/null -w '%{time_total}\n' "$BASE/api/v1/auth/login" \
        -H 'content-type: application/json' -d "{$BENCH_ACCOUNT}"
done >"$OUT/logins.txt"
python3 - "$OUT/logins.txt" <<'PY'
import sys
times = sorted(float(line) * 1000 for line in open(sys.argv[1]) if line.strip())
pick = lambda q: times[min(len(times) - 1, int(q * len(times)))]
print(f"\nsign-in ({len(times)} sequential, Argon2id as configured): p50 {pick(0.5):.1f} ms, p99 {pick(0.99):.1f} ms")
PY
