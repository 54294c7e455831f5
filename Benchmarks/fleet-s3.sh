#!/usr/bin/env bash
# Fleet on object storage: `liteproof verify --all s3://…` over COUNT small replicas in SeaweedFS,
# beside `verify --all` over the same replicas on local disk, with --jobs 1, 4 and 16.
#   bash Benchmarks/fleet-s3.sh [COUNT] [WORK_DIR]      (default 1000, a fresh temporary folder)
# JOBS (environment, default "1 4 16") lists the --jobs values; RESTORE_CHECK (default quick) is
# passed as --restore-check (none: file checks only).
#
# The replicas are copies of the committed example replicas made by real Litestream 0.3.13 and
# 0.5.17 (Tests/Fixtures/example-0.3|0.5/replica), alternating, as tenants/<i % 10>/tenant-<i>/
# (the layout Benchmarks/fleet.sh makes). On S3 the 0.5 keys are the ones Litestream writes there
# (ltx/<level>/F becomes <level as %04x>/F). The server is SeaweedFS (`weed mini` from
# .tools/seaweedfs, installed by .ci/setup) on loopback ports of its own, stopped at the end, also
# on failure; the upload goes through its filer, 32 PUTs in flight.
#
# Each run prints wall time, CPU time and peak RSS (GNU time), time per replica, and for S3 the
# requests LiteProof sent (its `--json` summary: storageRequests, listingRequests), per replica.
# The goal (issue 25): one listing pass plus the objects' own reads, and S3 within 2x of local disk.
# LiteProof is built with `swift build -c release --product liteproof` unless LITEPROOF_BIN (or, as
# before, LITEPROOF) names a binary.
set -euo pipefail
count=${1:-1000}
own_work=
[ -n "${2:-}" ] || own_work=1
work=${2:-$(mktemp -d "${TMPDIR:-/tmp}/liteproof-fleet-s3.XXXXXX")}
read -r -a jobs_list <<< "${JOBS:-1 4 16}"
restore_check=${RESTORE_CHECK:-quick}
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
weed="$root/.tools/seaweedfs/bin/weed"
[ -x "$weed" ] || { echo "error: $weed is missing; run \`bash .ci/setup\` in $root first" >&2; exit 2; }
[ -x /usr/bin/time ] || { echo "error: /usr/bin/time is missing (apt-get install time)" >&2; exit 2; }
source "$here/bench-lib.sh"
LITEPROOF_BIN=${LITEPROOF_BIN:-${LITEPROOF:-}} liteproof_binary
bin=$liteproof

mkdir -p "$work"
pid=
cleanup() {
  if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
  rm -rf "$work/weed" "$work/fleet" "$work/out.jsonl" "$work/err.txt" "$work/time.txt" "$work/weed.log"
  [ -z "$own_work" ] || rmdir "$work" 2>/dev/null || true
}
trap cleanup EXIT

# The same credentials for SeaweedFS's admin identity and LiteProof; no other AWS_ settings.
for v in $(env | sed -n 's/^\(AWS_[A-Za-z_]*\)=.*/\1/p; s/^\([a-z_]*_proxy\)=.*/\1/Ip'); do unset "$v"; done
export AWS_ACCESS_KEY_ID=bench AWS_SECRET_ACCESS_KEY=bench AWS_REGION=us-east-1
export AWS_CONFIG_FILE=/nonexistent AWS_SHARED_CREDENTIALS_FILE=/nonexistent

# The fleet on local disk (as Benchmarks/fleet.sh makes it); the upload reads it too.
fleet="$work/fleet"
rm -rf "$fleet"
for i in $(seq 0 $((count - 1))); do
  if [ $((i % 2)) -eq 0 ]; then src="$root/Tests/Fixtures/example-0.3/replica"; else src="$root/Tests/Fixtures/example-0.5/replica"; fi
  dest="$fleet/tenants/$((i % 10))/tenant-$i"
  mkdir -p "$(dirname "$dest")"
  cp -a "$src" "$dest"
done
objects=$(find "$fleet" -type f | wc -l)
echo "$count replicas, $objects files, $(du -sh "$fleet" | cut -f1); $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"

source "$root/Benchmarks/seaweed-lib.sh"
start_seaweed "$weed" "$work" fleet
pid=$weed_pid

# Upload through the filer: every file under the same key, 0.5's ltx/<level>/ as S3 names it.
up_start=$SECONDS
python3 - "$filer" "$fleet" <<'EOF'
import concurrent.futures, http.client, os, sys, threading, time, urllib.parse
port, fleet = int(sys.argv[1]), sys.argv[2]
local = threading.local()
def conn():
    if not hasattr(local, "c"):
        local.c = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    return local.c
for attempt in range(60):
    try:
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        c.request("GET", "/buckets/fleet/?limit=1", headers={"Accept": "application/json"}); r = c.getresponse(); r.read()
        if r.status < 500: break
    except OSError:
        pass
    time.sleep(0.5)
def put(path):
    rel = os.path.relpath(path, fleet).split("/")
    if "ltx" in rel:  # 0.5 keys on S3: <level as %04x>/<min>-<max>.ltx, not ltx/<level>/
        k = rel.index("ltx")
        rel = rel[:k] + ["%04x" % int(rel[k + 1])] + rel[k + 2:]
    key = "/".join(rel)
    with open(path, "rb") as f:
        body = f.read()
    for attempt in range(5):
        try:
            c = conn()
            c.request("PUT", "/buckets/fleet/" + urllib.parse.quote(key), body=body, headers={"Content-Length": str(len(body))})
            r = c.getresponse(); r.read()
            if r.status < 300: return
            err = "HTTP %d" % r.status
        except (OSError, http.client.HTTPException) as e:
            err = str(e); local.__dict__.pop("c", None)
        time.sleep(0.2 * (attempt + 1))
    raise SystemExit("PUT %s: %s" % (key, err))
paths = [os.path.join(d, n) for d, _, files in os.walk(fleet) for n in files]
with concurrent.futures.ThreadPoolExecutor(32) as pool:
    for _ in pool.map(put, paths): pass
EOF
echo "uploaded $objects objects to SeaweedFS in $((SECONDS - up_start)) s"
url="s3://fleet/tenants?endpoint=http://127.0.0.1:$s3&region=us-east-1&forcePathStyle=true"
echo "liteproof: $bin; --restore-check $restore_check"

# weed_cpu: the CPU seconds SeaweedFS has used so far (all its threads; from /proc).
weed_cpu() {
  local weed_pid; weed_pid=$(pgrep -P "$pid" -x weed || echo "$pid")
  awk -v hz="$(getconf CLK_TCK)" '{ print ($14 + $15) / hz }' "/proc/$weed_pid/stat"
}
# run LABEL TARGET JOBS [ARGS…]: one verify --all, timed by GNU time; prints one row of the table.
run() {
  local label=$1 target=$2 jobs=$3 rc=0 before
  shift 3
  before=$(weed_cpu)
  /usr/bin/time -f "%e %U %S %M" -o "$work/time.txt" "$bin" verify --all "$target" --json --quiet --jobs "$jobs" \
    --restore-check "$restore_check" "$@" > "$work/out.jsonl" 2> "$work/err.txt" || rc=$?
  [ "$rc" -eq 0 ] || { echo "error: $label --jobs $jobs exited $rc" >&2; tail -5 "$work/err.txt" "$work/out.jsonl" >&2; exit 1; }
  python3 - "$label" "$jobs" "$(tail -1 "$work/time.txt")" "$(tail -n 1 "$work/out.jsonl")" "$count" "$before" "$(weed_cpu)" <<'PY'
import json, sys
label, jobs, times, summary, count = sys.argv[1], sys.argv[2], sys.argv[3].split(), json.loads(sys.argv[4]), int(sys.argv[5])
weed = float(sys.argv[7]) - float(sys.argv[6])
wall, user, sys_, rss = float(times[0]), float(times[1]), float(times[2]), int(times[3])
n = summary["databases"]
if label.endswith("list"):  # --shard 0/1000000: the listing and discovery, (nearly) no replica checked
    per = "-"
else:
    assert n == count and summary["ok"] == n, "expected %d ok databases: %s" % (count, summary)
    per = "%.1f" % (wall / n * 1000)
req = summary.get("storageRequests")
reqs = "%d (%d listing) = %.2f per replica" % (req, summary["listingRequests"], req / count) if req is not None else "-"
server = "%.2f" % weed if label.startswith("s3") else "-"
print("%-8s %4s %8.2f %8s %8.2f %8s %9.1f   %s" % (label, jobs, wall, per, user + sys_, server, rss / 1024, reqs))
PY
}
echo
echo "wall: the whole process; cpu: LiteProof's user + system; server cpu: SeaweedFS's in the same time (same cores)"
printf '%-8s %4s %8s %8s %8s %8s %9s   %s\n' where jobs "wall s" ms/repl "cpu s" "srv cpu" "peak MB" "requests"
# The listing and discovery alone (a shard that holds no replica, or one): their time and memory.
run local-list "$fleet" 1 --shard 0/1000000
run s3-list "$url" 1 --shard 0/1000000
for j in "${jobs_list[@]}"; do
  run local "$fleet" "$j"
  run s3 "$url" "$j"
done
