#!/usr/bin/env bash
# `npm run server`: builds mp-session-server (a no-op when it is current) and runs it for the
# example, beside the mock WeChat (scripts/server.js says how).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh >/dev/null
cargo build --quiet -p mp-session-server
exec node scripts/server.js "$@"
