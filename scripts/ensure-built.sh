#!/usr/bin/env bash
# Builds miniprogram_dist/ when it is missing or older than its sources (for demo and bench).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
built=miniprogram_dist/mp_session_bg.wasm.br
if [ ! -f "$built" ] || [ -n "$(find src js scripts Cargo.toml Cargo.lock -newer "$built" -type f | head -1)" ]; then
  bash scripts/build.sh
fi
