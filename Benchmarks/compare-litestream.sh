#!/usr/bin/env bash
# Times `litestream restore` against `liteproof restore` on the same real replica, and checks that
# both outputs are byte-identical (cmp).
#   bash Benchmarks/compare-litestream.sh VERSION SIZE_MB|PROFILE|all [RUNS]
# VERSION is 0.3.13 or 0.5.17; SIZE_MB the database size of the append profile (16, 256, 1024,
# ...), or PROFILE update-heavy or small-tx (see make-replica.sh), or `all` for 256, update-heavy
# and small-tx one after the other; RUNS defaults to 5. The replica is made once by
# make-replica.sh (real `litestream replicate`) and cached in Benchmarks/.data/VERSION-SIZEmb or
# Benchmarks/.data/VERSION-PROFILE (the same cache the Swift suites use). LiteProof is built with
# `swift build -c release` in the repository root unless LITEPROOF_BIN names a binary.
#
# Three commands run alternately, after one untimed warm-up each (the replica is in the page cache):
#   litestream              litestream restore -o OUT file://REPLICA      (no SQLite check)
#   liteproof               liteproof restore REPLICA -o OUT --integrity-check none   (like for like)
#   liteproof+quick_check   liteproof restore REPLICA -o OUT              (the default: PRAGMA quick_check)
# All of them fsync their output. Wall, user and system seconds and peak RSS come from /usr/bin/time.
set -euo pipefail
version=${1:?usage: compare-litestream.sh VERSION SIZE_MB|PROFILE|all [RUNS]}
size_mb=${2:?usage: compare-litestream.sh VERSION SIZE_MB|PROFILE|all [RUNS]}
runs=${3:-5}
here=$(cd "$(dirname "$0")" && pwd)
if [ "$size_mb" = all ]; then
  for p in 256 update-heavy small-tx; do
    echo "== profile $p =="
    bash "$0" "$version" "$p" "$runs" || exit $?
    echo
  done
  exit 0
fi
root=$(cd "$here/.." && pwd)
data=${LITEPROOF_BENCH_DATA:-$here/.data}
litestream="$root/.tools/litestream-$version/bin/litestream"

if [ ! -x "$litestream" ]; then
  echo "error: the real Litestream $version binary is missing ($litestream); run \`bash .ci/setup\` in $root first" >&2
  exit 2
fi
[ -x /usr/bin/time ] || { echo "error: /usr/bin/time is missing (apt-get install time)" >&2; exit 2; }

# The replica: made once, reused afterwards (bench-lib.sh).
source "$here/bench-lib.sh"
cached_replica "$version" "$size_mb"

liteproof_binary

scratch="$data/scratch/compare-$$"
mkdir -p "$scratch"
trap 'rm -rf "$scratch"' EXIT

names=(litestream liteproof liteproof+quick_check)
# argv NAME OUT: sets the array `argv` to the command line of NAME writing OUT.
argv() {
  case $1 in
    litestream) argv=("$litestream" restore -no-expand-env -o "$2" "file://$replica") ;;
    liteproof) argv=("$liteproof" restore "$replica" -o "$2" --integrity-check none) ;;
    liteproof+quick_check) argv=("$liteproof" restore "$replica" -o "$2") ;;
  esac
}
# One timed run: appends "wall user sys maxrss_kb" to $scratch/NAME.times.
timed() {
  local name=$1 out="$scratch/$1.db"
  rm -f "$out" "$out-wal" "$out-shm"
  argv "$name" "$out"
  /usr/bin/time -f "%e %U %S %M" -o "$scratch/time.txt" "${argv[@]}" > "$scratch/$name.log" 2>&1 \
    || { echo "error: $name restore failed: ${argv[*]}" >&2; cat "$scratch/$name.log" "$scratch/time.txt" >&2; exit 1; }
  tail -1 "$scratch/time.txt" >> "$scratch/$name.times"
}

db_bytes=$(stat -c %s "$folder/live.db")
rep_bytes=$(du -sb "$replica" | cut -f1)
rep_files=$(find "$replica" -type f | wc -l)
echo "replica: Litestream $version, $rep_files files, $((rep_bytes / 1000000)) MB; database $((db_bytes / 1000000)) MB ($folder)"
echo "liteproof: $liteproof ($("$liteproof" --version 2>/dev/null || echo '?'))"

for name in "${names[@]}"; do timed "$name"; done   # warm-up, not counted
for name in "${names[@]}"; do : > "$scratch/$name.times"; done
for i in $(seq 1 "$runs"); do
  if [ $((i % 2)) -eq 1 ]; then order=("${names[@]}"); else order=(liteproof+quick_check liteproof litestream); fi
  for name in "${order[@]}"; do timed "$name"; done
  for name in liteproof liteproof+quick_check; do
    if ! cmp -s "$scratch/litestream.db" "$scratch/$name.db"; then
      echo "MISMATCH in run $i: $name's output differs from litestream's:" >&2
      cmp "$scratch/litestream.db" "$scratch/$name.db" >&2 || true
      exit 1
    fi
  done
done

# column N of a .times file: median, min, max
stats() { cut -d' ' -f"$2" "$scratch/$1.times" | sort -g | awk '{v[NR]=$1} END {m = NR % 2 ? v[(NR+1)/2] : (v[NR/2] + v[NR/2+1]) / 2; printf "%s %s %s", m, v[1], v[NR]}'; }

echo
echo "$runs runs each, alternating; outputs byte-identical (cmp) in every run"
printf '%-22s %9s %9s %9s %9s %9s %12s\n' command "median s" "min s" "max s" "user s" "sys s" "peak RSS MB"
for name in "${names[@]}"; do
  read -r med min max <<< "$(stats "$name" 1)"
  read -r user _ _ <<< "$(stats "$name" 2)"
  read -r sys _ _ <<< "$(stats "$name" 3)"
  read -r _ _ rss <<< "$(stats "$name" 4)"
  printf '%-22s %9.3f %9.3f %9.3f %9.3f %9.3f %12.1f\n' "$name" "$med" "$min" "$max" "$user" "$sys" "$(awk "BEGIN {print $rss / 1024}")"
  eval "med_${name//[^a-z]/_}=$med"
done
awk -v l="$med_litestream" -v p="$med_liteproof" -v q="$med_liteproof_quick_check" 'BEGIN {
  printf "ratio (median wall): litestream / liteproof = %.2fx; litestream / liteproof+quick_check = %.2fx\n", l / p, l / q }'
