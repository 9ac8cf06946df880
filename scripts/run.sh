#!/usr/bin/env bash
# The run command: installs what it needs, builds, and starts the whole stack on loopback:
# moto (DynamoDB + S3, checking signatures), the origin and the edge (Spin components under
# wasmtime). Open the URL it prints. Ctrl-C stops everything.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
source scripts/env.sh
bash scripts/build.sh
exec python3 scripts/devstack.py run "$@"
