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
  have=$(wasm-bindgen --version 2>/dev/null | awk '{print $2}' || true)
  [ "$have" = "$want" ] || {
    echo "bootstrap: cargo installed wasm-bindgen-cli $want, but \`wasm-bindgen --version\` on PATH says '${have:-nothing}'; put ~/.cargo/bin first on PATH" >&2
    exit 1
  }
fi

# JS tooling: binaryen (wasm-opt), wabt (MVP validator), Bun, test dependencies. node_modules is
# reinstalled whenever anything that decides its contents changes: the lock, npm, node, the
# platform (a stamp written after a finished npm ci; an interrupted install leaves none).
install_key="$(sha256sum package-lock.json | cut -c1-16) npm $(npm --version) node $(node --version) $(uname -s)-$(uname -m)"
stamp=node_modules/.mp-session-install-key
if [ "$(cat "$stamp" 2>/dev/null)" != "$install_key" ]; then
  log "npm ci (key: $install_key)"
  rm -f "$stamp"
  npm ci --no-audit --no-fund
  printf '%s\n' "$install_key" >"$stamp"
fi

# Bun's npm package brings its binary as a platform package (an optional dependency): where that
# is missing, the package's fallback downloads it from outside the registries, which fails here.
# Without this check the JavaScriptCore suites would fail much later and say less.
want_bun=$(node -p "require('./package.json').devDependencies.bun")
have_bun=$(node_modules/.bin/bun --version 2>/dev/null || true)
[ "$have_bun" = "$want_bun" ] || {
  echo "bootstrap: node_modules/.bin/bun should be Bun $want_bun, but it answers '${have_bun:-nothing}'; its platform package (@oven/bun-$(uname -s | tr A-Z a-z)-*) did not install: rm -rf node_modules and run this again" >&2
  exit 1
}
log "ready"
