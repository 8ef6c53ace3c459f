#!/usr/bin/env bash
# The main job: build the package, start the developer server (mock WeChat), and drive
# example-miniprogram/ through the login cycle in the simulator, printing a timeline.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
if [ ! -f miniprogram_dist/mp_session_bg.wasm.br ] || [ -n "$(find src js scripts Cargo.toml -newer miniprogram_dist/mp_session_bg.wasm.br -type f | head -1)" ]; then
  bash scripts/build.sh
fi
node scripts/demo.js
