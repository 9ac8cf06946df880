#!/usr/bin/env bash
# Runs every cargo-fuzz target in fuzz/ one after another and prints executions and coverage per
# target. Not part of scripts/test.sh (it takes as long as you give it).
#
#   scripts/fuzz.sh                 # 60 s per target
#   scripts/fuzz.sh 600             # 600 s per target
#   scripts/fuzz.sh --runs 10000000 # 10 million executions per target
#   scripts/fuzz.sh 60 jwt sigv4    # only these targets
#
# Corpora grow in fuzz/corpus/TARGET (seeded from the repository's own configs and examples);
# a crash is saved in fuzz/artifacts/TARGET (the run's output in fuzz/logs/TARGET.log, with the
# reproduction command) and the next target runs.
# Builds without a sanitizer: the code under test is safe Rust, so what a target looks for is a
# panic (overflow checks and debug assertions are on) or a broken invariant, and libFuzzer runs
# several times faster without ASan's instrumentation.
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$VERGE_ROOT"

limit=(-max_total_time=60)
case "${1:-}" in
  --runs) limit=(-runs="$2"); shift 2 ;;
  ''|*[!0-9]*) ;;
  *) limit=(-max_total_time="$1"); shift ;;
esac
ALL=(config path jwt sigv4 origin_json cursor cache_headers)
targets=("${@:-${ALL[@]}}")

rustup toolchain list | grep -q '^nightly' || rustup toolchain install nightly --profile minimal
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --version 0.13.2 --locked

cd fuzz
# Every target at once (cargo fuzz build takes one target or all); quiet unless it fails.
cargo +nightly fuzz build -s none -O --debug-assertions >/dev/null 2>&1 ||
  cargo +nightly fuzz build -s none -O --debug-assertions

# Seeds: what the project itself parses.
mkdir -p corpus/config corpus/path corpus/jwt corpus/cache_headers
for f in ../edge/edge.toml ../scripts/*.toml ../edge/core/tests/ui/*.toml; do [ -f "$f" ] && cp "$f" "corpus/config/$(echo "$f" | tr '/' '_')"; done
printf '/a/b/../c/%%2e%%2e/./d//e' > corpus/path/seed
printf '\x01eyJhbGciOiJFUzI1NiIsImtpZCI6ImUifQ.eyJpc3MiOiJodHRwczovL2lzc3Vlci50ZXN0LyIsImF1ZCI6ImFwaSIsImV4cCI6MTh9.AAAA' > corpus/jwt/seed
printf 'bytes=0-99\nmax-age=60, s-maxage=30, stale-while-revalidate=10\nAccept-Encoding\ngzip;q=0, br\ntext/html' > corpus/cache_headers/seed

# Every crash input found so far (fuzz/regressions/TARGET-why) runs again first, from the corpus.
for f in regressions/*; do
  [ -f "$f" ] || continue
  t=$(basename "$f"); t=${t%%-*}
  mkdir -p "corpus/$t" && cp "$f" "corpus/$t/"
done

printf '%-14s %14s %8s %8s %8s  %s\n' target executions seconds exec/s cov result
for t in "${targets[@]}"; do
  mkdir -p "corpus/$t" "artifacts/$t" logs
  # Not in artifacts/: cargo fuzz lists everything there as a failing input.
  log="logs/$t.log"
  status=ok
  # The config target's inputs are whole config files: the shipped edge/edge.toml (15 KB) fits.
  max_len=8192
  [ "$t" = config ] && max_len=32768
  start=$(date +%s)
  cargo +nightly fuzz run -s none -O --debug-assertions "$t" "corpus/$t" -- \
    "${limit[@]}" -rss_limit_mb=2048 -max_len=$max_len -print_final_stats=1 -artifact_prefix="artifacts/$t/" \
    >"$log" 2>&1 || status="CRASH (fuzz/$log)"
  # A crashed or interrupted run has no "Done" line (and may lack the others): the row still
  # prints, with the script's own clock for the seconds, and the next target runs.
  runs=$(grep -oE '^stat::number_of_executed_units: *[0-9]+' "$log" | grep -oE '[0-9]+$' | tail -1 || true)
  secs=$(grep -oE 'Done [0-9]+ runs in [0-9]+ second' "$log" | grep -oE '[0-9]+ second' | grep -oE '[0-9]+' | tail -1 || true)
  cov=$(grep -oE 'cov: [0-9]+' "$log" | tail -1 | grep -oE '[0-9]+' || true)
  secs=${secs:-$(($(date +%s) - start))}
  grep -q 'libFuzzer: run interrupted' "$log" && status="interrupted"
  rate='?'
  [[ "${runs:-}" =~ ^[0-9]+$ && "$secs" =~ ^[1-9][0-9]*$ ]] && rate=$((runs / secs))
  printf '%-14s %14s %8s %8s %8s  %s\n' "$t" "${runs:-?}" "$secs" "$rate" "${cov:-?}" "$status"
done
