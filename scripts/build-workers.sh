#!/usr/bin/env bash
# Builds the Workers edge bundle: OUT/index.js (the entry, edge/workers/shim.js, bundled with
# wasm-bindgen's glue) and OUT/index_bg.wasm.
#   scripts/build-workers.sh [OUT]   (default edge/workers/build; CARGO_TARGET_DIR is honoured)
# It embeds edge/edge.toml, or the file $VERGE_EDGE_CONFIG names, as the other edge builds do.
# The steps are worker-build's (cargo, wasm-bindgen with its flags, wasm-opt, esbuild) with two
# differences, both measured in docs/benchmarks.md ("Fourth run"):
# - the cargo profile `workers` (opt-level 3; Cargo.toml says why), which worker-build's
#   `--release` cannot select;
# - our own entry module (edge/workers/shim.js): a plain `{ fetch }` handler where worker-build's
#   constructs a WorkerEntrypoint class and two Proxy objects per request. It keeps worker-build's
#   recovery from a trap (wasm-bindgen's --experimental-reset-state-function).
set -euo pipefail
source "$(dirname "$0")/env.sh"
out=$(realpath -m "${1:-$VERGE_ROOT/edge/workers/build}")
cd "$VERGE_ROOT"
target_dir=${CARGO_TARGET_DIR:-$VERGE_ROOT/target}
# OUT is emptied below: refuse any directory that is not new, empty or an earlier bundle (such as
# a target dir, or cargo's own TARGET/workers, where the profile's build scripts live).
if [ -d "$out" ] && [ -n "$(ls -A "$out")" ] && [ ! -f "$out/index_bg.wasm" ]; then
  echo "build-workers.sh: $out holds other files than a Workers bundle; choose a new or empty directory" >&2
  exit 2
fi
# Read by wasm-bindgen's proc-macro (worker-build sets it too): futures through js_sys.
WASM_BINDGEN_USE_JS_SYS=1 cargo build --locked --profile workers --target wasm32-unknown-unknown -p verge-edge-workers --lib
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
"$WASM_BINDGEN_BIN" "$target_dir/wasm32-unknown-unknown/workers/verge_edge_workers.wasm" --out-dir "$stage" --no-typescript \
  --target module --out-name index --experimental-reset-state-function --force-enable-abort-handler
bash scripts/wasm-opt-workers.sh "$stage/index_bg.wasm"
cp edge/workers/shim.js "$stage/shim.js"
# wasm-bindgen imports the module as `import source`; workerd takes a plain import of a .wasm.
(cd "$stage" && "$ESBUILD_BIN" ./shim.js --bundle --format=esm --minify --external:./index_bg.wasm '--external:cloudflare:*' \
  --outfile=entry.js --log-level=error && sed -i 's/import source /import /' entry.js)
mkdir -p "$out"
rm -rf "${out:?}"/*
cp "$stage/entry.js" "$out/index.js"
cp "$stage/index_bg.wasm" "$out/index_bg.wasm"
