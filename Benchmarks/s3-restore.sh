#!/usr/bin/env bash
# Times `liteproof restore s3://…` against `litestream restore` of the same bucket through a shaped
# network, and checks that both outputs are byte-identical (cmp).
#   bash Benchmarks/s3-restore.sh VERSION PROFILE|SIZE_MB [RUNS] [RTT_MS ...]
# VERSION is 0.3.13 or 0.5.17; PROFILE update-heavy or small-tx, or SIZE_MB for the append profile
# (see make-replica.sh); RUNS defaults to 5; the round trips default to 0 20 50 (milliseconds).
# RATE_MB_S (environment, default 100) caps each connection's bandwidth per direction; 0: no cap.
#
# The server is SeaweedFS (`weed mini` from .tools/seaweedfs, installed by .ci/setup) on loopback
# ports of its own. The replica is the file replica compare-litestream.sh uses (made once by
# make-replica.sh with real `litestream replicate`, cached in Benchmarks/.data), uploaded object by
# object under the prefix VERSION-PROFILE with the keys Litestream itself writes to S3 (0.3: the
# file layout; 0.5: ltx/<level>/F becomes <level as %04x>/F), so `litestream restore` reads it as
# its own (the outputs are compared with cmp in every run).
#
# The network: `tc netem` needs the sch_netem kernel module and CAP_NET_ADMIN, which a container
# seldom has; the shaping is done by Benchmarks/shaping-proxy.py instead (RTT/2 of delay each way,
# one RTT per new connection, the cap per connection), between both tools and SeaweedFS. The proxy
# counts each command's requests, connections and bytes.
#
# Commands, alternating after one untimed warm-up each (all fsync their output):
#   litestream   0.3.13: litestream restore -config FILE -o OUT DB  (its S3 endpoint in the file)
#                0.5.17: litestream restore -o OUT s3://…?endpoint=…
#   liteproof    liteproof restore s3://…?endpoint=… -o OUT --integrity-check none (like for like)
# Each row also gives the CPU seconds SeaweedFS and the proxy used during the command, and the floor
# they set on this machine: all three processes' CPU over the cores. Where the floor is close to
# the median, the command is bound by the shared cores, not by how it fetches.
# LiteProof is built with `swift build -c release` unless LITEPROOF_BIN names a binary;
# LITEPROOF_BIN_B names a second build to time alongside (`liteproof-b`, e.g. before a change).
set -euo pipefail
usage="usage: s3-restore.sh VERSION PROFILE|SIZE_MB [RUNS] [RTT_MS ...]"
version=${1:?$usage}
profile=${2:?$usage}
runs=${3:-5}
shift $(($# < 3 ? $# : 3))
rtts=("$@")
[ ${#rtts[@]} -gt 0 ] || rtts=(0 20 50)
rate=${RATE_MB_S:-100}
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
source "$here/bench-lib.sh"
bench_tools "$version" weed

# The replica: made once, reused afterwards (bench-lib.sh).
cached_replica "$version" "$profile"

liteproof_binary

bench_scratch s3-restore
mkdir -p "$scratch/weed"

source "$root/Benchmarks/seaweed-lib.sh"
bench_s3_env
start_seaweed "$weed" "$scratch" bench
pids+=("$weed_pid")

# Upload: every file of the replica, with the keys Litestream writes, under the prefix.
prefix="$version-$profile"
up_start=$SECONDS
upload_replica "$filer" bench "$replica" "$prefix"
rep_bytes=$(du -sbL "$replica" | cut -f1)
rep_files=$(find -L "$replica" -type f | wc -l)
db_bytes=$(stat -L -c %s "$folder/live.db")
echo "replica: Litestream $version $profile, $rep_files objects, $((rep_bytes / 1000000)) MB (uploaded in $((SECONDS - up_start)) s); database $((db_bytes / 1000000)) MB"
echo "liteproof: $liteproof ($("$liteproof" --version 2>/dev/null || echo '?'))"
echo "network: shaping proxy, cap ${rate} MB/s per connection and direction; $(nproc) cores"

# cpu_seconds PID: the CPU seconds (user + system, all threads) process PID has used so far.
cpu_seconds() { awk -v hz="$(getconf CLK_TCK)" '{ print ($14 + $15) / hz }' "/proc/$1/stat"; }
weed_cpu_pid=$(pgrep -P "$weed_pid" -x weed || echo "$weed_pid")

for rtt in "${rtts[@]}"; do
  read -r port <<< "$(free_ports 1)"
  python3 "$here/shaping-proxy.py" "$port" "127.0.0.1:$s3" "$rtt" "$rate" "$scratch/traffic" > "$scratch/proxy.log" 2>&1 &
  proxy=$!
  pids+=("$proxy")
  wait_port "$port" 10
  url="s3://bench/$prefix?endpoint=http://127.0.0.1:$port&region=us-east-1&forcePathStyle=true"
  printf 'dbs:\n  - path: %s\n    replicas:\n      - type: s3\n        bucket: bench\n        path: %s\n        endpoint: http://127.0.0.1:%s\n        region: us-east-1\n        force-path-style: true\n' \
    "$scratch/v03.db" "$prefix" "$port" > "$scratch/litestream.yml"
  names=(litestream liteproof)
  [ -z "${LITEPROOF_BIN_B:-}" ] || names+=(liteproof_b)
  argv() {
    case $1 in
      litestream)
        if [ "$version" = 0.3.13 ]; then argv=("$litestream" restore -config "$scratch/litestream.yml" -o "$2" "$scratch/v03.db")
        else argv=("$litestream" restore -o "$2" "$url"); fi ;;
      liteproof) argv=("$liteproof" restore "$url" -o "$2" --integrity-check none) ;;
      liteproof_b) argv=("$LITEPROOF_BIN_B" restore "$url" -o "$2" --integrity-check none) ;;
    esac
  }
  # One timed run: appends "wall user sys maxrss_kb requests connections bytes_down server_cpu
  # proxy_cpu" to NAME.times. The server's and the proxy's CPU seconds during the command are read
  # from /proc: on a machine where they share the cores with the command, a restore cannot take
  # less wall time than half of all three processes' CPU (2 cores), whatever the command does.
  timed() {
    local name=$1 out="$scratch/$1.db" w0 p0
    rm -f "$out" "$out-wal" "$out-shm" "$scratch/traffic"
    kill -USR1 "$proxy"; while [ ! -f "$scratch/traffic" ]; do sleep 0.05; done; rm -f "$scratch/traffic"
    argv "$name" "$out"
    w0=$(cpu_seconds "$weed_cpu_pid") p0=$(cpu_seconds "$proxy")
    /usr/bin/time -f "%e %U %S %M" -o "$scratch/time.txt" "${argv[@]}" > "$scratch/$name.log" 2>&1 \
      || { echo "error: $name restore failed: ${argv[*]}" >&2; cat "$scratch/$name.log" "$scratch/time.txt" >&2; exit 1; }
    kill -USR1 "$proxy"; while [ ! -f "$scratch/traffic" ]; do sleep 0.05; done
    read -r req conns down _ < "$scratch/traffic"
    echo "$(tail -1 "$scratch/time.txt") $req $conns $down $(awk "BEGIN {print $(cpu_seconds "$weed_cpu_pid") - $w0, $(cpu_seconds "$proxy") - $p0}")" >> "$scratch/$name.times"
  }
  for name in "${names[@]}"; do : > "$scratch/$name.times"; timed "$name"; done   # warm-up, not counted
  for name in "${names[@]}"; do : > "$scratch/$name.times"; done
  loads=()
  for i in $(seq 1 "$runs"); do
    order=("${names[@]}")
    if [ $((i % 2)) -eq 0 ]; then order=(); for ((k = ${#names[@]} - 1; k >= 0; k--)); do order+=("${names[k]}"); done; fi
    loads+=("$(cut -d' ' -f1 /proc/loadavg)")
    for name in "${order[@]}"; do timed "$name"; done
    for name in "${names[@]:1}"; do
      if ! cmp -s "$scratch/litestream.db" "$scratch/$name.db"; then
        echo "MISMATCH at RTT $rtt ms, run $i: $name's output differs from litestream's:" >&2
        cmp "$scratch/litestream.db" "$scratch/$name.db" >&2 || true
        exit 1
      fi
    done
  done
  kill "$proxy" 2>/dev/null || true; wait "$proxy" 2>/dev/null || true

  stats() { cut -d' ' -f"$2" "$scratch/$1.times" | sort -g | awk '{v[NR]=$1} END {m = NR % 2 ? v[(NR+1)/2] : (v[NR/2] + v[NR/2+1]) / 2; printf "%s %s %s", m, v[1], v[NR]}'; }
  echo
  echo "== RTT $rtt ms, cap $rate MB/s per connection: $runs runs each, alternating, outputs byte-identical (cmp); load average ${loads[*]}"
  printf '%-13s %9s %9s %9s %9s %9s %12s %9s %7s %10s %9s %9s %9s\n' command "median s" "min s" "max s" "user s" "sys s" "peak RSS MB" requests conns "MB fetched" "server s" "proxy s" "floor s"
  for name in "${names[@]}"; do
    read -r med min max <<< "$(stats "$name" 1)"
    read -r user _ _ <<< "$(stats "$name" 2)"
    read -r sys _ _ <<< "$(stats "$name" 3)"
    read -r _ _ rss <<< "$(stats "$name" 4)"
    read -r req _ _ <<< "$(stats "$name" 5)"
    read -r conns _ _ <<< "$(stats "$name" 6)"
    read -r down _ _ <<< "$(stats "$name" 7)"
    read -r server _ _ <<< "$(stats "$name" 8)"
    read -r proxy_cpu _ _ <<< "$(stats "$name" 9)"
    printf '%-13s %9.3f %9.3f %9.3f %9.3f %9.3f %12.1f %9d %7d %10.1f %9.2f %9.2f %9.2f\n' "$name" "$med" "$min" "$max" "$user" "$sys" \
      "$(awk "BEGIN {print $rss / 1024}")" "$req" "$conns" "$(awk "BEGIN {print $down / 1000000}")" "$server" "$proxy_cpu" \
      "$(awk "BEGIN {print ($user + $sys + $server + $proxy_cpu) / $(nproc)}")"
    eval "med_$name=$med"
  done
  awk -v l="$med_litestream" -v p="$med_liteproof" 'BEGIN { printf "ratio (median wall): liteproof / litestream = %.2fx\n", p / l }'
  [ -z "${LITEPROOF_BIN_B:-}" ] || awk -v l="$med_litestream" -v p="$med_liteproof_b" 'BEGIN { printf "ratio (median wall): liteproof_b / litestream = %.2fx\n", p / l }'
done
