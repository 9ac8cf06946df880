#!/usr/bin/env bash
# Optimises a Workers build's wasm in place as worker-build would (wasm-opt -O with workerd's wasm
# features) but without the names section worker-build keeps (160 KB raw, about 43 KB gzip; a
# panic's stack trace then shows function indices), then prints its size raw and gzip. Used by
# scripts/build-workers.sh, so that what the benchmarks measure is what ships.
#   scripts/wasm-opt-workers.sh PATH/index_bg.wasm
# VERGE_KEEP_NAMES=1 keeps the names section, for profiles (`perf` with V8's --perf-basic-prof)
# and scripts/wasm-code-by-crate.py; never for a build that ships or is measured for size.
set -euo pipefail
source "$(dirname "$0")/env.sh"
wasm=$1
features=(--enable-mutable-globals --enable-sign-ext --enable-nontrapping-float-to-int --enable-bulk-memory
          --enable-multivalue --enable-reference-types --enable-exception-handling)
names=(--strip-debug)
[ "${VERGE_KEEP_NAMES:-}" = 1 ] && names=(-g)
# --one-caller-inline-max-function-size: binaryen inlines every function that has one caller,
# whatever its size, which folded the edge's whole request pipeline into one 250 KB function that
# V8 must compile before an isolate's first request (docs/benchmarks.md, "Fifth run"); capped,
# the first request compiles only what it runs: a third less time, the same CPU per request.
"$WASM_OPT_BIN" "$wasm" -o "$wasm.opt" -O --one-caller-inline-max-function-size=200 "${names[@]}" --strip-producers "${features[@]}"
mv "$wasm.opt" "$wasm"
echo "[build] Workers bundle: $(stat -c %s "$wasm") bytes raw, $(gzip -9c "$wasm" | wc -c) gzip" >&2
