#!/usr/bin/env bash
# npm run bench:server: builds mp-session-server's production profile, then runs
# scripts/bench-server.js beside a throwaway PostgreSQL (scripts/with-postgres.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh >/dev/null
cargo build --quiet --profile server -p mp-session-server
bash scripts/with-postgres.sh node scripts/bench-server.js
