#!/usr/bin/env bash
# QR verification through uvicorn measured with wrk (a C client: it does not
# compete with the server for Python time the way an in-Python client does).
# Usage: benchmarks/load/wrk_qr.sh [concurrency...]   (needs Debian's `wrk`)
# Every answer is counted: wrk's "Non-2xx or 3xx responses" and socket errors are
# reported per run, and the script exits 1 if any request failed, so a run that
# measured error pages can never be quoted as throughput.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
BIN="${BIN:-$ROOT/.venv/bin}"
command -v wrk >/dev/null || { echo "install Debian's wrk first (apt-get install wrk)" >&2; exit 2; }
WORK="$(mktemp -d)"
PORT="${PORT:-$((20000 + RANDOM % 20000))}"
SERVER=""
trap 'kill "$SERVER" 2>/dev/null || true; rm -rf "$WORK"' EXIT
export SEALTRUST_HOME="$WORK/home" SEALTRUST_RATE_LIMIT_REQUESTS=1000000000
"$BIN/sealtrust" init >/dev/null 2>&1
"$BIN/sealtrust" types example DL > "$WORK/dl.json"
LID=$("$BIN/sealtrust" issue --type DL --data "$WORK/dl.json" --out "$WORK/dl.pdf" |
      "$BIN/python" -c 'import json,sys; print(json.load(sys.stdin)["licence_id"])')
TOKEN=$("$BIN/sealtrust" qr issue "$LID" --ttl 300 2>/dev/null | head -n 1)
"$BIN/python" - "$TOKEN" > "$WORK/post.lua" <<'PY'
import json, sys
print('wrk.method = "POST"')
print('wrk.headers["Content-Type"] = "application/json"')
print("wrk.body = " + json.dumps(json.dumps({"token": sys.argv[1]})))
PY
"$BIN/sealtrust" serve --port "$PORT" --workers "${WORKERS:-2}" >"$WORK/serve.log" 2>&1 &
SERVER=$!
for _ in $(seq 300); do curl -sf "http://127.0.0.1:$PORT/health/live" >/dev/null && break; sleep 0.2; done
curl -sf "http://127.0.0.1:$PORT/health/live" >/dev/null || {
  echo "the server did not come up on port $PORT" >&2; tail -n 30 "$WORK/serve.log" >&2; exit 1; }
# Warm-up (not reported): the first requests of each worker load the trust and
# status lists, the verifier's caches and the SM2 key objects.
wrk -t1 -c8 -d5s -s "$WORK/post.lua" "http://127.0.0.1:$PORT/v1/qr/verify?offline=true" >/dev/null
wrk -t1 -c8 -d3s -s "$WORK/post.lua" "http://127.0.0.1:$PORT/v1/qr/verify?offline=false" >/dev/null
echo "load: $(cut -d' ' -f1-3 /proc/loadavg)"
LEVELS=("$@")
[ ${#LEVELS[@]} -gt 0 ] || LEVELS=(4 8)
DURATION="${DURATION:-10s}"
FAILED=0
for c in "${LEVELS[@]}"; do
  for mode in "offline=true" "offline=false"; do
    echo "== c=$c $mode"
    wrk -t1 -c"$c" -d"$DURATION" --latency -s "$WORK/post.lua" \
      "http://127.0.0.1:$PORT/v1/qr/verify?$mode" > "$WORK/wrk.out"
    grep -E "requests in|Requests/sec|  50%|  99%" "$WORK/wrk.out"
    non2xx=$(sed -n 's/.*Non-2xx or 3xx responses: *\([0-9]*\).*/\1/p' "$WORK/wrk.out")
    sockerr=$(sed -n 's/.*Socket errors: *connect \([0-9]*\), read \([0-9]*\), write \([0-9]*\), timeout \([0-9]*\).*/\1 \2 \3 \4/p' "$WORK/wrk.out")
    errors=$(( ${non2xx:-0} + $(echo "${sockerr:-0}" | tr ' ' '\n' | paste -sd+ | bc) ))
    echo "  non-2xx: ${non2xx:-0}  socket errors (connect read write timeout): ${sockerr:-0 0 0 0}"
    [ "$errors" -eq 0 ] || FAILED=1
  done
done
if [ "$FAILED" -ne 0 ]; then
  echo "FAILED: some requests were answered with errors; these figures are not throughput" >&2
  tail -n 20 "$WORK/serve.log" >&2
  exit 1
fi
