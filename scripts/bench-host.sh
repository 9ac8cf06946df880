#!/usr/bin/env bash
# The Spin host's benchmark (scripts/bench-host.py): the edge under the host and under wasmtime
# serve, the pass-through floor, the trivial origin alone. Prints figures; asserts nothing.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
source scripts/env.sh
bash scripts/build.sh spin
exec python3 scripts/bench-host.py "$@"
