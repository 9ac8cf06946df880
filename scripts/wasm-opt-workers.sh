#!/usr/bin/env bash
# Optimises a Workers build's wasm in place as worker-build would (wasm-opt -O with workerd's wasm
# features) but without the names section worker-build keeps (160 KB raw, about 43 KB gzip; a
# panic's stack trace then shows function indices), then prints its size raw and gzip. Used by
# scripts/build-workers.sh, so that what the benchmarks measure is what ships.
#   scripts/wasm-opt-workers.sh PATH/index_bg.wasm
set -euo pipefail
source "$(dirname "$0")/env.sh"
wasm=$1
features=(--enable-mutable-globals --enable-sign-ext --enable-nontrapping-float-to-int --enable-bulk-memory
          --enable-multivalue --enable-reference-types --enable-exception-handling)
"$WASM_OPT_BIN" "$wasm" -o "$wasm.opt" -O --strip-debug --strip-producers "${features[@]}"
mv "$wasm.opt" "$wasm"
echo "[build] Workers bundle: $(stat -c %s "$wasm") bytes raw, $(gzip -9c "$wasm" | wc -c) gzip" >&2
