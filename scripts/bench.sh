#!/usr/bin/env bash
# Run every benchmark (benchmarks/bench_*.py, one pytest per file) and the QR load test,
# and write one machine-readable summary: figures with path, value, unit, statistic,
# reference and ratio, plus the machine, date, load and command they came from.
#
# Usage: scripts/bench.sh [--quick] [--no-setup] [--no-load] [--out FILE] [-k EXPR]
#   --quick     2 rounds and smaller corpora: proves every benchmark runs, figures are rough
#   --no-setup  use $SEALTRUST_VENV as it is (no apt/pip), e.g. a shared development venv
#   --no-load   skip benchmarks/load/wrk_qr.sh (needs Debian's wrk and a free port)
#   --load-only run only benchmarks/load/wrk_qr.sh
#   --out FILE  summary path (default benchmarks/results/summary-<UTC date>.json)
#   -k EXPR     passed to pytest (ratios survive: each is measured inside one test)
# RESULTS.md quotes figures only from such a summary, with its command and load.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/_setup.sh"

COMMAND="scripts/bench.sh $*"
QUICK=0 SETUP=1 LOAD=1 BENCH=1 OUT="" KEXPR=""
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) QUICK=1 ;;
    --no-setup) SETUP=0 ;;
    --no-load) LOAD=0 ;;
    --load-only) BENCH=0 ;;
    --out) OUT="$2"; shift ;;
    -k) KEXPR="$2"; shift ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
  shift
done
if [ "$SETUP" -eq 1 ]; then
  apt_install fonts-wqy-microhei libssl3 openssl wrk bc
  setup_venv "[test]"
fi
cd "$ROOT"
OUT="${OUT:-$ROOT/benchmarks/results/summary-$(date -u +%Y%m%dT%H%MZ).json}"
mkdir -p "$(dirname "$OUT")"
RAW="$(mktemp)"
echo "[]" > "$RAW"
trap 'rm -f "$RAW"' EXIT

if [ "$QUICK" -eq 1 ]; then
  export SEALTRUST_BENCH_ROUNDS=2 SEALTRUST_BENCH_FILES=5 SEALTRUST_BENCH_LICENCES=5 \
    SEALTRUST_BENCH_BULK_COPIES=2 SEALTRUST_BENCH_SIGNATURES=10 DURATION=3s \
    SEALTRUST_BENCH_BATCH=200
  PYTEST_QUICK=(--benchmark-max-time=0.2 --benchmark-min-rounds=3)
else
  PYTEST_QUICK=()
fi
LOAD_BEFORE="$(cut -d' ' -f1-3 /proc/loadavg)"
STARTED="$(date -u +%Y-%m-%dT%H:%M:%SZ)"
FAILED=()
BENCHES=(benchmarks/bench_*.py)
[ "$BENCH" -eq 1 ] || BENCHES=()
for bench in "${BENCHES[@]}"; do
  echo "== $bench (load $(cut -d' ' -f1-3 /proc/loadavg))" >&2
  args=(-q -p no:cacheprovider "$bench" --benchmark-only "${PYTEST_QUICK[@]}")
  [ -z "$KEXPR" ] || args+=(-k "$KEXPR")
  rc=0
  SEALTRUST_BENCH_SUMMARY="$RAW" "$VENV/bin/python" -m pytest "${args[@]}" || rc=$?
  # 5: nothing selected by -k in this file
  [ "$rc" -eq 0 ] || [ "$rc" -eq 5 ] || FAILED+=("$bench")
done

LOAD_OUT=""
if [ "$LOAD" -eq 1 ]; then
  echo "== benchmarks/load/wrk_qr.sh" >&2
  LOAD_OUT="$(mktemp)"
  BIN="$VENV/bin" bash benchmarks/load/wrk_qr.sh > "$LOAD_OUT" || FAILED+=("benchmarks/load/wrk_qr.sh")
  cat "$LOAD_OUT" >&2
fi

"$VENV/bin/python" - "$RAW" "$OUT" "$COMMAND" "$STARTED" "$LOAD_BEFORE" "${LOAD_OUT:-}" \
  "${FAILED[*]:-}" <<'PY'
import json, os, platform, re, subprocess, sys
raw, out, command, started, load_before, load_out, failed = sys.argv[1:8]
figures = json.loads(open(raw).read())
if load_out:
    text = open(load_out).read()
    for block in re.split(r"^== ", text, flags=re.M)[1:]:
        head, _, body = block.partition("\n")
        rate = re.search(r"Requests/sec:\s*([\d.]+)", body)
        if rate:
            figures.append({"path": "QR verification over HTTP (wrk, 2 workers)", "figure": head,
                            "value": float(rate.group(1)), "unit": "requests/s",
                            "statistic": "wrk total requests / duration, all 2xx",
                            "reference": None, "reference_value": None, "ratio": None,
                            "test": "benchmarks/load/wrk_qr.sh"})
        for pct in ("50", "99"):
            lat = re.search(rf"^\s+{pct}%\s+([\d.]+)(us|ms|s)\s*$", body, flags=re.M)
            if lat:
                ms = float(lat.group(1)) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[lat.group(2)]
                figures.append({"path": "QR verification over HTTP (wrk, 2 workers)",
                                "figure": f"{head} p{pct} latency", "value": ms, "unit": "ms",
                                "statistic": f"wrk --latency {pct}th percentile",
                                "reference": None, "reference_value": None, "ratio": None,
                                "test": "benchmarks/load/wrk_qr.sh"})
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
summary = {
    "command": command.strip(),
    "commit": subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip(),
    "started": started,
    "machine": {"cpu": cpu, "cores": os.cpu_count(), "python": platform.python_version()},
    "load_before": load_before,
    "load_after": open("/proc/loadavg").read().split()[:3],
    "quick": os.environ.get("SEALTRUST_BENCH_ROUNDS") == "2",
    "failed": failed.split() if failed else [],
    "figures": figures,
}
open(out, "w").write(json.dumps(summary, indent=1, ensure_ascii=False) + "\n")
print(f"summary: {out} ({len(figures)} figures)")
PY
if [ ${#FAILED[@]} -gt 0 ]; then
  echo "FAILED: ${FAILED[*]}" >&2
  exit 1
fi
