#!/usr/bin/env bash
# Edge cache benchmarks (scripts/bench-cache.mjs): builds the edge with scripts/bench-cache.toml
# into target/bench-cache (its own target dir: a first build there is a full release build of
# both edges, several minutes on 2 cores; the normal artifacts are never touched), bundles the JS
# comparison worker, then prints figures. Asserts nothing.
# Environment: BENCH_ROUNDS (3), BENCH_DURATION (seconds per wrk run, 5), BENCH_SKIP_BUILD=1,
# BENCH_ONLY=REGEX (only the cases whose name matches, e.g. JWT; no replay), BENCH_MIX_ONLY=1,
# BENCH_WARM (seconds of warm-up load per case before measuring, 15), BENCH_PAIRS (3000),
# BENCH_COLD (fresh isolates for the first-request figure, 5), BENCH_VARIANTS=DIR[,DIR...] (other
# Workers builds of scripts/bench-cache.toml, from scripts/build-workers.sh DIR, run beside Verge on
# the JWT route: e.g. another commit or cargo profile).
# It also builds the same config with `access_log_sample_percent = 0` (target/bench-cache/bundle-nolog,
# its own target dir) so that the JWT route is compared doing the same work both ways: Verge
# writing its access line against the JS worker writing the same line, and neither writing one.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
source scripts/env.sh
if [ -z "${BENCH_SKIP_BUILD:-}" ]; then
  export VERGE_EDGE_CONFIG="$VERGE_ROOT/scripts/bench-cache.toml"
  cargo build --release --locked -q --target wasm32-wasip2 -p verge-edge-spin --target-dir target/bench-cache
  CARGO_TARGET_DIR="$VERGE_ROOT/target/bench-cache" bash scripts/build-workers.sh target/bench-cache/bundle
  sed 's/^\[edge\]$/[edge]\naccess_log_sample_percent = 0/' scripts/bench-cache.toml > target/bench-cache/nolog.toml
  grep -q '^access_log_sample_percent = 0$' target/bench-cache/nolog.toml ||
    { echo "bench-cache.sh: could not add access_log_sample_percent to the [edge] line of scripts/bench-cache.toml" >&2; exit 1; }
  VERGE_EDGE_CONFIG="$VERGE_ROOT/target/bench-cache/nolog.toml" CARGO_TARGET_DIR="$VERGE_ROOT/target/bench-cache-nolog" \
    bash scripts/build-workers.sh target/bench-cache/bundle-nolog
  (cd tests && NODE_PATH="$VERGE_ROOT/tests/node_modules" node_modules/.bin/esbuild ../scripts/bench-cache-jsworker.mjs --bundle --format=esm --platform=neutral \
    --main-fields=module,main --outfile="$VERGE_ROOT/target/bench-cache/jsworker.js" --log-level=warning)
fi
[ -x target/host/verge-spin ] || bash scripts/build.sh host
[ -f target/wasm32-wasip2/release/verge_spin_testapp.wasm ] || bash scripts/build.sh
exec node scripts/bench-cache.mjs
