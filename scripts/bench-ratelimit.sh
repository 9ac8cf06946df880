#!/usr/bin/env bash
# Rate-limit benchmarks (scripts/bench-ratelimit.mjs): builds the edge with
# scripts/bench-ratelimit.toml (into target/bench, apart
# from the normal build), then prints the added latency of an instance and a global limit on Spin
# (the project's host, Redis) and workerd (miniflare, Durable Objects), and how many requests a
# burst of concurrent clients gets past each scope. Asserts nothing. About 3 minutes after a build.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
source scripts/env.sh
export VERGE_EDGE_CONFIG="$VERGE_ROOT/scripts/bench-ratelimit.toml"
cargo build --release --locked -q --target wasm32-wasip2 -p verge-edge-spin --target-dir target/bench
CARGO_TARGET_DIR="$VERGE_ROOT/target/bench" bash scripts/build-workers.sh target/bench/workers-ratelimit
[ -x target/host/verge-spin ] || bash scripts/build.sh host
exec node scripts/bench-ratelimit.mjs
