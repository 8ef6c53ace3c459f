#!/usr/bin/env bash
# npm run bench: builds what is missing, then compares mp-session with wafer2-client-sdk and
# minapp-sdk in the simulator against mp-session-server (scripts/bench.js).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/ensure-built.sh
cargo build --quiet -p mp-session-server
node scripts/bench.js
