#!/usr/bin/env bash
# Issue 25's scale tables: restore and verify of one large append replica, from files and from S3,
# LiteProof against `litestream restore`, time and peak memory of whole processes.
#   bash Benchmarks/scale.sh VERSION SIZE_MB [RUNS]
# VERSION is 0.3.13 or 0.5.17; SIZE_MB the append profile of make-replica.sh (the database comes
# out ~1.4x larger: 256 -> 359 MB, 700 -> ~1.0 GB, 2768 -> ~4.0 GB); RUNS defaults to 3.
#
# The replica is made once by make-replica.sh (real `litestream replicate`) and cached like
# compare-litestream.sh does, in LITEPROOF_BENCH_DATA (default Benchmarks/.data) as VERSION-SIZEmb;
# for 0.5 suffixed -snapshotDURATION when LITEPROOF_BENCH_SNAPSHOT_INTERVAL is other than 20s and
# -l0retentionDURATION when LITEPROOF_BENCH_L0_RETENTION is set. For 0.5 at 1 GB and 4 GB use
# LITEPROOF_BENCH_SNAPSHOT_INTERVAL=1h LITEPROOF_BENCH_L0_RETENTION=30s (production-like: one
# snapshot, then L1 files; with 20 s snapshots a 4 GB database makes a replica of tens of GB).
# LiteProof is built with `swift build -c release` in the repository root unless LITEPROOF_BIN
# names a binary.
#
# Two sources, each timed under /usr/bin/time -f "%e %U %S %M", one untimed warm-up each (WARMUP=0:
# none, for the 4 GB rows, where one run takes minutes and the replica is in the page cache), then RUNS
# rounds with the commands alternating (order reversed every other round):
#   files  litestream  0.3.13: litestream restore -config FILE -o OUT DB (a file replica in FILE)
#                      0.5.17: litestream restore -o OUT file://REPLICA
#          liteproof   liteproof restore REPLICA -o OUT --integrity-check none (like for like)
#          verify      liteproof verify REPLICA (every file, then a trial restore with quick_check)
#   s3     the same three against SeaweedFS (`weed mini` from .tools/seaweedfs) on loopback, no
#          shaping proxy, holding the replica under the keys Litestream itself writes to S3.
# Every round checks that liteproof's restore is byte-identical to litestream's (cmp), then removes
# both outputs before verify runs (disk: at most two restored copies at a time, plus SeaweedFS's). The table: median / min / max wall seconds, median user and system seconds, the
# largest peak RSS, and the ratio of median walls liteproof / litestream (for verify: milliseconds
# of wall per replica MB; Litestream has no equivalent). MB = 10^6 bytes; RSS MB = 2^20 bytes.
# Every process it starts is stopped on exit, and its scratch (under LITEPROOF_BENCH_DATA/scratch:
# two restore outputs, verify's trial restore and SeaweedFS's copy of the replica) is removed.
set -euo pipefail
usage="usage: scale.sh VERSION SIZE_MB [RUNS]"
version=${1:?$usage}
size_mb=${2:?$usage}
runs=${3:-3}
case $version in 0.3.13 | 0.5.17) ;; *) echo "error: VERSION must be 0.3.13 or 0.5.17; $usage" >&2; exit 2 ;; esac
case $size_mb in '' | *[!0-9]*) echo "error: SIZE_MB must be a number (the append profile); $usage" >&2; exit 2 ;; esac
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
source "$here/bench-lib.sh"
bench_tools "$version" weed

# The replica: made once, reused afterwards (bench-lib.sh).
cached_replica "$version" "$size_mb"

liteproof_binary

bench_scratch scale
mkdir -p "$scratch/tmp"
trap 'exit 130' INT TERM
export TMPDIR="$scratch/tmp" # verify's trial restore

source "$here/seaweed-lib.sh"
bench_s3_env
prefix="$version-${size_mb}mb"

rep_bytes=$(du -sbL "$replica" | cut -f1)
rep_files=$(find -L "$replica" -type f | wc -l)
db_bytes=$(stat -L -c %s "$folder/live.db")
echo "replica: Litestream $version, $rep_files files, $((rep_bytes / 1000000)) MB; database $((db_bytes / 1000000)) MB ($folder)"
echo "liteproof: $liteproof ($("$liteproof" --version 2>/dev/null || echo '?')); $(nproc) cores"

# Litestream 0.3.13 restores a replica it is configured with (here a file replica; s3 below).
printf 'dbs:\n  - path: %s\n    replicas:\n      - type: file\n        path: %s\n' "$scratch/v03.db" "$replica" > "$scratch/files.yml"

# argv SOURCE NAME OUT: sets the array `argv` to NAME's command line from SOURCE writing OUT.
argv() {
  local location=$replica
  [ "$1" = files ] || location=$url
  case $2 in
    litestream)
      if [ "$version" = 0.3.13 ]; then argv=("$litestream" restore -config "$scratch/$1.yml" -o "$3" "$scratch/v03.db")
      elif [ "$1" = files ]; then argv=("$litestream" restore -o "$3" "file://$replica")
      else argv=("$litestream" restore -o "$3" "$url"); fi ;;
    liteproof) argv=("$liteproof" restore "$location" -o "$3" --integrity-check none) ;;
    verify) argv=("$liteproof" verify "$location") ;;
  esac
}
# timed SOURCE NAME: one run; appends "wall user sys maxrss_kb" to SOURCE-NAME.times.
timed() {
  local out="$scratch/$2.db"
  rm -f "$out" "$out-wal" "$out-shm"
  argv "$1" "$2" "$out"
  /usr/bin/time -f "%e %U %S %M" -o "$scratch/time.txt" "${argv[@]}" > "$scratch/$2.log" 2>&1 \
    || { echo "error: $1 $2 failed: ${argv[*]}" >&2; tail -20 "$scratch/$2.log" >&2; cat "$scratch/time.txt" >&2; exit 1; }
  tail -1 "$scratch/time.txt" >> "$scratch/$1-$2.times"
}
# stats FILE COLUMN: median, min, max
stats() { cut -d' ' -f"$2" "$1" | sort -g | awk '{v[NR]=$1} END {m = NR % 2 ? v[(NR+1)/2] : (v[NR/2] + v[NR/2+1]) / 2; printf "%s %s %s", m, v[1], v[NR]}'; }

names=(litestream liteproof verify)
rows=()
for source in files s3; do
  if [ "$source" = s3 ]; then
    # SeaweedFS only now: its copy of the replica is not on disk during the file runs.
    start_seaweed "$weed" "$scratch" bench
    pids+=("$weed_pid")
    up_start=$SECONDS
    upload_replica "$filer" bench "$replica" "$prefix"
    url="s3://bench/$prefix?endpoint=http://127.0.0.1:$s3&region=us-east-1&forcePathStyle=true"
    printf 'dbs:\n  - path: %s\n    replicas:\n      - type: s3\n        bucket: bench\n        path: %s\n        endpoint: http://127.0.0.1:%s\n        region: us-east-1\n        force-path-style: true\n' \
      "$scratch/v03.db" "$prefix" "$s3" > "$scratch/s3.yml"
    echo "s3: SeaweedFS on 127.0.0.1:$s3, no proxy; the replica uploaded in $((SECONDS - up_start)) s"
  fi
  if [ "${WARMUP:-1}" = 0 ]; then
    echo "$source: $runs rounds, no warm-up (WARMUP=0)..."
  else
    echo "$source: warm-up, then $runs rounds..."
    timed "$source" litestream; timed "$source" liteproof; rm -f "$scratch"/*.db; timed "$source" verify
  fi
  for name in "${names[@]}"; do : > "$scratch/$source-$name.times"; done
  loads=()
  for i in $(seq 1 "$runs"); do
    loads+=("$(cut -d' ' -f1 /proc/loadavg)")
    # Odd rounds: litestream, liteproof, verify; even rounds the reverse. The two restores are
    # compared and removed before verify runs (at 4 GB, disk holds only so many copies).
    [ $((i % 2)) -eq 1 ] || timed "$source" verify
    [ $((i % 2)) -eq 1 ] && order=(litestream liteproof) || order=(liteproof litestream)
    for name in "${order[@]}"; do timed "$source" "$name"; done
    if ! cmp -s "$scratch/litestream.db" "$scratch/liteproof.db"; then
      echo "MISMATCH ($source, round $i): liteproof's restore differs from litestream's:" >&2
      cmp "$scratch/litestream.db" "$scratch/liteproof.db" >&2 || true
      exit 1
    fi
    rm -f "$scratch"/*.db
    [ $((i % 2)) -eq 0 ] || timed "$source" verify
  done
  read -r lmed _ _ <<< "$(stats "$scratch/$source-litestream.times" 1)"
  for name in "${names[@]}"; do
    t="$scratch/$source-$name.times"
    read -r med min max <<< "$(stats "$t" 1)"
    read -r user _ _ <<< "$(stats "$t" 2)"
    read -r sys _ _ <<< "$(stats "$t" 3)"
    read -r _ _ rss <<< "$(stats "$t" 4)"
    case $name in
      litestream) ratio=- ;;
      liteproof) ratio=$(awk -v l="$lmed" -v p="$med" 'BEGIN { printf "%.2fx", p / l }') ;;
      verify) ratio=$(awk -v w="$med" -v b="$rep_bytes" 'BEGIN { printf "%.2f ms/MB", w * 1000 / (b / 1000000) }') ;;
    esac
    rows+=("$(printf '%-8s %-6s %-11s %9.2f %9.2f %9.2f %8.2f %8.2f %12.1f %12s' "$((db_bytes / 1000000))" "$source" "$name" \
      "$med" "$min" "$max" "$user" "$sys" "$(awk -v k="$rss" 'BEGIN { print k / 1024 }')" "$ratio")")
  done
  rows+=("  ($source: load average ${loads[*]})")
done

echo
echo "Litestream $version, database $((db_bytes / 1000000)) MB, replica $rep_files files, $((rep_bytes / 1000000)) MB: $runs runs each, alternating; restores byte-identical (cmp) in every round"
printf '%-8s %-6s %-11s %9s %9s %9s %8s %8s %12s %12s\n' "db MB" source command "median s" "min s" "max s" "user s" "sys s" "peak RSS MB" "lp/ls"
printf '%s\n' "${rows[@]}"
