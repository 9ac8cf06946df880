#!/usr/bin/env bash
# Builds the four .wasm artifacts (release), the Spin host and the web app:
#   target/wasm32-wasip2/release/verge_edge_spin.wasm    edge, Spin component
#   target/wasm32-wasip2/release/verge_origin_spin.wasm  origin, Spin component
#   edge/workers/build/                                  edge, Workers bundle (index.js + wasm)
#   target/host/verge-spin                               the Spin host that serves spin.toml (host/)
#   target/wasm32-wasip2/release/verge_spin_testapp.wasm the host's test component
#   web/dist/                                            the web app (Vite): index.html, build.json,
#                                                        assets/NAME-HASH.js|css; prints each route's
#                                                        JavaScript gzipped and fails over 100 KB
# The edge builds embed edge/edge.toml (or $VERGE_EDGE_CONFIG) and fail if it is invalid.
# Usage: build.sh [all|spin|host|workers|web]   (default: all)
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$VERGE_ROOT"
what=${1:-all}
if [ "$what" = all ] || [ "$what" = spin ]; then
  cargo build --release --locked --target wasm32-wasip2 -p verge-edge-spin -p verge-origin-spin -p verge-spin-testapp
fi
if [ "$what" = all ] || [ "$what" = host ] || [ "$what" = spin ]; then
  # Native, with its own profile (no fat LTO over wasmtime; panics unwind): see Cargo.toml.
  t=$(date +%s)
  cargo build --profile host --locked -p verge-spin-host
  echo "[build] Spin host: $(( $(date +%s) - t ))s" >&2
fi
if [ "$what" = all ] || [ "$what" = workers ]; then
  bash scripts/build-workers.sh
fi
if [ "$what" = all ] || [ "$what" = web ]; then
  # Type-checks, builds and measures; node_modules comes from web/package-lock.json (setup.sh).
  (cd web && npm run --silent build)
fi
