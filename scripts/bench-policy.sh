#!/usr/bin/env bash
# The finishing step's cost on each runtime (tests/bench/bench_policy.mjs): builds the edge with
# tests/bench/edge-bench.toml (into target/bench and edge/workers/build-bench, apart from the
# normal build, as scripts/bench-auth.sh does), then prints figures. The native cost of the same
# routes: cargo run --release -p verge-edge --example pipeline_cost.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
source scripts/env.sh
export VERGE_EDGE_CONFIG="$VERGE_ROOT/tests/bench/edge-bench.toml"
# Without default features: settings from the environment and no key-value or Redis imports, so
# plain `wasmtime serve` runs it.
cargo build --release --locked -q --target wasm32-wasip2 -p verge-edge-spin --no-default-features --target-dir target/bench
CARGO_TARGET_DIR="$VERGE_ROOT/target/bench" bash scripts/build-workers.sh edge/workers/build-bench
cd tests && exec node bench/bench_policy.mjs
