#!/usr/bin/env bash
# Regenerates the Litestream log fixtures beside this script with the real binaries (installed by
# .ci/run into .tools/). Run from anywhere:
#   bash Tests/Fixtures/logs/capture.sh
# Every file is what Litestream printed, as is: stdout and stderr together (2>&1), the output of a
# `litestream restore` followed by the output of `litestream replicate`, as a platform's log shows a
# boot that runs one and then the other. Nothing is edited; paths are under a temporary folder.
# Each replicate runs a few seconds with some sqlite3 writes and is stopped with SIGINT.
#
#   v<version>-replicating.log           replicate only, with writes (no restore)
#   v<version>-restored.log              restore (a replica exists) then replicate
#   v<version>-fresh.log                 restore (nothing in the replica) then replicate
#   v<version>-restore-failed.log        restore from a damaged replica (boot stops there)
#   v<version>-boots.log                 three boots: fresh, restore skipped (db exists), restored
# 0.3.13 logs key=value (slog text) on stdout with -config and Go's log text format
# ("2006/01/02 15:04:05 INFO msg k=v") on stderr with a URL: the *-url.log files use URLs.
# 0.5.17 only: *-replicate-flag.log use `replicate -restore-if-db-not-exists` (0.5 restores inside
# replicate); a plain `litestream restore` in 0.5 prints nothing on success, so
# v0.5.17-restored-integrity.log uses `restore -integrity-check quick`, which logs one line.
# *-json.log: `logging: type: json`; *-pretty.log: `logging: type: pretty`;
# v0.5.17-replicating-debug.log: `logging: level: debug`.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
work=$(mktemp -d /tmp/lslogs.XXXXXX)
trap 'rm -rf "$work"' EXIT

bin() { echo "$root/.tools/litestream-$1/bin/litestream"; }

# config VERSION DB REPLICA [EXTRA-TOP-LEVEL-YAML] > file
config() {
  local version=$1 db=$2 rep=$3 extra=${4:-}
  [ -n "$extra" ] && printf '%s\n' "$extra"
  if [ "$version" = 0.3.13 ]; then
    printf 'dbs:\n  - path: %s\n    monitor-interval: 200ms\n    replicas:\n      - type: file\n        path: %s\n' "$db" "$rep"
  else
    printf 'dbs:\n  - path: %s\n    monitor-interval: 200ms\n    replica:\n      type: file\n      path: %s\n' "$db" "$rep"
  fi
}

# The application: creates its schema if needed, then writes a few rows now and then.
app_init() { sqlite3 "$1" "PRAGMA journal_mode=WAL; CREATE TABLE IF NOT EXISTS notes(id INTEGER PRIMARY KEY, body TEXT);" >/dev/null; }
app_writes() {
  local db=$1 i
  for i in 1 2 3; do
    sqlite3 "$db" "INSERT INTO notes(body) SELECT 'note ' || (count(*) + 1) || ' ' || hex(randomblob(64)) FROM notes;"
    sleep 0.7
  done
}

# replicate LOG VERSION ARGS...: runs `litestream replicate ARGS` appending to LOG, writes to the
# database named by DB (exported), stops it with SIGINT and waits.
replicate() {
  local log=$1 version=$2; shift 2
  "$(bin "$version")" replicate "$@" >>"$log" 2>&1 &
  local pid=$!
  sleep 1
  if kill -0 "$pid" 2>/dev/null; then
    [ -f "$DB" ] || app_init "$DB"
    app_writes "$DB"
    sleep 1.3
    kill -INT "$pid" 2>/dev/null
  fi
  wait "$pid"
  echo "  replicate exit $?" >&2
}

# restore LOG VERSION ARGS...: `litestream restore ARGS`, appending to LOG; returns its status.
restore() {
  local log=$1 version=$2; shift 2
  "$(bin "$version")" restore "$@" >>"$log" 2>&1
  local rc=$?
  echo "  restore exit $rc" >&2
  return $rc
}

out() { echo "$here/$1"; }

for v in 0.3.13 0.5.17; do
  w="$work/$v"; mkdir -p "$w"
  echo "litestream $v" >&2

  # (c) replicating only; this also makes the seed replica the other cases restore from.
  echo " replicating" >&2
  export DB="$w/seed.db"; : > "$(out v$v-replicating.log)"
  app_init "$DB"
  config $v "$DB" "$w/seed-replica" > "$w/seed.yml"
  replicate "$(out v$v-replicating.log)" $v -config "$w/seed.yml"
  sqlite3 "$DB" "PRAGMA wal_checkpoint(TRUNCATE);" >/dev/null

  # (a) restored on boot: restore into a missing database, then replicate to the same replica.
  echo " restored" >&2
  cp -a "$w/seed-replica" "$w/a-replica"
  export DB="$w/a/app.db"; mkdir -p "$w/a"; log=$(out v$v-restored.log); : > "$log"
  config $v "$DB" "$w/a-replica" > "$w/a.yml"
  restore "$log" $v -config "$w/a.yml" -if-replica-exists -if-db-not-exists "$DB" &&
    replicate "$log" $v -config "$w/a.yml"

  # (b) fresh start: nothing in the replica yet.
  echo " fresh" >&2
  export DB="$w/b/app.db"; mkdir -p "$w/b"; log=$(out v$v-fresh.log); : > "$log"
  config $v "$DB" "$w/b-replica" > "$w/b.yml"
  restore "$log" $v -config "$w/b.yml" -if-replica-exists -if-db-not-exists "$DB" &&
    replicate "$log" $v -config "$w/b.yml"

  # (d) restore error: a damaged replica; the boot script stops at the failed restore.
  echo " restore-failed" >&2
  cp -a "$w/seed-replica" "$w/d-replica"
  if [ $v = 0.3.13 ]; then
    rm -f "$w"/d-replica/generations/*/snapshots/*.snapshot.lz4       # the snapshot is gone
  else
    for f in "$w"/d-replica/ltx/9/*.ltx; do truncate -s 50 "$f"; done  # the snapshot is cut short
  fi
  export DB="$w/d/app.db"; mkdir -p "$w/d"; log=$(out v$v-restore-failed.log); : > "$log"
  config $v "$DB" "$w/d-replica" > "$w/d.yml"
  restore "$log" $v -config "$w/d.yml" -if-replica-exists -if-db-not-exists "$DB" &&
    replicate "$log" $v -config "$w/d.yml"

  # Several boots on one machine: first boot (fresh), a restart (database kept: restore skipped),
  # then the volume is lost and the next boot restores from the replica.
  echo " boots" >&2
  export DB="$w/m/app.db"; mkdir -p "$w/m"; log=$(out v$v-boots.log); : > "$log"
  config $v "$DB" "$w/m-replica" > "$w/m.yml"
  for boot in 1 2 3; do
    if [ $boot = 3 ]; then rm -rf "$w/m"; mkdir -p "$w/m"; fi
    if [ $v = 0.3.13 ]; then
      restore "$log" $v -config "$w/m.yml" -if-replica-exists -if-db-not-exists "$DB" &&
        replicate "$log" $v -config "$w/m.yml"
    else
      replicate "$log" $v -restore-if-db-not-exists -config "$w/m.yml"
    fi
  done
done

# 0.3.13 with URLs: Go's log text format on stderr.
v=0.3.13; w="$work/$v-url"; mkdir -p "$w"
echo "litestream $v (URLs)" >&2
export DB="$w/seed.db"; app_init "$DB"; log=$(out v$v-replicating-url.log); : > "$log"
replicate "$log" $v "$DB" "file://$w/seed-replica"
sqlite3 "$DB" "PRAGMA wal_checkpoint(TRUNCATE);" >/dev/null
cp -a "$w/seed-replica" "$w/a-replica"
export DB="$w/a/app.db"; mkdir -p "$w/a"; log=$(out v$v-restored-url.log); : > "$log"
restore "$log" $v -if-replica-exists -if-db-not-exists -o "$DB" "file://$w/a-replica" &&
  replicate "$log" $v "$DB" "file://$w/a-replica"
export DB="$w/b/app.db"; mkdir -p "$w/b"; log=$(out v$v-fresh-url.log); : > "$log"
restore "$log" $v -if-replica-exists -if-db-not-exists -o "$DB" "file://$w/b-replica" &&
  replicate "$log" $v "$DB" "file://$w/b-replica"
cp -a "$w/seed-replica" "$w/d-replica"
for f in "$w"/d-replica/generations/*/wal/*_00000000.wal.lz4; do truncate -s 40 "$f"; done  # first WAL segment cut short
export DB="$w/d/app.db"; mkdir -p "$w/d"; log=$(out v$v-restore-failed-url.log); : > "$log"
restore "$log" $v -if-replica-exists -if-db-not-exists -o "$DB" "file://$w/d-replica" &&
  replicate "$log" $v "$DB" "file://$w/d-replica"

# 0.5.17: restore inside replicate (-restore-if-db-not-exists), and restore -integrity-check.
v=0.5.17; w="$work/$v"
echo "litestream $v (replicate -restore-if-db-not-exists)" >&2
cp -a "$w/seed-replica" "$w/a2-replica"
export DB="$w/a2/app.db"; mkdir -p "$w/a2"; log=$(out v$v-restored-replicate-flag.log); : > "$log"
config $v "$DB" "$w/a2-replica" > "$w/a2.yml"
replicate "$log" $v -restore-if-db-not-exists -config "$w/a2.yml"
export DB="$w/b2/app.db"; mkdir -p "$w/b2"; log=$(out v$v-fresh-replicate-flag.log); : > "$log"
config $v "$DB" "$w/b2-replica" > "$w/b2.yml"
replicate "$log" $v -restore-if-db-not-exists -config "$w/b2.yml"
cp -a "$w/seed-replica" "$w/d2-replica"
last=$(ls "$w"/d2-replica/ltx/0/*.ltx | sort | tail -1); truncate -s 120 "$last"  # newest L0 file cut short
export DB="$w/d2/app.db"; mkdir -p "$w/d2"; log=$(out v$v-restore-failed-replicate-flag.log); : > "$log"
config $v "$DB" "$w/d2-replica" > "$w/d2.yml"
replicate "$log" $v -restore-if-db-not-exists -config "$w/d2.yml"
cp -a "$w/seed-replica" "$w/a3-replica"
export DB="$w/a3/app.db"; mkdir -p "$w/a3"; log=$(out v$v-restored-integrity.log); : > "$log"
config $v "$DB" "$w/a3-replica" > "$w/a3.yml"
restore "$log" $v -config "$w/a3.yml" -integrity-check quick -if-replica-exists -if-db-not-exists "$DB" &&
  replicate "$log" $v -config "$w/a3.yml"

# JSON logging (both versions), 0.5.17's `logging: type: pretty` and 0.5.17 at debug level (shows
# each L0 upload).
for v in 0.3.13 0.5.17; do
  w="$work/$v-json"; mkdir -p "$w"
  echo "litestream $v (json)" >&2
  cp -a "$work/$v/seed-replica" "$w/a-replica"
  export DB="$w/a/app.db"; mkdir -p "$w/a"; log=$(out v$v-restored-json.log); : > "$log"
  config $v "$DB" "$w/a-replica" $'logging:\n  type: json' > "$w/a.yml"
  if [ $v = 0.3.13 ]; then
    restore "$log" $v -config "$w/a.yml" -if-replica-exists -if-db-not-exists "$DB" &&
      replicate "$log" $v -config "$w/a.yml"
  else
    replicate "$log" $v -restore-if-db-not-exists -config "$w/a.yml"
  fi
done
v=0.5.17; w="$work/$v-pretty"; mkdir -p "$w"
echo "litestream $v (pretty)" >&2
cp -a "$work/$v/seed-replica" "$w/a-replica"
export DB="$w/a/app.db"; mkdir -p "$w/a"; log=$(out v$v-restored-pretty.log); : > "$log"
config $v "$DB" "$w/a-replica" $'logging:\n  type: pretty' > "$w/a.yml"
replicate "$log" $v -restore-if-db-not-exists -config "$w/a.yml"
v=0.5.17; w="$work/$v-debug"; mkdir -p "$w"
echo "litestream $v (debug)" >&2
export DB="$w/app.db"; app_init "$DB"; log=$(out v$v-replicating-debug.log); : > "$log"
config $v "$DB" "$w/replica" $'logging:\n  level: debug' > "$w/c.yml"
replicate "$log" $v -config "$w/c.yml"

echo "logs written to $here" >&2
