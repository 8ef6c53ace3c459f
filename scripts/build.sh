#!/usr/bin/env bash
# Builds the npm package's mini-program directory, miniprogram_dist/:
#   Rust (std rebuilt for the WebAssembly MVP) → wasm-bindgen → wasm-opt -Oz → brotli, plus the shim.
# `build.sh --names` makes the same wasm with its function names kept (target/pkg-names/) and
# prints the largest functions (scripts/wasm-sizes.js): where the bytes go. It ships nothing.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh

# iOS WeChat rejects wasm using post-MVP features, which Rust's prebuilt wasm32 std carries
# (FACTS.md). Rebuilding std for target-cpu=mvp is the fix; RUSTC_BOOTSTRAP lets stable do it.
# The same rebuild drops what only panics need: immediate-abort traps without formatting a
# message (the core returns Result everywhere; a panic is a bug either way), and no panic
# locations or Debug output are compiled in (-11% brotli). Its own target dir keeps these flags
# from invalidating the ordinary (test) builds.
names=${1:-}
case "$names" in "" | --names) ;; *) echo "usage: scripts/build.sh [--names]" >&2; exit 2 ;; esac
suffix=${names:+-names}
keep_names=()
[ -z "$names" ] || keep_names=(CARGO_PROFILE_RELEASE_STRIP=none)
echo "[build] cargo (release, MVP std)"
# A 64 KB wasm stack instead of 1 MB: the core does not recurse deeply (its JSON reader is depth-
# limited), and the whole instance then needs 192 KB of memory instead of 1.15 MB.
env "${keep_names[@]}" RUSTC_BOOTSTRAP=1 RUSTFLAGS="-C target-cpu=mvp -C target-feature=+mutable-globals -Zunstable-options -Cpanic=immediate-abort -Zfmt-debug=none -Zlocation-detail=none -C link-arg=-zstack-size=65536" \
  cargo build --quiet -Zbuild-std=std,panic_abort --release \
  --target wasm32-unknown-unknown --target-dir "target/mvp$suffix"

echo "[build] wasm-bindgen"
rm -rf "target/bindgen$suffix"
wasm-bindgen ${names:+--keep-debug} --target no-modules --no-typescript --out-dir "target/bindgen$suffix" \
  "target/mvp$suffix/wasm32-unknown-unknown/release/mp_session.wasm"

if [ "$names" = --names ]; then
  mkdir -p target/pkg-names
  node node_modules/binaryen/bin/wasm-opt target/bindgen-names/mp_session_bg.wasm --mvp-features \
    --enable-mutable-globals --enable-sign-ext -Oz -g --low-memory-unused --converge --signext-lowering \
    -o target/pkg-names/mp_session_bg.wasm
  node scripts/wasm-sizes.js target/pkg-names/mp_session_bg.wasm 40
  exit 0
fi

echo "[build] package"
node scripts/package.js
