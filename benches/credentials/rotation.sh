#!/usr/bin/env bash
# Master-key rotation under load, on PostgreSQL, with one release binary:
# a webhook workflow whose HTTP Request node uses a vault credential runs
# under wrk while `flowforge keys rotate` re-wraps every data key under a new
# master key. Then: how many requests failed, how many executions failed,
# whether a restart with the old key is refused (and what it says), and
# whether a restart with the new key opens the credential and runs the
# workflow.
#
# usage: rotation.sh
# Environment (all optional):
#   SRC        source checkout                  (default: this repository)
#   TARGET     CARGO_TARGET_DIR                 (default $CARGO_TARGET_DIR, else $SRC/target)
#   BUILD      1 = cargo build --release first  (default 1)
#   PG_ADMIN   an admin URL of the PostgreSQL server (default postgres://postgres@127.0.0.1:5432/postgres)
#   CONNS      wrk connections                  (default 16)
#   DURATION   the load's length                (default 20s; the rotation starts 5 s in)
#
# Needs: wrk, curl, python3, psql. Creates and drops a database of its own.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=../common.sh
. "$HERE/../common.sh"
SRC=${SRC:-$(cd "$HERE/../.." && pwd)}
TARGET=${TARGET:-${CARGO_TARGET_DIR:-$SRC/target}}
BUILD=${BUILD:-1}
PG_ADMIN=${PG_ADMIN:-postgres://postgres@127.0.0.1:5432/postgres}
CONNS=${CONNS:-16}
DURATION=${DURATION:-20s}
PORT=18093
TARGET_PORT=18094
BASE="http://127.0.0.1:$PORT"
OUT=$(mktemp -d)
BIN="$TARGET/release/flowforge"
DB="flowforge_rotation_$$"
export DATABASE_URL="${PG_ADMIN%/*}/$DB"

if [ "$BUILD" = 1 ]; then
    (cd "$SRC" && CARGO_TARGET_DIR="$TARGET" cargo build --release -p flowforge-api --bin flowforge) >"$OUT/build.log" 2>&1
fi
psql -q "$PG_ADMIN" -c "CREATE DATABASE $DB"
OLD_KEY=$(python3 -c 'import secrets; print(secrets.token_hex(32))')
python3 -c 'import secrets; print(secrets.token_hex(32))' >"$OUT/new.key"
NEW_KEY=$(cat "$OUT/new.key")

python3 "$HERE/target_server.py" "$TARGET_PORT" &
TARGET_SERVER=$!
SERVER=
serve() { # master key, log file
    FLOWFORGE_ENCRYPTION_KEY="$1" FLOWFORGE_API_RATE=0 FLOWFORGE_WEBHOOK_RATE=0 \
        FLOWFORGE_OUTBOUND_ALLOW=127.0.0.1 FLOWFORGE_OUTBOUND_MAX_CALLS_PER_WORKSPACE_PER_MINUTE=0 \
        RUST_LOG=warn "$BIN" serve --listen "127.0.0.1:$PORT" >"$2" 2>&1 &
    SERVER=$!
}
cleanup() {
    kill $SERVER $TARGET_SERVER 2>/dev/null || true
    wait 2>/dev/null || true
    psql -q "$PG_ADMIN" -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" || true
    rm -rf "$OUT"
}
trap cleanup EXIT

serve "$OLD_KEY" "$OUT/first.log"
wait_ready "$BASE" "$SERVER"
TOKEN=$(sign_in "$BASE")
api() { curl -fs "$BASE$1" -H "Authorization: Bearer $TOKEN" -H 'content-type: application/json' -d "$2"; }
api /api/v1/credentials '{"name": "Header", "type": "http_header_auth", "data": {"name": "X-Api-Key", "value": "rotation-secret-value"}}' >/dev/null
ID=$(api /api/v1/workflows "{\"name\": \"rotation\", \"nodes\": [
    {\"name\": \"Start\", \"type\": \"webhook\", \"parameters\": {\"path\": \"rotation\", \"response_mode\": \"last_node\"}},
    {\"name\": \"Call\", \"type\": \"http_request\", \"parameters\": {\"url\": \"http://127.0.0.1:$TARGET_PORT/thing\", \"credentials\": {\"http_header_auth\": \"Header\"}}}],
    \"connections\": {\"Start\": {\"main\": [[{\"node\": \"Call\"}]]}}}" | json '["id"]')
api "/api/v1/workflows/$ID/activate" '' >/dev/null

cat >"$OUT/post.lua" <<'LUA'
wrk.method = "POST"
wrk.body = '{"n": 1}'
wrk.headers["Content-Type"] = "application/json"
LUA
wrk -t2 -c"$CONNS" -d"$DURATION" --latency -s "$OUT/post.lua" "$BASE/webhook/rotation" >"$OUT/load.txt" &
LOAD=$!
sleep 5
echo "rotating under load:"
FLOWFORGE_ENCRYPTION_KEY="$OLD_KEY" "$BIN" keys rotate --new-key-file "$OUT/new.key" | sed 's/^/  /'
wait $LOAD
python3 - "$OUT/load.txt" <<'PY'
import re, sys
text = open(sys.argv[1]).read()
requests = re.search(r"(\d+) requests in", text).group(1)
rate = re.search(r"Requests/sec:\s+([\d.]+)", text).group(1)
errors = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
print(f"load: {requests} webhook calls ({float(rate):.0f}/s), non-2xx: {errors.group(1) if errors else 0}")
PY
FAILED=$(psql -tA "$DATABASE_URL" -c "SELECT count(*) FROM events WHERE event_type = 'ExecutionFailed'")
SUCCEEDED=$(psql -tA "$DATABASE_URL" -c "SELECT count(*) FROM events WHERE event_type = 'ExecutionSucceeded'")
echo "executions: $SUCCEEDED succeeded, $FAILED failed"
kill "$SERVER"; wait "$SERVER" 2>/dev/null || true

serve "$OLD_KEY" "$OUT/old.log"
if wait_ready "$BASE" "$SERVER"; then
    echo "restart with the old key: NOT refused"
    exit 1
fi
CODE=0
wait "$SERVER" || CODE=$?
echo "restart with the old key: refused, exit $CODE:"
grep -iE "error|key" "$OUT/old.log" | tail -2 | sed 's/^/  /'

serve "$NEW_KEY" "$OUT/new.log"
wait_ready "$BASE" "$SERVER"
ANSWER=$(curl -fs "$BASE/webhook/rotation" -H 'content-type: application/json' -d '{"n": 2}')
echo "restart with the new key: ready; a webhook call answers $ANSWER"
