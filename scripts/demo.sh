#!/usr/bin/env bash
# The main job: build the package and mp-session-server, start it (its WeChat the mock), and drive
# example-miniprogram/ through the login cycle in the simulator, printing a timeline.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/ensure-built.sh
cargo build --quiet -p mp-session-server
node scripts/demo.js
