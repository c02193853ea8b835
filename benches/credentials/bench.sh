#!/usr/bin/env bash
# What a credential costs a workflow, in one run of one release binary: the
# same webhook workflow (webhook -> HTTP Request to a local server ->
# response_mode last_node) without a credential, with an http_header_auth
# credential from the vault (resolved, opened, its use audited and the
# secret redacted on every run), and with an http_bearer_auth one.
#
# usage: bench.sh
# Environment (all optional):
#   SRC        source checkout                  (default: this repository)
#   TARGET     CARGO_TARGET_DIR                 (default $CARGO_TARGET_DIR, else $SRC/target)
#   BUILD      1 = cargo build --release first  (default 1)
#   CONNS      wrk connections                  (default 16)
#   DURATION   each measured run                (default 15s)
#   DATABASE_URL  run on this (fresh) PostgreSQL database instead of the
#                 embedded store (the server inherits it)
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
PORT=18091
TARGET_PORT=18092
BASE="http://127.0.0.1:$PORT"
OUT=$(mktemp -d)
BIN="$TARGET/release/flowforge"

if [ "$BUILD" = 1 ]; then
    (cd "$SRC" && CARGO_TARGET_DIR="$TARGET" cargo build --release -p flowforge-api --bin flowforge) >"$OUT/build.log" 2>&1
fi

python3 "$HERE/target_server.py" "$TARGET_PORT" &
TARGET_SERVER=$!
# Rate and call limits off: this measures what the vault costs.
FLOWFORGE_DATA_DIR="$OUT/data" FLOWFORGE_API_RATE=0 FLOWFORGE_WEBHOOK_RATE=0 \
    FLOWFORGE_OUTBOUND_ALLOW=127.0.0.1 FLOWFORGE_OUTBOUND_MAX_CALLS_PER_WORKSPACE_PER_MINUTE=0 \
    RUST_LOG=warn "$BIN" serve --listen "127.0.0.1:$PORT" >"$OUT/server.log" 2>&1 &
SERVER=$!
trap 'kill $SERVER $TARGET_SERVER 2>/dev/null; wait $SERVER 2>/dev/null; rm -rf "$OUT"' EXIT
wait_ready "$BASE" "$SERVER"

AUTH="Authorization: Bearer $(sign_in "$BASE")"
api() { curl -fs "$BASE$1" -H "$AUTH" -H 'content-type: application/json' -d "$2"; }
api /api/v1/credentials '{"name": "Header", "type": "http_header_auth", "data": {"name": "X-Api-Key", "value": "bench-secret-value"}}' >/dev/null
api /api/v1/credentials '{"name": "Bearer", "type": "http_bearer_auth", "data": {"token": "bench-bearer-token"}}' >/dev/null

hook() { # path, credentials parameter
    local id
    id=$(api /api/v1/workflows "{\"name\": \"$1\", \"nodes\": [
        {\"name\": \"Start\", \"type\": \"webhook\", \"parameters\": {\"path\": \"$1\", \"response_mode\": \"last_node\"}},
        {\"name\": \"Call\", \"type\": \"http_request\", \"parameters\": {\"url\": \"http://127.0.0.1:$TARGET_PORT/thing\"$2}}],
        \"connections\": {\"Start\": {\"main\": [[{\"node\": \"Call\"}]]}}}" | json '["id"]')
    api "/api/v1/workflows/$id/activate" '' >/dev/null
}
hook plain ''
hook header ', "credentials": {"http_header_auth": "Header"}'
hook bearer ', "credentials": {"http_bearer_auth": "Bearer"}'

cat >"$OUT/post.lua" <<'LUA'
wrk.method = "POST"
wrk.body = '{"n": 1}'
wrk.headers["Content-Type"] = "application/json"
LUA

run() { # label, path
    wrk -t2 -c"$CONNS" -d5s -s "$OUT/post.lua" "$BASE$2" >/dev/null
    wrk -t2 -c"$CONNS" -d"$DURATION" --latency -s "$OUT/post.lua" "$BASE$2" >"$OUT/run.txt"
    wrk_row "$1" "$OUT/run.txt"
}

echo "commit $(git -C "$SRC" rev-parse --short HEAD), $(nproc) cores, wrk -t2 -c$CONNS -d$DURATION, $([ -n "${DATABASE_URL:-}" ] && echo PostgreSQL || echo "embedded store")"
echo
echo "| webhook -> HTTP Request | req/s | p50 | p99 | non-2xx |"
echo "| --- | --- | --- | --- | --- |"
run "no credential" /webhook/plain
run "http_header_auth credential" /webhook/header
run "http_bearer_auth credential" /webhook/bearer
