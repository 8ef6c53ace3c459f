#!/usr/bin/env bash
# The main job: build the package, start the developer server (mock WeChat), and drive
# example-miniprogram/ through the login cycle in the simulator, printing a timeline.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/ensure-built.sh
node scripts/demo.js
