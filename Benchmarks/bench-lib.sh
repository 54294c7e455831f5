# Shared by compare-litestream.sh, s3-restore.sh and scale.sh (sourced, not run): the cached real
# replica they time, and the LiteProof binary they time it with.

# cached_replica VERSION PROFILE|SIZE_MB: sets `folder` and `replica` to the replica cached in
# $data (VERSION-PROFILE or VERSION-SIZEmb, suffixed by the make-replica.sh settings that change
# what it writes), made once with make-replica.sh (real `litestream replicate`) when it is missing;
# `.complete` marks a finished one. Needs `data` and `here` (this folder).
cached_replica() {
  local version=$1 profile=$2 tmp made
  case $profile in
    *[!0-9]*) folder="$data/$version-$profile" ;;
    *) folder="$data/$version-${profile}mb" ;;
  esac
  [ "${LITEPROOF_BENCH_SCALE:-100}" = 100 ] || folder="$folder-scale${LITEPROOF_BENCH_SCALE}"
  [ "$version" = 0.3.13 ] || [ "${LITEPROOF_BENCH_SNAPSHOT_INTERVAL:-20s}" = 20s ] || folder="$folder-snapshot$LITEPROOF_BENCH_SNAPSHOT_INTERVAL"
  [ "$version" = 0.3.13 ] || [ -z "${LITEPROOF_BENCH_L0_RETENTION:-}" ] || folder="$folder-l0retention$LITEPROOF_BENCH_L0_RETENTION"
  if [ ! -f "$folder/.complete" ]; then
    mkdir -p "$data"
    tmp="$folder.making-$$"
    echo "making a real Litestream $version replica ($profile) in $folder (once)..."
    made=$SECONDS
    bash "$here/make-replica.sh" "$version" "$profile" "$tmp" > "$tmp.log" 2>&1 || { tail -20 "$tmp.log" >&2; exit 2; }
    rm -rf "$folder"; mv "$tmp" "$folder"; mv "$tmp.log" "$folder/make-replica.log"
    tail -1 "$folder/make-replica.log" > "$folder/.complete"
    echo "made in $((SECONDS - made)) s: $(cat "$folder/.complete")"
  fi
  replica="$folder/replica"
}

# liteproof_binary: sets `liteproof` to LITEPROOF_BIN when set, else builds the release binary in
# $root (`swift build -c release --product liteproof`) and uses it.
liteproof_binary() {
  if [ -n "${LITEPROOF_BIN:-}" ]; then
    liteproof=$LITEPROOF_BIN
  else
    echo "building liteproof (swift build -c release --product liteproof in $root)..."
    (cd "$root" && swift build -c release --product liteproof 2>&1 | tail -1)
    liteproof="$root/.build/release/liteproof"
  fi
}

# bench_tools VERSION [weed]: sets `data` (LITEPROOF_BENCH_DATA, default .data here), `litestream`
# (the real Litestream VERSION from .tools/) and, with `weed`, `weed` (SeaweedFS); exits 2 naming
# what is missing (those, or /usr/bin/time). Needs `here` and `root`.
bench_tools() {
  local tool
  data=${LITEPROOF_BENCH_DATA:-$here/.data}
  litestream="$root/.tools/litestream-$1/bin/litestream"
  weed="$root/.tools/seaweedfs/bin/weed"
  for tool in "$litestream" ${2:+"$weed"}; do
    [ -x "$tool" ] || { echo "error: $tool is missing; run \`bash .ci/setup\` in $root first" >&2; exit 2; }
  done
  [ -x /usr/bin/time ] || { echo "error: /usr/bin/time is missing (apt-get install time)" >&2; exit 2; }
}

# bench_scratch NAME: makes the folder `scratch` ($data/scratch/NAME-PID) and sets the EXIT trap
# that stops every process in `pids` (the caller adds what it starts) and removes the folder.
bench_scratch() {
  scratch="$data/scratch/$1-$$"
  mkdir -p "$scratch"
  pids=()
  trap bench_cleanup EXIT
}

bench_cleanup() {
  local p
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$scratch"
}
