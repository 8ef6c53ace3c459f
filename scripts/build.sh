#!/usr/bin/env bash
# Builds the npm package's mini-program directory, miniprogram_dist/:
#   Rust (std rebuilt for the WebAssembly MVP) → wasm-bindgen → wasm-opt -Oz → brotli, plus the shim.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh

# iOS WeChat rejects wasm using post-MVP features, which Rust's prebuilt wasm32 std carries
# (FACTS.md). Rebuilding std for target-cpu=mvp is the fix; RUSTC_BOOTSTRAP lets stable do it.
# The same rebuild drops what only panics need: immediate-abort traps without formatting a
# message (the core returns Result everywhere; a panic is a bug either way), and no panic
# locations or Debug output are compiled in (-11% brotli). Its own target dir keeps these flags
# from invalidating the ordinary (test) builds.
echo "[build] cargo (release, MVP std)"
# A 64 KB wasm stack instead of 1 MB: the core does not recurse deeply (its JSON reader is depth-
# limited), and the whole instance then needs 192 KB of memory instead of 1.15 MB.
RUSTC_BOOTSTRAP=1 RUSTFLAGS="-C target-cpu=mvp -C target-feature=+mutable-globals -Zunstable-options -Cpanic=immediate-abort -Zfmt-debug=none -Zlocation-detail=none -C link-arg=-zstack-size=65536" \
  cargo build --quiet -Zbuild-std=std,panic_abort --release \
  --target wasm32-unknown-unknown --target-dir target/mvp

echo "[build] wasm-bindgen"
rm -rf target/bindgen
wasm-bindgen --target no-modules --no-typescript --out-dir target/bindgen \
  target/mvp/wasm32-unknown-unknown/release/mp_session.wasm

echo "[build] package"
node scripts/package.js
