#!/usr/bin/env bash
# Runs runner-wasm's unit tests on the real wasm32 build in Node, twice: `+simd128` (the shipped module) and
# `+simd128,+relaxed-simd` (the second module; Node 20 runs it behind --experimental-wasm-relaxed-simd).
#
# Needs wasm-bindgen-test-runner 0.2.130 on PATH (it must equal the pinned `wasm-bindgen = "=0.2.130"`):
#   cargo install wasm-bindgen-cli --version 0.2.130      # no --locked: its lockfile needs a crate the index lacks
# Each build gets its own target directory under $CARGO_TARGET_DIR (default: target/), so switching between the
# two feature sets does not rebuild the other.
set -euo pipefail
cd "$(dirname "$0")/../.."
base=${CARGO_TARGET_DIR:-target}
export CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER=wasm-bindgen-test-runner
for features in +simd128 +simd128,+relaxed-simd; do
    echo "== runner-wasm tests in Node, target-feature=$features"
    CARGO_TARGET_DIR="$base/wasm-tests/${features//[+,]/_}" \
    CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUSTFLAGS="-C target-feature=$features" \
    NODE_ARGS=--experimental-wasm-relaxed-simd \
        cargo test -p wdnn-runner-wasm --target wasm32-unknown-unknown "$@"
done
