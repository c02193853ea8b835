#!/usr/bin/env bash
# FlowForge webhook benchmark: the "sum" workflow (webhook -> set -> if,
# response_mode last_node) driven by wrk, on the embedded SQLite store (A) and
# on PostgreSQL + NATS JetStream (B).
#
# usage: bench.sh [embedded|pg|all]        (default: all)
#
# Environment (all optional):
#   SRC       source checkout to build          (default: this repository)
#   TARGET    CARGO_TARGET_DIR                  (default $CARGO_TARGET_DIR, else $SRC/target)
#   BUILD     1 = cargo build --release first   (default 1; 0 = use the binary as is)
#   OUT       where outputs go                  (default $TARGET/bench-results/<date>)
#   CONNS     connection counts                 (default "16 64")
#   DURATION  measured run                      (default 30s)
#   WARMUP    warm-up run before each measured run, same connections (default 5s)
#   PG_ADMIN  admin URL                         (default postgres://postgres@127.0.0.1:5432/postgres)
#   NATS_URL  NATS server for setup B           (default nats://127.0.0.1:4222)
#   TIMEOUT   wrk --timeout                     (default 40s; wrk's own default is 2s, and
#             a response slower than that is counted as a timeout and left out of
#             the latency statistics; the server gives up on a webhook after 30 s)
#   QUIET_MAX before each run, wait up to this many seconds while a rustc/cargo
#             process is running on the machine (default 900; 0 = don't wait)
#   KEEP      1 = leave the data dir / database / stream in place (default 0)
#
# Needs: wrk, curl, python3, sqlite3, psql. Only talks to 127.0.0.1.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
SRC=${SRC:-$(cd "$HERE/../.." && pwd)}
TARGET=${TARGET:-${CARGO_TARGET_DIR:-$SRC/target}}
BUILD=${BUILD:-1}
OUT=${OUT:-$TARGET/bench-results/$(date +%Y%m%d-%H%M%S)}
CONNS=${CONNS:-"16 64"}
DURATION=${DURATION:-30s}
WARMUP=${WARMUP:-5s}
PG_ADMIN=${PG_ADMIN:-postgres://postgres@127.0.0.1:5432/postgres}
NATS=${NATS_URL:-nats://127.0.0.1:4222}
KEEP=${KEEP:-0}
TIMEOUT=${TIMEOUT:-40s}
QUIET_MAX=${QUIET_MAX:-900}
LUA="$HERE/webhook_sum.lua"
BIN="$TARGET/release/flowforge"
WHAT=${1:-all}

PORT_A=18080
DATA_A=/tmp/bench-embedded
PORT_B=18081
DB_B=bench_ff
STREAM_B=BENCH_FF
PREFIX_B=bench.ff
PG_HOST_ARGS=(-h 127.0.0.1 -U postgres)

mkdir -p "$OUT"
log() { echo "[$(date +%T)] $*" | tee -a "$OUT/bench.log"; }

if [ "$BUILD" = 1 ]; then
    log "building $(git -C "$SRC" rev-parse --short HEAD) in $SRC"
    (cd "$SRC" && CARGO_TARGET_DIR="$TARGET" cargo build --release -p flowforge-api) >"$OUT/build.log" 2>&1
fi
COMMIT=$(git -C "$SRC" rev-parse --short HEAD)
log "commit $COMMIT, binary $BIN, out $OUT"

SERVER_PID=
stop_server() {
    if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
        kill "$SERVER_PID"
        for _ in $(seq 50); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.2; done
        if kill -0 "$SERVER_PID" 2>/dev/null; then kill -9 "$SERVER_PID"; fi
    fi
    SERVER_PID=
    return 0
}
trap stop_server EXIT

wait_ready() { # port
    for _ in $(seq 150); do
        if [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$1/health/ready")" = 200 ]; then return 0; fi
        kill -0 "$SERVER_PID" 2>/dev/null || { log "server died"; return 1; }
        sleep 0.2
    done
    log "server on :$1 not ready after 30 s"; return 1
}

WORKFLOW='{"name": "sum", "nodes": [
  {"name": "Start", "type": "webhook", "parameters": {"path": "sum", "method": "POST", "response_mode": "last_node"}},
  {"name": "Total", "type": "set", "parameters": {"fields": {"total": "{{ $json.body.a + $json.body.b }}"}}},
  {"name": "Big", "type": "if", "parameters": {"condition": "{{ $json.total > 10 }}"}}],
 "connections": {"Start": {"main": [[{"node": "Total"}]]}, "Total": {"main": [[{"node": "Big"}]]}}}'

sign_in() { # port: registers the installation's owner, signs in, sets AUTH
    local base="http://127.0.0.1:$1"
    local account='"email": "bench@flowforge.test", "password": "a benchmark passphrase"'
    curl -s -o /dev/null -X POST "$base/api/v1/auth/register" -H 'content-type: application/json' \
        -d "{$account, \"name\": \"Bench\"}"
    AUTH="Authorization: Bearer $(curl -sf -X POST "$base/api/v1/auth/login" -H 'content-type: application/json' \
        -d "{$account}" | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')"
}

setup_workflow() { # port
    local base="http://127.0.0.1:$1" created id
    sign_in "$1"
    created=$(curl -sf -X POST "$base/api/v1/workflows" -H "$AUTH" -H 'content-type: application/json' -d "$WORKFLOW")
    id=$(echo "$created" | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
    log "created workflow: $created"
    log "activated: $(curl -sf -X POST -H "$AUTH" "$base/api/v1/workflows/$id/activate")"
    local answer
    answer=$(curl -s -X POST "$base/webhook/sum" -H 'content-type: application/json' -d '{"a":4,"b":9}')
    log "check: $answer"
    [ "$answer" = '{"total":13}' ] || { log "unexpected answer, stopping"; return 1; }
}

wait_quiet() { # other builds on a 2-core machine ruin the numbers
    local waited=0
    while [ "$waited" -lt "$QUIET_MAX" ] && pgrep -x '(rustc|cargo)' >/dev/null; do
        [ "$waited" = 0 ] && log "waiting for running cargo/rustc to finish: $(pgrep -ax 'cargo' | cut -c1-100 | tr '\n' ';')"
        sleep 5; waited=$((waited + 5))
    done
    [ "$waited" -gt 0 ] && log "waited ${waited}s for a quiet machine"
    return 0
}

machine_busy() { awk '/^cpu / {print $2+$3+$4+$7+$8}' /proc/stat; }

cpu_ticks() { awk '{print $14+$15}' "/proc/$1/stat"; }

run_wrk() { # setup port conns
    local setup=$1 port=$2 c=$3 url="http://127.0.0.1:$2/webhook/sum"
    local t0 t1 m0 m1 hz
    hz=$(getconf CLK_TCK)
    wait_quiet
    log "$setup c=$c: warm-up $WARMUP"
    echo "\$ wrk -t2 -c$c -d$WARMUP --timeout $TIMEOUT --latency -s $LUA $url" >"$OUT/$setup-c$c-warmup.txt"
    wrk -t2 -c"$c" -d"$WARMUP" --timeout "$TIMEOUT" --latency -s "$LUA" "$url" >>"$OUT/$setup-c$c-warmup.txt" 2>&1
    sleep 1
    log "$setup c=$c: measured run $DURATION"
    t0=$(cpu_ticks "$SERVER_PID"); m0=$(machine_busy)
    ( sleep 15; { echo "--- top during $setup c=$c"; top -b -n1 -w 200 | head -20; } >>"$OUT/$setup-top.txt" ) &
    local top_pid=$!
    echo "\$ wrk -t2 -c$c -d$DURATION --timeout $TIMEOUT --latency -s $LUA $url" >"$OUT/$setup-c$c.txt"
    wrk -t2 -c"$c" -d"$DURATION" --timeout "$TIMEOUT" --latency -s "$LUA" "$url" >>"$OUT/$setup-c$c.txt" 2>&1
    wait "$top_pid"
    t1=$(cpu_ticks "$SERVER_PID"); m1=$(machine_busy)
    echo "CPU during the run: server $(awk -v a="$t0" -v b="$t1" -v hz="$hz" 'BEGIN {printf "%.1f", (b - a) / hz}') s, whole machine $(awk -v a="$m0" -v b="$m1" -v hz="$hz" 'BEGIN {printf "%.1f", (b - a) / hz}') s (of $DURATION wall x $(nproc) cores)" >>"$OUT/$setup-c$c.txt"
    pgrep -ax '(rustc|cargo)' >/dev/null && echo "WARNING: cargo/rustc ran during this run" | tee -a "$OUT/$setup-c$c.txt"
    sleep 1
    # Is the server still healthy? (On the embedded store a request cancelled by
    # wrk's final disconnect can leave the SQLite writer stuck; see repro_sqlite_cancel.sh.)
    echo "after the run: POST /webhook/sum -> $(curl -s -m 40 -w ' HTTP %{http_code}' -X POST "$url" -H 'content-type: application/json' -d '{"a":4,"b":9}')" >>"$OUT/$setup-c$c.txt"
    local warns
    warns=$(grep -cE 'WARN|ERROR' "$OUT/$setup-server.log" || true)
    echo "server log: $warns WARN/ERROR lines so far" >>"$OUT/$setup-c$c.txt"
    [ "$warns" = 0 ] || sed 's/\x1b\[[0-9;]*m//g' "$OUT/$setup-server.log" | grep -E 'WARN|ERROR' | head -3 >>"$OUT/$setup-c$c.txt"
    tee -a "$OUT/bench.log" <"$OUT/$setup-c$c.txt"
}

wrk_total() { # setup: completed requests of all wrk runs (warm-ups included)
    cat "$OUT/$1"-c*.txt | awk '/requests in/ {s += $1} END {print s + 0}'
}

wait_caught_up() { # port
    for _ in $(seq 120); do
        local lag
        lag=$(curl -s -H "$AUTH" "http://127.0.0.1:$1/api/v1/projections" | python3 -c '
import json,sys; d=json.load(sys.stdin); ws=d["projections"]+([d["publisher"]] if d.get("publisher") else []); print(max(w["lag"] for w in ws))')
        [ "$lag" = 0 ] && return 0
        sleep 0.5
    done
    log "projections still lagging after 60 s"
}

report_counts() { # setup port sqlcmd...
    local setup=$1 port=$2; shift 2
    wait_caught_up "$port"
    {
        echo "=== $setup: after the runs"
        echo "wrk completed requests (warm-ups + runs): $(wrk_total "$setup"), plus $(( $(echo $CONNS | wc -w) + 1 )) curl checks"
        echo "projections: $(curl -s -H "$AUTH" "http://127.0.0.1:$port/api/v1/projections")"
        echo "GET /api/v1/executions?limit=1: $(curl -s -H "$AUTH" "http://127.0.0.1:$port/api/v1/executions?limit=1" | head -c 600)"
        echo "-- store counts:"
        "$@" "select 'executions (distinct execution streams)', count(distinct aggregate_id) from events where aggregate_type = 'execution';"
        "$@" "select 'events total', count(*) from events;"
        "$@" "select 'events ' || event_type, count(*) from events group by event_type order by 1;"
        "$@" "select 'execution_views ' || status, count(*) from execution_views group by status order by 1;"
        echo "server RSS: $(ps -o rss= -p "$SERVER_PID") KiB; $(grep -E 'VmHWM|VmRSS' "/proc/$SERVER_PID/status" | tr -s ' \n' ' ')"
    } 2>&1 | tee -a "$OUT/$setup-counts.txt" "$OUT/bench.log"
}

bench_embedded() {
    rm -rf "$DATA_A"
    log "A) embedded: serve --listen 127.0.0.1:$PORT_A --data-dir $DATA_A"
    env -u DATABASE_URL -u NATS_URL RUST_LOG=warn \
        "$BIN" serve --listen "127.0.0.1:$PORT_A" --data-dir "$DATA_A" >"$OUT/embedded-server.log" 2>&1 &
    SERVER_PID=$!
    wait_ready "$PORT_A"
    setup_workflow "$PORT_A"
    log "server RSS before the runs: $(ps -o rss= -p "$SERVER_PID") KiB"
    for c in $CONNS; do run_wrk embedded "$PORT_A" "$c"; done
    sqlite() { sqlite3 -readonly -separator ' | ' "$DATA_A/flowforge.db" "$1"; }
    report_counts embedded "$PORT_A" sqlite
    stop_server
    echo "data dir size: $(du -sh "$DATA_A" | cut -f1)" | tee -a "$OUT/embedded-counts.txt"
    [ "$KEEP" = 1 ] || rm -rf "$DATA_A"
}

bench_pg() {
    local db_url="${PG_ADMIN%/*}/$DB_B"
    psql "${PG_HOST_ARGS[@]}" -c "drop database if exists $DB_B" >/dev/null
    python3 "$HERE/js_api.py" --url "$NATS" delete "$STREAM_B" >/dev/null || true
    psql "${PG_HOST_ARGS[@]}" -c "create database $DB_B"
    DATABASE_URL="$db_url" "$BIN" migrate >"$OUT/pg-migrate.log" 2>&1
    log "B) postgres+nats: serve --listen 127.0.0.1:$PORT_B, DATABASE_URL=$db_url NATS_URL=$NATS stream $STREAM_B prefix $PREFIX_B"
    DATABASE_URL="$db_url" NATS_URL="$NATS" FLOWFORGE_NATS_STREAM="$STREAM_B" \
        FLOWFORGE_NATS_SUBJECT_PREFIX="$PREFIX_B" RUST_LOG=warn \
        "$BIN" serve --listen "127.0.0.1:$PORT_B" >"$OUT/pg-server.log" 2>&1 &
    SERVER_PID=$!
    wait_ready "$PORT_B"
    setup_workflow "$PORT_B"
    log "server RSS before the runs: $(ps -o rss= -p "$SERVER_PID") KiB"
    for c in $CONNS; do run_wrk pg "$PORT_B" "$c"; done
    pgq() { psql "${PG_HOST_ARGS[@]}" -d "$DB_B" -AtF ' | ' -c "$1"; }
    report_counts pg "$PORT_B" pgq
    echo "JetStream $STREAM_B: $(python3 "$HERE/js_api.py" --url "$NATS" info "$STREAM_B" | python3 -c '
import json,sys; s=json.load(sys.stdin)["state"]; print("messages", s["messages"], "first_seq", s["first_seq"], "last_seq", s["last_seq"], "bytes", s["bytes"])')" \
        | tee -a "$OUT/pg-counts.txt" "$OUT/bench.log"
    stop_server
    if [ "$KEEP" != 1 ]; then
        psql "${PG_HOST_ARGS[@]}" -c "drop database $DB_B"
        log "deleted stream: $(python3 "$HERE/js_api.py" --url "$NATS" delete "$STREAM_B")"
    fi
}

case "$WHAT" in
    embedded) bench_embedded ;;
    pg) bench_pg ;;
    all) bench_embedded; bench_pg ;;
    *) echo "usage: $0 [embedded|pg|all]" >&2; exit 2 ;;
esac
log "done; results in $OUT"
