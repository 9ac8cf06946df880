#!/usr/bin/env bash
# Edge memory under 100 MB bodies on both runtimes (scripts/bench-memory.mjs): the Spin edge
# instance's peak linear memory and workerd's resident memory, for small requests, a 100 MB POST
# (declared and chunked) and a 100 MB GET through each edge. Prints figures; asserts nothing.
# Environment: BENCH_ROUNDS (3), BENCH_SKIP_BUILD=1.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
source scripts/env.sh
[ -n "${BENCH_SKIP_BUILD:-}" ] || bash scripts/build.sh
exec node scripts/bench-memory.mjs
