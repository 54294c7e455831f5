#!/usr/bin/env bash
# Fleet benchmark: `liteproof verify --all` over COUNT small replicas (copies of the example
# replicas made by real Litestream 0.3.13 and 0.5.17, committed under Tests/Fixtures), against
# the bytes it reads. One process verifies them all, several at once, so the time should follow
# the bytes read (and the trial restores), not COUNT process start-ups.
#   bash Benchmarks/fleet.sh [COUNT] [WORK_DIR]      (default 1000, a fresh temporary folder)
# Build first: swift build -c release (or set LITEPROOF to another binary). Prints the time, the bytes read and the rate, and, for
# comparison, one `liteproof verify` process per replica over the first 50.
set -euo pipefail
count=${1:-1000}
work=${2:-$(mktemp -d "${TMPDIR:-/tmp}/liteproof-fleet.XXXXXX")}
root=$(cd "$(dirname "$0")/.." && pwd)
bin=${LITEPROOF:-"$root/.build/release/liteproof"}
[ -x "$bin" ] || { echo "build first: swift build -c release" >&2; exit 2; }
fleet="$work/fleet"
rm -rf "$fleet"; mkdir -p "$fleet"
for i in $(seq 0 $((count - 1))); do
  if [ $((i % 2)) -eq 0 ]; then src="$root/Tests/Fixtures/example-0.3/replica"; else src="$root/Tests/Fixtures/example-0.5/replica"; fi
  dest="$fleet/tenants/$((i % 10))/tenant-$i"
  mkdir -p "$(dirname "$dest")"
  cp -a "$src" "$dest"
done
echo "$count replicas, $(du -sh "$fleet" | cut -f1) in $fleet"

run() {  # run LABEL ARGS…: time one verify --all and report its summary line
  local label=$1; shift
  local start end
  start=$(date +%s.%N)
  # CPU time beside wall time: on a busy machine the wall time mostly measures the queue.
  local TIMEFORMAT="  cpu: %U s user + %S s system, %R s wall"
  set +e; time "$bin" verify --all "$fleet" --json --quiet "$@" > "$work/out.jsonl"; local rc=$?; set -e
  end=$(date +%s.%N)
  local summary; summary=$(tail -n 1 "$work/out.jsonl")
  python3 - "$label" "$start" "$end" "$rc" "$summary" <<'PY'
import json, sys
label, start, end, rc, summary = sys.argv[1], float(sys.argv[2]), float(sys.argv[3]), sys.argv[4], json.loads(sys.argv[5])
secs = end - start
read = summary["bytesRead"]
print(f"{label}: {summary['databases']} databases ({summary['ok']} ok) in {secs:.2f} s, exit {rc}; "
      f"{read / 1e6:.1f} MB read, {read / 1e6 / secs:.1f} MB/s, {secs / max(1, summary['databases']) * 1000:.1f} ms per database")
PY
}
run "verify --all (file checks only)" --restore-check none
run "verify --all (with trial restore + quick_check)"

# The naive way, for scale: one process per replica, over the first 50.
start=$(date +%s.%N)
for i in $(seq 0 49); do "$bin" verify --quiet "$fleet/tenants/$((i % 10))/tenant-$i" > /dev/null || true; done
end=$(date +%s.%N)
python3 -c "import sys; s=float(sys.argv[2])-float(sys.argv[1]); print(f'one process per replica: {s / 50 * 1000:.1f} ms per database (50 runs)')" "$start" "$end"
