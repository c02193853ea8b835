# Shared by the benchmark scripts: sourced, not run.

# The account the benchmarks sign in as.
BENCH_ACCOUNT='"email": "bench@flowforge.test", "password": "a benchmark passphrase"'

# json EXPR: prints EXPR (e.g. '["id"]') of the JSON on stdin.
json() { python3 -c "import json,sys; print(json.load(sys.stdin)$1)"; }

# wait_ready BASE [PID]: returns once BASE/health/ready answers (at most
# 60 s); fails at once if process PID has exited.
wait_ready() {
    for _ in $(seq 120); do
        curl -fs -o /dev/null "$1/health/ready" && return 0
        if [ -n "${2:-}" ] && ! kill -0 "$2" 2>/dev/null; then return 1; fi
        sleep 0.5
    done
    return 1
}

# sign_in BASE: registers the benchmark account (the installation's first
# owner) and prints an access token.
sign_in() {
    curl -fs -o /dev/null "$1/api/v1/auth/register" -H 'content-type: application/json' \
        -d "{$BENCH_ACCOUNT, \"name\": \"Bench\"}"
    curl -fs "$1/api/v1/auth/login" -H 'content-type: application/json' \
        -d "{$BENCH_ACCOUNT}" | json '["access_token"]'
}

# wrk_row LABEL FILE: LABEL's markdown row from wrk --latency output in
# FILE: requests/s, p50, p99 and non-2xx responses.
wrk_row() {
    python3 - "$1" "$2" <<'PY'
import re, sys
label, path = sys.argv[1], sys.argv[2]
text = open(path).read()
rate = re.search(r"Requests/sec:\s+([\d.]+)", text).group(1)
p50 = re.search(r"\s50%\s+(\S+)", text).group(1)
p99 = re.search(r"\s99%\s+(\S+)", text).group(1)
errors = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
print(f"| {label} | {float(rate):.0f} | {p50} | {p99} | {errors.group(1) if errors else 0} |")
PY
}
