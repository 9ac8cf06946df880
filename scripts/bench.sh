#!/usr/bin/env bash
# Benchmarks: .wasm sizes and wrk figures under wasmtime (see scripts/bench.py). Prints figures;
# asserts nothing. Takes about 2 minutes with the defaults; pass --rounds/--duration to change.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
source scripts/env.sh
bash scripts/build.sh
cargo build --release --locked -q -p verge-cli
exec python3 scripts/bench.py "$@"
