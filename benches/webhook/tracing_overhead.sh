#!/usr/bin/env bash
# What tracing costs on the webhook benchmark: bench.sh with traces off, then
# exported to a local OTLP sink (otlp_sink.py), alternating ROUNDS times so
# drift on the machine hits both alike. Metrics are on in every run.
#
# usage: tracing_overhead.sh [embedded|pg]   (default: embedded)
# Environment: as bench.sh (TARGET, CONNS, DURATION, WARMUP…), plus
#   ROUNDS     off/on pairs                  (default 2)
#   SINK_PORT  port of the OTLP sink         (default 14318)
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
WHAT=${1:-embedded}
ROUNDS=${ROUNDS:-2}
SINK_PORT=${SINK_PORT:-14318}
TARGET=${TARGET:-${CARGO_TARGET_DIR:-$HERE/../../target}}
OUT=${OUT:-$TARGET/bench-results/tracing-$(date +%Y%m%d-%H%M%S)}
export CONNS=${CONNS:-16} DURATION=${DURATION:-20s} TARGET

mkdir -p "$OUT"
python3 "$HERE/otlp_sink.py" "$SINK_PORT" >"$OUT/sink.log" 2>&1 &
SINK_PID=$!
trap 'kill $SINK_PID 2>/dev/null || true' EXIT

BUILD=${BUILD:-1}
for round in $(seq "$ROUNDS"); do
    OUT="$OUT/off-$round" BUILD=$BUILD env -u OTEL_EXPORTER_OTLP_ENDPOINT "$HERE/bench.sh" "$WHAT"
    BUILD=0
    OUT="$OUT/on-$round" BUILD=0 OTEL_EXPORTER_OTLP_ENDPOINT="http://127.0.0.1:$SINK_PORT" \
        "$HERE/bench.sh" "$WHAT"
done
kill "$SINK_PID"
wait "$SINK_PID" 2>/dev/null || true
cat "$OUT/sink.log"
echo "summary (executions/s, p50, p99, server CPU per execution):"
for run in "$OUT"/*/; do
    for result in "$run"*-c[0-9]*.txt; do
        case $result in *warmup*) continue ;; esac
        printf '%-8s %-20s %8s/s  p50 %-9s  p99 %-9s  %s ms\n' "$(basename "$run")" "$(basename "$result" .txt)" \
            "$(awk '/Requests\/sec/ {print $2}' "$result")" \
            "$(awk '$1 == "50%" {print $2}' "$result")" \
            "$(awk '$1 == "99%" {print $2}' "$result")" \
            "$(awk '/requests in/ {n = $1} /CPU during the run/ {cpu = $6} END {printf "%.2f", cpu * 1000 / n}' "$result")"
    done
done
