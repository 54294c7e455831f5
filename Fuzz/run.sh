#!/usr/bin/env bash
# Builds LiteProof's libFuzzer targets (Fuzz/Sources/LiteProofFuzz) and runs them, seeded from
# real Litestream files (Tests/Fixtures: the example replicas and captured logs).
#
#   Fuzz/run.sh list                  the targets
#   Fuzz/run.sh [TARGET|all] [SECONDS] one target or every one, SECONDS each (default 60)
#   Fuzz/run.sh TARGET -runs=N        N executions
#   Fuzz/run.sh TARGET FILE...        run the target once on each FILE (reproduce a crash)
#
# The build is separate from the normal one (.build-fuzz; the target exists only with
# LITEPROOF_FUZZ=1): release mode, libFuzzer + AddressSanitizer on the Swift code, `-enable-testing` so the targets
# can reach the library's internal parsers. The growing corpus stays in .build-fuzz/corpus/TARGET;
# a crashing input is written to .build-fuzz/crashes/ and the script exits 1. Add it as a
# regression test under Tests/ (see FuzzRegressionTests).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
build="$root/.build-fuzz"
# Swift's -sanitize flags do not add up: the last one wins, and SwiftPM passes its --sanitize
# values in no fixed order. So SwiftPM gets only `fuzzer` (libFuzzer's main, C coverage) and the
# Swift compiler one combined flag, last. --disable-dead-strip: keep every coverage counter.
flags=(-c release --sanitize fuzzer -Xswiftc -sanitize=fuzzer,address -Xswiftc -enable-testing --disable-dead-strip
  --scratch-path "$build")

export LITEPROOF_FUZZ=1
echo "fuzz: building (${flags[*]})" >&2
swift build "${flags[@]}" --product LiteProofFuzz 2>&1 | grep -v "Cannot export local symbol" >&2
bin="$(swift build "${flags[@]}" --show-bin-path)/LiteProofFuzz"

export SWIFT_BACKTRACE=enable=no          # libFuzzer reports crashes itself
export ASAN_OPTIONS="detect_leaks=0:${ASAN_OPTIONS:-}"
if [ -d /dev/shm ] && [ -w /dev/shm ]; then export TMPDIR=/dev/shm; fi

targets=$(LITEPROOF_FUZZ_TARGET=list "$bin" 2>&1 | awk '/^  /{print $1}' || true)
what="${1:-all}"
if [ "$what" = list ]; then
  LITEPROOF_FUZZ_TARGET=list "$bin" 2>&1 | tail -n +2
  exit 0
fi
shift || true

# Seeds: regenerated on each run from the fixtures (a second or two).
seeds="$build/seeds"
rm -rf "$seeds"
LITEPROOF_FUZZ_MAKE_SEEDS="$seeds" "$bin"
mkdir -p "$seeds/tar" "$seeds/tar-zst"
for v in 0.3 0.5; do
  for format in gnu pax ustar; do
    tar -C "Tests/Fixtures/example-$v" --format=$format -cf "$seeds/tar/seed-$v-$format.tar" replica
  done
  tar -C "Tests/Fixtures/example-$v" --zstd -cf "$seeds/tar-zst/seed-$v.tar.zst" replica
done

if [ "$what" = all ]; then run=($targets); else run=("$what"); fi
if ! grep -qx -- "${run[0]}" <<<"$targets"; then
  echo "fuzz: no target $what; Fuzz/run.sh list" >&2
  exit 2
fi

# Reproduce: TARGET FILE...
if [ $# -gt 0 ] && [ -e "$1" ]; then
  LITEPROOF_FUZZ_TARGET="${run[0]}" exec "$bin" -detect_leaks=0 "$@"
fi

limit=(-max_total_time="${1:-60}")
case "${1:-}" in -runs=*) limit=("$1") ;; esac

mkdir -p "$build/crashes"
failed=()
for t in "${run[@]}"; do
  mkdir -p "$build/corpus/$t"
  log="$build/fuzz-$t.log"
  echo "fuzz: $t (${limit[*]})" >&2
  set +e
  LITEPROOF_FUZZ_TARGET="$t" "$bin" "${limit[@]}" -timeout=10 -rss_limit_mb=2048 -malloc_limit_mb=1024 \
    -detect_leaks=0 -print_final_stats=1 -artifact_prefix="$build/crashes/$t-" \
    "$build/corpus/$t" "$seeds/$t" >"$log" 2>&1
  rc=$?
  set -e
  runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo "?")
  if [ $rc -ne 0 ]; then
    failed+=("$t")
    echo "fuzz: $t FAILED after $runs executions (exit $rc); the log: $log" >&2
    grep -E "^==[0-9]+==ERROR|SUMMARY|Fatal error|Test unit written|^    #[0-9]+ .* in \\\$s" "$log" | head -30 >&2
  else
    echo "fuzz: $t ok: $runs executions, corpus $(ls "$build/corpus/$t" | wc -l) inputs" >&2
  fi
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz: crashes in: ${failed[*]} (inputs in $build/crashes)" >&2
  exit 1
fi
