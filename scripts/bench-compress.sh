#!/usr/bin/env bash
# What compression costs the Spin edge component: builds it without a compressor, with gzip (the
# default) and with gzip and brotli, prints raw and gzip -9 sizes side by side, then the native
# cost of compressing typical answers (edge/core/examples/compress_cost.rs). Leaves the default
# build in place. Asserts nothing; takes three release builds of the component (a few minutes).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
wasm=target/wasm32-wasip2/release/verge_edge_spin.wasm
base="spin-variables,key-value,redis"
echo "| Spin edge component | raw bytes | gzip -9 bytes |"
echo "|---|---|---|"
for variant in "none:$base" "gzip (default):$base,gzip" "gzip + brotli:$base,gzip,brotli"; do
  name=${variant%%:*}
  features=${variant#*:}
  cargo build --release --locked -q --target wasm32-wasip2 -p verge-edge-spin --no-default-features --features "$features"
  echo "| $name | $(stat -c %s "$wasm") | $(gzip -9c "$wasm" | wc -c) |"
done
cargo build --release --locked -q --target wasm32-wasip2 -p verge-edge-spin
echo
cargo run --release --locked -q -p verge-edge --features compression --example compress_cost
