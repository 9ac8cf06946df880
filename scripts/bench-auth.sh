#!/usr/bin/env bash
# Identity benchmarks (tests/bench/bench_auth.mjs): builds the edge with tests/bench/edge-bench.toml
# (into target/bench and edge/workers/build-bench, apart from the normal build) and the Hono
# comparison worker, then prints figures. About 3 minutes.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
source scripts/env.sh
export VERGE_EDGE_CONFIG="$VERGE_ROOT/tests/bench/edge-bench.toml"
cargo build --release --locked -q --target wasm32-wasip2 -p verge-edge-spin --no-default-features --target-dir target/bench
CARGO_TARGET_DIR="$VERGE_ROOT/target/bench" bash scripts/build-workers.sh edge/workers/build-bench
mkdir -p tests/bench/build
(cd tests && node_modules/.bin/esbuild bench/hono-worker.mjs --bundle --format=esm --platform=neutral --main-fields=module,main --outfile=bench/build/hono.js --log-level=warning)
cd tests && exec node bench/bench_auth.mjs
