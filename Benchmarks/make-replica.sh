#!/usr/bin/env bash
# Makes a real Litestream replica of a database of about SIZE_MB megabytes, for benchmarks.
#   bash Benchmarks/make-replica.sh VERSION SIZE_MB OUT_DIR [PAGE_SIZE]
# VERSION is 0.3.13 or 0.5.17 (binaries from .tools/, installed by .ci/setup). OUT_DIR gets
# live.db (quiesced, checkpointed) and replica/. Rows are written in batches of ~8 MB while
# `litestream replicate` runs, so the replica holds many WAL segments (0.3) or LTX files (0.5).
set -euo pipefail
version=$1 size_mb=$2 out=$3 page_size=${4:-4096}
root=$(cd "$(dirname "$0")/.." && pwd)
bin="$root/.tools/litestream-$version/bin/litestream"
rm -rf "$out"; mkdir -p "$out"
db="$out/live.db" rep="$out/replica"
sqlite3 "$db" "PRAGMA page_size=$page_size; PRAGMA journal_mode=WAL; CREATE TABLE events(id INTEGER PRIMARY KEY, kind TEXT, payload BLOB, note TEXT); CREATE INDEX events_kind ON events(kind);" >/dev/null
if [ "$version" = 0.3.13 ]; then
  printf 'dbs:\n  - path: %s\n    monitor-interval: 200ms\n    replicas:\n      - type: file\n        path: %s\n' "$db" "$rep" > "$out/litestream.yml"
else
  printf 'levels:\n  - interval: 5s\nsnapshot:\n  interval: 20s\ndbs:\n  - path: %s\n    monitor-interval: 200ms\n    replica:\n      type: file\n      path: %s\n' "$db" "$rep" > "$out/litestream.yml"
fi
"$bin" replicate -config "$out/litestream.yml" > "$out/litestream.log" 2>&1 &
pid=$!
trap 'kill -INT $pid 2>/dev/null; wait $pid 2>/dev/null || true' EXIT
sleep 1
batches=$(( size_mb / 8 ))
for b in $(seq 1 "$batches"); do
  # ~8 MB per batch: half random (incompressible), half repetitive text (compressible)
  sqlite3 -cmd ".timeout 30000" "$db" "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM n WHERE i < 4000)
    INSERT INTO events(kind, payload, note) SELECT 'kind-' || (i % 17), randomblob(1024), printf('%.1000c', 'x') FROM n;
    UPDATE events SET note = 'updated ' || id WHERE id % 97 = $b;"
  sleep 0.3
done
sleep 4
kill -INT $pid; wait $pid || true
trap - EXIT
sqlite3 "$db" "PRAGMA wal_checkpoint(TRUNCATE);" >/dev/null
echo "$(du -sh "$db" | cut -f1) database, $(du -sh "$rep" | cut -f1) replica, $(find "$rep" -type f | wc -l) files in $out"
