#!/usr/bin/env bash
# Soaks of `liteproof watch`: memory, threads and descriptors over many rounds and many databases.
#   bash Benchmarks/watch-soak.sh rounds [OUT_DIR] [ROUNDS] [VERSION]    # default 10000 rounds, 0.5.17
#   bash Benchmarks/watch-soak.sh fleet  [OUT_DIR] [DATABASES] [VERSION] # default 500 databases, 0.5.17
# rounds: one database, a writer committing a small transaction every 0.1 s and the real
#   `litestream replicate` (1 s syncs, compaction every 10 s, so files come and go) while one
#   watcher runs ROUNDS rounds at --interval 0.02. Every 2 s the watcher's VmRSS, Threads and open
#   descriptors are read from /proc into OUT_DIR/samples.tsv with the round reached; the summary
#   gives the growth from the first sample at or after round 100 to the end.
# fleet: DATABASES databases, a few transactions each, replicated by one Litestream process whose
#   config lists them all; one watcher reads that same config (--config) for 20 rounds at
#   --interval 1; then the same with one database of the fleet. Reported: the watcher's peak
#   resident memory (VmHWM) for both, the difference per database, and each round's wall time.
# Scratch is removed at the end unless KEEP=1.
set -euo pipefail
source "$(dirname "$0")/watch-lib.sh"
mode=${1:?rounds or fleet}
out=${2:-$root/Benchmarks/.data/watch-soak-$mode}
version=${4:-0.5.17}
bin=$root/.tools/litestream-$version/bin/litestream
rm -rf "$out"; mkdir -p "$out"

# sample PID ROUND_SOURCE_EVENTS OUT_TSV: every 2 s while PID lives.
sample() {
  local pid=$1 events=$2 tsv=$3
  printf 'seconds\tround\trss_kib\thwm_kib\tthreads\tfds\tload1\n' > "$tsv"
  local start=$SECONDS
  while [ -d "/proc/$pid" ]; do
    local rss hwm thr fds round
    rss=$(awk '/^VmRSS/ {print $2}' "/proc/$pid/status" 2>/dev/null) || break
    hwm=$(awk '/^VmHWM/ {print $2}' "/proc/$pid/status" 2>/dev/null) || break
    thr=$(awk '/^Threads/ {print $2}' "/proc/$pid/status" 2>/dev/null) || break
    fds=$(find "/proc/$pid/fd" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l)
    round=$(tail -n 1 "$events" 2>/dev/null | python3 -c 'import json,sys
try: print(json.loads(sys.stdin.read()).get("round", 0))
except Exception: print(0)')
    [ -n "$rss" ] && printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' $((SECONDS - start)) "$round" "$rss" "$hwm" "$thr" "$fds" "$(cut -d' ' -f1 /proc/loadavg)" >> "$tsv"
    sleep 2
  done
}

case $mode in
rounds)
  rounds=${3:-10000}
  db=$out/live.db rep=$out/replica events=$out/events.jsonl
  new_db "$db"
  if [ "$version" = 0.3.13 ]; then
    printf 'dbs:\n  - path: %s\n    monitor-interval: 200ms\n    replicas:\n      - type: file\n        path: %s\n        sync-interval: 1s\n' "$db" "$rep" > "$out/litestream.yml"
  else
    printf 'levels:\n  - interval: 10s\nsnapshot:\n  interval: 2m\n  retention: 4m\nl0-retention: 30s\ndbs:\n  - path: %s\n    monitor-interval: 200ms\n    replica:\n      type: file\n      path: %s\n      sync-interval: 1s\n' "$db" "$rep" > "$out/litestream.yml"
  fi
  "$bin" replicate -config "$out/litestream.yml" > "$out/litestream.log" 2>&1 &
  pids+=($!)
  write_until "$db" "$rep" 5 >/dev/null
  # The steady writer: one small transaction every 0.1 s until it is stopped.
  python3 -c '
import signal, sqlite3, sys, time
signal.signal(signal.SIGINT, signal.default_int_handler)  # a background job starts with SIGINT ignored
c = sqlite3.connect(sys.argv[1], timeout=30, isolation_level=None)
i = 0
try:
    while True:
        c.execute("INSERT INTO t(v, n) VALUES (randomblob(100), ?)", (f"steady {i}",)); i += 1; time.sleep(0.1)
except KeyboardInterrupt:
    pass
' "$db" &
  pids+=($!)
  start=$(date +%s.%N)
  "$liteproof" watch --json --interval 0.02 --rounds "$rounds" "$rep" > "$events" 2> "$out/watch.err" &
  watcher=$!
  sample "$watcher" "$events" "$out/samples.tsv"
  wait "$watcher" || echo "watcher exit $? (see $out/watch.err)"
  end=$(date +%s.%N)
  python3 - "$out/samples.tsv" "$events" "$start" "$end" <<'EOF'
import json, sys
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1])][1:]
rows = [dict(zip(("s", "round", "rss", "hwm", "thr", "fds", "load"), r)) for r in rows]
ev = [json.loads(l) for l in open(sys.argv[2]) if l.startswith("{")]
rounds = [e for e in ev if e.get("event") == "round"]
after = [r for r in rows if int(r["round"]) >= 100]
a, z = after[0], after[-1]
secs = sorted(e["seconds"] for e in rounds)
verdicts = {}
for e in rounds: verdicts[e["verdict"]] = verdicts.get(e["verdict"], 0) + 1
print(f"rounds: {len(rounds)} in {float(sys.argv[4]) - float(sys.argv[3]):.0f} s; verdicts {verdicts}; files read {sum(e['filesChecked'] for e in rounds)}, bytes read {sum(e['bytesRead'] for e in rounds)}")
print(f"round seconds: median {secs[len(secs)//2]:.4f}, p99 {secs[int(len(secs)*0.99)]:.4f}, max {secs[-1]:.4f}")
print(f"RSS at round {a['round']}: {int(a['rss'])/1024:.1f} MiB; at round {z['round']}: {int(z['rss'])/1024:.1f} MiB; growth {(int(z['rss'])-int(a['rss']))/1024:.2f} MiB; max {max(int(r['rss']) for r in after)/1024:.1f} MiB; peak (VmHWM) {int(z['hwm'])/1024:.1f} MiB")
print(f"threads: {min(int(r['thr']) for r in after)}..{max(int(r['thr']) for r in after)}; fds: {min(int(r['fds']) for r in after)}..{max(int(r['fds']) for r in after)}; load1 {min(float(r['load']) for r in rows)}..{max(float(r['load']) for r in rows)}")
EOF
  ;;
fleet)
  count=${3:-500}
  cfg=$out/litestream.yml
  # fleet_config FIRST LAST: a Litestream config listing databases FIRST..LAST.
  fleet_config() {
    if [ "$version" = 0.3.13 ]; then echo 'dbs:'; else printf 'levels:\n  - interval: 1h\ndbs:\n'; fi
    for i in $(seq "$1" "$2"); do
      if [ "$version" = 0.3.13 ]; then
        printf '  - path: %s\n    monitor-interval: 200ms\n    replicas:\n      - type: file\n        path: %s\n' "$out/db$i/live.db" "$out/db$i/replica"
      else
        printf '  - path: %s\n    monitor-interval: 200ms\n    replica:\n      type: file\n      path: %s\n' "$out/db$i/live.db" "$out/db$i/replica"
      fi
    done
  }
  for i in $(seq 1 "$count"); do mkdir -p "$out/db$i"; new_db "$out/db$i/live.db"; done
  fleet_config 1 "$count" > "$cfg"
  fleet_config 1 1 > "$out/one.yml"
  "$bin" replicate -config "$cfg" > "$out/litestream.log" 2>&1 &
  pids+=($!)
  for i in $(seq 1 "$count"); do
    sqlite3 -cmd ".timeout 30000" "$out/db$i/live.db" "INSERT INTO t(v, n) VALUES (randomblob(1000), 'a'); INSERT INTO t(v, n) VALUES (randomblob(1000), 'b');" >/dev/null
  done
  # Wait until every database's replica holds a file after the writes (polled, no fixed wait).
  python3 - "$out" "$count" <<'EOF'
import os, sys, time
out, count = sys.argv[1], int(sys.argv[2])
end = time.time() + 600
while time.time() < end:
    missing = [i for i in range(1, count + 1) if sum(len(f) for _, _, f in os.walk(f"{out}/db{i}/replica")) < 2]
    if not missing: sys.exit(0)
    time.sleep(0.5)
sys.exit(f"{len(missing)} replicas still without files, e.g. db{missing[0]}")
EOF
  for run in fleet one; do
    events=$out/events-$run.jsonl
    config=$cfg
    [ "$run" = one ] && config=$out/one.yml
    start=$(date +%s.%N)
    "$liteproof" watch --json --interval 1 --rounds 20 --config "$config" > "$events" 2> "$out/watch-$run.err" &
    watcher=$!
    sample "$watcher" "$events" "$out/samples-$run.tsv"
    wait "$watcher" || echo "watcher exit $? (see $out/watch-$run.err)"
    echo "$run: $(grep -c '"event":"round"' "$events") round events in $(python3 -c "print(round($(date +%s.%N) - $start))") s"
  done
  python3 - "$out" "$count" <<'EOF'
import json, sys
out, count = sys.argv[1], int(sys.argv[2])
def hwm(run): return max(int(l.split("\t")[3]) for l in list(open(f"{out}/samples-{run}.tsv"))[1:])
def rounds(run):
    ev = [json.loads(l) for l in open(f"{out}/events-{run}.jsonl") if l.startswith("{")]
    by = {}
    for e in ev:
        if e.get("event") != "round": continue
        by.setdefault(e["round"], []).append(e)
    return by
f, o = hwm("fleet"), hwm("one")
by = rounds("fleet")
walls = {r: max(e["time"] + e["seconds"] for e in es) - min(e["time"] for e in es) for r, es in by.items()}
verdicts = {}
for es in by.values():
    for e in es: verdicts[e["verdict"]] = verdicts.get(e["verdict"], 0) + 1
later = sorted(v for r, v in walls.items() if r > 1)
print(f"{count} databases: peak RSS {f/1024:.1f} MiB; one database: {o/1024:.1f} MiB; per database {(f-o)/count:.0f} KiB")
print(f"round 1 (everything read, trial restores): {walls[1]:.2f} s; later rounds: median {later[len(later)//2]:.3f} s, max {later[-1]:.3f} s over {len(later)} rounds; verdicts {verdicts}")
EOF
  ;;
*) echo "unknown mode $mode (rounds or fleet)" >&2; exit 2 ;;
esac
cleanup
[ "${KEEP:-0}" = 1 ] || rm -rf "$out"/db* "$out"/replica "$out"/live.db*
