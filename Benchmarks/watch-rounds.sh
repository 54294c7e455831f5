#!/usr/bin/env bash
# The cost of one `liteproof watch` round after one new file, against the history already verified.
#   bash Benchmarks/watch-rounds.sh [OUT_DIR] [VERSIONS] [SIZES]
#   bash Benchmarks/watch-rounds.sh /tmp/watch-rounds "0.3.13 0.5.17" "10 1000 10000"
# For each Litestream version and size N, while the real `litestream replicate` runs (10 ms syncs,
# no compaction, checkpoints or snapshots during the run): small transactions until the replica
# holds about N files; one watcher (`liteproof watch --json --interval 0.5`) verifies everything in
# its first round; after an idle round (listing only), one more transaction is replicated (the
# script waits for its file to appear) and the first round that reads it is reported: files
# listed, files read, bytes read, the new file's size and the round's wall time, with the load
# average. One TSV line per case goes to OUT_DIR/results.tsv. Replicas are removed after each case
# unless KEEP=1.
set -euo pipefail
source "$(dirname "$0")/watch-lib.sh"
out=${1:-$root/Benchmarks/.data/watch-rounds}
versions=${2:-0.3.13 0.5.17}
sizes=${3:-10 1000 10000}
mkdir -p "$out"
results=$out/results.tsv
[ -s "$results" ] || printf 'version\tfiles\tindexes\tfirst_round_files\tfirst_round_bytes\tfirst_round_s\tidle_listed\tidle_s\tround_listed\tround_read\tround_bytes\tnew_file_bytes\tround_s\tload1\n' > "$results"

for version in $versions; do
  bin=$root/.tools/litestream-$version/bin/litestream
  for n in $sizes; do
    dir=$out/$version-$n
    rm -rf "$dir"; mkdir -p "$dir"
    db=$dir/live.db rep=$dir/replica events=$dir/events.jsonl
    new_db "$db"
    litestream_config "$version" "$db" "$rep" > "$dir/litestream.yml"
    "$bin" replicate -config "$dir/litestream.yml" > "$dir/litestream.log" 2>&1 &
    pids+=($!)
    txs=$(write_until "$db" "$rep" "$n")
    files=$(count_files "$rep")
    indexes=-
    [ "$version" = 0.3.13 ] && indexes=$(find "$rep" -path '*/wal/*' -type f -printf '%f\n' | cut -d_ -f1 | sort -u | wc -l)
    echo "$version: $files files ($txs transactions, WAL indexes: $indexes) in $rep"
    "$liteproof" watch --json --interval 0.5 "$rep" > "$events" 2> "$dir/watch.err" &
    pids+=($!)
    first=$(wait_for_event "$events" 'e["round"] == 1')
    # A round that read nothing: Litestream has nothing more to upload, and the listing's cost.
    idle=$(wait_for_event "$events" 'e["round"] > 1 and e["filesChecked"] == 0')
    before=$(find "$rep" -type f | sort)
    last_round=$(tail -n 1 "$events" | python3 -c 'import json,sys; print(json.loads(sys.stdin.read())["round"])')
    one_tx "$db"
    # Wait for the new file (polled, no fixed sleep), then for the first round that reads it.
    until [ "$(count_files "$rep")" -gt "$files" ]; do sleep 0.02; done
    round=$(wait_for_event "$events" "e['round'] > $last_round and e['filesChecked'] > 0")
    new_bytes=0
    for f in $(comm -13 <(echo "$before") <(find "$rep" -type f | sort)); do new_bytes=$((new_bytes + $(stat -c %s "$f"))); done
    load=$(cut -d' ' -f1 /proc/loadavg)
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$version" "$files" "$indexes" \
      "$(field "$first" filesChecked)" "$(field "$first" bytesRead)" "$(field "$first" seconds)" \
      "$(field "$idle" filesListed)" "$(field "$idle" seconds)" \
      "$(field "$round" filesListed)" "$(field "$round" filesChecked)" "$(field "$round" bytesRead)" "$new_bytes" \
      "$(field "$round" seconds)" "$load" | tee -a "$results"
    verdict=$(field "$round" verdict)
    [ "$verdict" = ok ] || { echo "round verdict $verdict (expected ok): $round" >&2; exit 1; }
    cleanup
    [ "${KEEP:-0}" = 1 ] || rm -rf "$dir"
  done
done
column -t -s $'\t' "$results"
