#!/usr/bin/env bash
# Installs what a fresh machine lacks to build and test mp-session. Idempotent, and quick when
# everything is already present, so every other script can call it first.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '[bootstrap] %s\n' "$*"; }

# The wasm target and std's source: the shipped wasm rebuilds std for the MVP feature set
# (FACTS.md: Rust's default wasm32 std carries reference-types/multivalue, which iOS rejects).
installed_targets=$(rustup target list --installed)
if ! grep -qx wasm32-unknown-unknown <<<"$installed_targets"; then
  log "adding rust target wasm32-unknown-unknown"
  rustup target add wasm32-unknown-unknown
fi
if ! rustup component list --installed | grep -q '^rust-src'; then
  log "adding rust-src (for -Zbuild-std)"
  rustup component add rust-src
fi

# wasm-bindgen-cli must match the wasm-bindgen crate exactly; read the version from Cargo.toml.
want=$(sed -n 's/^wasm-bindgen = { version = "=\([0-9.]*\)".*/\1/p' Cargo.toml)
[ -n "$want" ] || { echo "bootstrap: cannot read the pinned wasm-bindgen version from Cargo.toml" >&2; exit 1; }
have=$(wasm-bindgen --version 2>/dev/null | awk '{print $2}' || true)
if [ "$have" != "$want" ]; then
  log "installing wasm-bindgen-cli $want (found: ${have:-none}); this takes a few minutes once"
  # No --locked: it fails to resolve here (FACTS.md).
  cargo install wasm-bindgen-cli --version "=$want"
fi

# JS tooling: binaryen (wasm-opt), wabt (MVP validator), test dependencies.
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  log "npm ci"
  npm ci --no-audit --no-fund
fi
log "ready"
