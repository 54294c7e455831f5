# Shared by watch-rounds.sh and watch-soak.sh (sourced, not run): real Litestream replicas made
# file by file, and a background `liteproof watch --json` whose round events are read as they come.
# Needs sqlite3 and python3 (the writer: one small transaction per call of its loop, paced so that
# Litestream's 10 ms syncs turn most transactions into one replica file each).

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
liteproof=${LITEPROOF_BIN:-$root/.build/release/liteproof}
[ -x "$liteproof" ] || { echo "no $liteproof: run 'swift build -c release --product liteproof' first" >&2; exit 1; }
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -INT "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  pids=()
}
trap cleanup EXIT

# litestream_config VERSION DB REPLICA_URL_OR_DIR -> YAML on stdout. Short intervals so that every
# transaction is a file; no compaction, checkpoints or snapshots during a run, so L0 files (0.5)
# and WAL segments (0.3) stay (0.3: a new WAL index only when SQLite's WAL restarts after
# Litestream's checkpoint at min-checkpoint-page-count pages).
litestream_config() {
  local version=$1 db=$2 rep=$3
  if [ "$version" = 0.3.13 ]; then
    printf 'dbs:\n  - path: %s\n    monitor-interval: 10ms\n    checkpoint-interval: 1h\n    min-checkpoint-page-count: %s\n    replicas:\n      - type: file\n        path: %s\n        sync-interval: 10ms\n        retention: 720h\n' \
      "$db" "${CHECKPOINT_PAGES:-4000}" "$rep"
  else
    printf 'l0-retention: 720h\nlevels:\n  - interval: 720h\nsnapshot:\n  interval: 720h\n  retention: 720h\ndbs:\n  - path: %s\n    monitor-interval: 10ms\n    checkpoint-interval: 1h\n    replica:\n      type: file\n      path: %s\n      sync-interval: 10ms\n' \
      "$db" "$rep"
  fi
}

# new_db DB: a WAL database with one small table.
new_db() {
  sqlite3 "$1" "PRAGMA journal_mode=WAL; CREATE TABLE t(id INTEGER PRIMARY KEY, v BLOB, n TEXT);" >/dev/null
}

# count_files DIR
count_files() { find "$1" -type f 2>/dev/null | wc -l; }

# write_until DB REPLICA_DIR TARGET_FILES [PAUSE_S]: small transactions until the replica holds
# TARGET_FILES files (counted every 50 transactions, so it may overshoot by a few dozen).
write_until() {
  python3 - "$1" "$2" "$3" "${4:-0.008}" <<'EOF'
import os, sqlite3, sys, time
db, rep, target, pause = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
c = sqlite3.connect(db, timeout=30, isolation_level=None)
def count():
    return sum(len(f) for _, _, f in os.walk(rep))
i = 0
while True:
    c.execute("BEGIN"); c.execute("INSERT INTO t(v, n) VALUES (randomblob(100), ?)", (f"row {i}",)); c.execute("COMMIT")
    i += 1
    time.sleep(pause)
    if i % 50 == 0 or i < 50:
        n = count()
        if n >= target: break
        if i > 40 * target + 1000: sys.exit(f"{rep}: only {n} files after {i} transactions")
print(i)
EOF
}

# one_tx DB: one more small transaction.
one_tx() { sqlite3 -cmd ".timeout 30000" "$1" "INSERT INTO t(v, n) VALUES (randomblob(100), 'one more');" >/dev/null; }

# wait_for FILE JQ_FILTER [TIMEOUT_S]: waits until a line of the JSON Lines FILE matches
# (python, not a fixed sleep: polls every 50 ms) and prints it.
wait_for_event() {
  python3 - "$1" "$2" "${3:-600}" <<'EOF'
import json, sys, time
path, cond, timeout = sys.argv[1], sys.argv[2], float(sys.argv[3])
end = time.time() + timeout
while time.time() < end:
    try:
        with open(path) as f:
            for line in f:
                try: e = json.loads(line)
                except ValueError: continue
                if e.get("event") == "round" and eval(cond, {}, {"e": e}):
                    print(line.strip()); sys.exit(0)
    except FileNotFoundError: pass
    time.sleep(0.05)
sys.exit(f"timed out after {timeout:.0f} s waiting for a round with {cond} in {path}")
EOF
}

# field JSON NAME
field() { python3 -c 'import json,sys; e=json.loads(sys.argv[1]); print(e.get(sys.argv[2], ""))' "$1" "$2"; }
