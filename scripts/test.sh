#!/usr/bin/env bash
# Every check the project has, in the order a failure is cheapest to find. CI runs exactly this.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh

echo "== format and lints"
cargo fmt --check
cargo clippy --quiet --all-targets -- -D warnings
cargo clippy --quiet --all-targets --target wasm32-unknown-unknown -- -D warnings

echo "== core: cargo test (native)"
cargo test --quiet

echo "== driver: wasm-bindgen-test under Node"
cargo test --target wasm32-unknown-unknown

echo "== package: build miniprogram_dist/"
bash scripts/build.sh

echo "== package: node --test in the mini-program simulator"
node --test tests/js/
