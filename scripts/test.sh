#!/usr/bin/env bash
# The test command: installs what it needs, then
#   1. native unit and in-memory pipeline tests (cargo test, whole workspace),
#   2. builds the .wasm artifacts,
#   3. the web app's unit tests (Vitest), after its build (type check, size budget),
#   4. black-box tests against them: spin.toml (edge and origin) under the project's Spin host
#      (host/), the Workers build on workerd (miniflare), with moto checking every SigV4 signature,
#      and the Spin host itself against its test app, a real redis-server and SQLite.
set -euo pipefail
cd "$(dirname "$0")/.."
start=$(date +%s)
# Each stage says how long the run has taken so far (CI's log then shows where the time goes).
stage() { echo "== $1 (at $(( $(date +%s) - start ))s)"; }
bash scripts/setup.sh
source scripts/env.sh
stage "format and lints"
cargo fmt --all --check
cargo clippy --locked -q --workspace --exclude verge-edge-workers --exclude verge-edge-spin --exclude verge-origin-spin --exclude verge-wasi --exclude verge-spin-host --exclude verge-spin-testapp --all-targets -- -D warnings
cargo clippy --locked -q --target wasm32-wasip2 -p verge-edge-spin -p verge-origin-spin -p verge-wasi -p verge-spin-testapp -- -D warnings
# The Spin host links wasmtime: linted, tested and built in its own profile (see Cargo.toml).
t=$(date +%s)
cargo clippy --locked -q --profile host -p verge-spin-host --all-targets -- -D warnings
echo "   (Spin host lint: $(( $(date +%s) - t ))s)"
cargo clippy --locked -q --target wasm32-unknown-unknown -p verge-edge-workers -- -D warnings
stage "native tests"
cargo test --locked --workspace --exclude verge-edge-spin --exclude verge-origin-spin --exclude verge-wasi --exclude verge-spin-host --exclude verge-spin-testapp
t=$(date +%s)
cargo test --locked --profile host -p verge-spin-host
echo "   (Spin host unit tests, building the host's dependencies: $(( $(date +%s) - t ))s)"
stage "config and infra checks"
cargo run --locked -q -p verge-cli -- check edge/edge.toml
cfn-lint infra/verge.yaml
stage "build wasm and the Spin host"
bash scripts/build.sh
stage "web app unit tests"
(cd web && npm test --silent)
stage "black-box tests"
(cd tests && node --test --test-concurrency=1 blackbox/*.test.mjs)
echo "== all tests passed in $(( $(date +%s) - start ))s"
