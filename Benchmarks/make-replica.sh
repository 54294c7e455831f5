#!/usr/bin/env bash
# Makes a real Litestream replica for benchmarks, with one of three write profiles.
#   bash Benchmarks/make-replica.sh VERSION SIZE_MB|PROFILE OUT_DIR [PAGE_SIZE]
# VERSION is 0.3.13 or 0.5.17 (binaries from .tools/, installed by .ci/setup). OUT_DIR gets
# live.db (quiesced, checkpointed) and replica/. The second argument chooses what is written while
# `litestream replicate` runs:
#   SIZE_MB (a number)  append: rows in batches of ~8 MB up to about SIZE_MB megabytes, so the
#                       replica holds many WAL segments (0.3) or LTX files (0.5).
#   update-heavy        500,000 rows (~250 MB) preloaded, then 2,000 transactions that insert
#                       100,000 rows in all and update half of the existing rows, spread across
#                       the table (every page rewritten several times): a production day of WAL.
#   small-tx            20,000 small transactions (1 insert + 3 updates each) over a hot set of
#                       ~2,000 rows: many tiny commits rewriting the same few hundred pages.
# LITEPROOF_BENCH_SCALE=PERCENT scales the update-heavy and small-tx profiles down (row and
# transaction counts) for quick runs; default 100.
# LITEPROOF_BENCH_SNAPSHOT_INTERVAL=DURATION sets 0.5's snapshot interval (default 20s: a full
# snapshot every 20 s, so a 1.5 GB append database makes a 5.4 GB replica). A production-like `1h`
# gives the run one snapshot at most and otherwise L0/L1 files. LITEPROOF_BENCH_L0_RETENTION=DURATION
# sets 0.5's l0-retention (default: Litestream's): how long L0 files stay after their
# compaction into L1 (`30s` keeps a large replica to its snapshot, L1 files and the last L0 files,
# as in production; a 4 GB database then fits on disk). 0.3 ignores both.
# After `litestream replicate` stops, Litestream's own `.live.db-litestream` folder beside live.db
# is removed: nothing reads it (the benchmarks read live.db and replica/ only), and for large
# append databases it holds a copy of the WAL as big as a good part of the database.
set -euo pipefail
version=$1 size_mb=$2 out=$3 page_size=${4:-4096}
snapshot_interval=${LITEPROOF_BENCH_SNAPSHOT_INTERVAL:-20s}
l0_retention=""
[ -z "${LITEPROOF_BENCH_L0_RETENTION:-}" ] || l0_retention="l0-retention: $LITEPROOF_BENCH_L0_RETENTION\n"
scale=${LITEPROOF_BENCH_SCALE:-100}
root=$(cd "$(dirname "$0")/.." && pwd)
bin="$root/.tools/litestream-$version/bin/litestream"
rm -rf "$out"; mkdir -p "$out"
db="$out/live.db" rep="$out/replica"
sqlite3 "$db" "PRAGMA page_size=$page_size; PRAGMA journal_mode=WAL; CREATE TABLE events(id INTEGER PRIMARY KEY, kind TEXT, payload BLOB, note TEXT); CREATE INDEX events_kind ON events(kind);" >/dev/null
if [ "$version" = 0.3.13 ]; then
  printf 'dbs:\n  - path: %s\n    monitor-interval: 200ms\n    replicas:\n      - type: file\n        path: %s\n' "$db" "$rep" > "$out/litestream.yml"
else
  printf "${l0_retention}"'levels:\n  - interval: 5s\nsnapshot:\n  interval: %s\ndbs:\n  - path: %s\n    monitor-interval: 200ms\n    replica:\n      type: file\n      path: %s\n' "$snapshot_interval" "$db" "$rep" > "$out/litestream.yml"
fi
case $size_mb in
  update-heavy)
    # The preload is in the database before replication starts: the first snapshot holds it.
    rows=$((500000 * scale / 100))
    sqlite3 "$db" "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM n WHERE i < $rows)
      INSERT INTO events(kind, payload, note) SELECT 'kind-' || (i % 17), randomblob(200), printf('%.200c', 'p') FROM n;" >/dev/null ;;
  small-tx)
    rows=$((2000 * scale / 100))
    sqlite3 "$db" "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM n WHERE i < $rows)
      INSERT INTO events(kind, payload, note) SELECT 'kind-' || (i % 17), randomblob(300), printf('%.100c', 'p') FROM n;" >/dev/null ;;
esac
"$bin" replicate -config "$out/litestream.yml" > "$out/litestream.log" 2>&1 &
pid=$!
trap 'kill -INT $pid 2>/dev/null; wait $pid 2>/dev/null || true' EXIT
sleep 1
case $size_mb in
update-heavy)
  # 2,000 transactions, 50 per sqlite3 process: each inserts 50 rows and updates the 125 rows whose
  # id is ≡ 2·t (mod 4000), one row every ~4000 (a different page each); over the run, every even
  # residue once, i.e. half of the preloaded rows, each page of the table several times.
  txs=$((2000 * scale / 100)) per=50 modulus=$((4000 * scale / 100))
  t=0
  while [ "$t" -lt "$txs" ]; do
    batch=".timeout 30000"
    for _ in $(seq 1 "$per"); do
      t=$((t + 1)); [ "$t" -le "$txs" ] || break
      batch+="
        BEGIN; WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM n WHERE i < 50)
          INSERT INTO events(kind, payload, note) SELECT 'kind-' || (i % 17), randomblob(200), printf('%.200c', 'n') FROM n;
          UPDATE events SET note = printf('%.200c', char(97 + $t % 26)), payload = randomblob(200) WHERE id <= $rows AND id % $modulus = (2 * $t) % $modulus; COMMIT;"
    done
    sqlite3 "$db" <<< "$batch" >/dev/null
    sleep 0.1
  done ;;
small-tx)
  # 20,000 transactions, 1,000 per sqlite3 process, each one insert and three updates of rows in
  # the hot set (the first 2,000 rows: ~300 pages).
  txs=$((20000 * scale / 100)) per=1000
  t=0
  while [ "$t" -lt "$txs" ]; do
    batch=".timeout 30000"
    for _ in $(seq 1 "$per"); do
      t=$((t + 1)); [ "$t" -le "$txs" ] || break
      batch+="
        BEGIN; INSERT INTO events(kind, payload, note) VALUES ('kind-' || ($t % 17), randomblob(300), 'new $t');
          UPDATE events SET note = 'hot $t', payload = randomblob(300) WHERE id IN ($(( t * 7 % rows + 1 )), $(( t * 13 % rows + 1 )), $(( t * 31 % rows + 1 ))); COMMIT;"
    done
    sqlite3 "$db" <<< "$batch" >/dev/null
    sleep 0.2
  done ;;
*)
batches=$(( size_mb / 8 ))
for b in $(seq 1 "$batches"); do
  # ~8 MB per batch: half random (incompressible), half repetitive text (compressible). Batches
  # 1-96 also update every 97th row of the table (id % 97 = b); from batch 97 on that matches no
  # row, so the update (a scan of the whole table: quadratic in the size) is left out: the same
  # writes at every size, and a 4 GB database in linear time.
  update=""
  [ "$b" -ge 97 ] || update="UPDATE events SET note = 'updated ' || id WHERE id % 97 = $b;"
  sqlite3 -cmd ".timeout 30000" "$db" "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM n WHERE i < 4000)
    INSERT INTO events(kind, payload, note) SELECT 'kind-' || (i % 17), randomblob(1024), printf('%.1000c', 'x') FROM n;
    $update"
  sleep 0.3
done ;;
esac
sleep 4
kill -INT $pid; wait $pid || true
trap - EXIT
sqlite3 "$db" "PRAGMA wal_checkpoint(TRUNCATE);" >/dev/null
rm -rf "$out/.live.db-litestream"
echo "$(du -sh "$db" | cut -f1) database, $(du -sh "$rep" | cut -f1) replica, $(find "$rep" -type f | wc -l) files in $out"
