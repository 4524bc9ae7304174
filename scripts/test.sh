#!/usr/bin/env bash
# The project's test command (README, .ci/run): installs what the tests need, builds the
# Python and JavaScript example components, then runs every test of the workspace.
set -euo pipefail
cd "$(dirname "$0")/.."

if command -v rustup >/dev/null 2>&1; then
    rustup target list --installed | grep -qx wasm32-wasip2 || rustup target add wasm32-wasip2
fi
scripts/build-polyglot.sh

# Build first (host/build.rs compiles the Rust plugins), so test time is test time.
cargo build --workspace --all-targets --locked
# nextest does not run doc tests; run them first so the suite's summary is the last word.
cargo test --workspace --doc --locked
# The tool components' own unit tests (parsing, formatting), run natively: plugins/ is a
# workspace of its own, built for wasm32 by host/build.rs, so the workspace run misses them.
# (code_execute's logic is covered through the sandbox in tests/every_builtin.rs; building
# its interpreter natively as well would cost minutes.)
cargo test --manifest-path plugins/Cargo.toml --workspace --locked --target-dir target/plugins-native
if cargo nextest --version >/dev/null 2>&1; then
    cargo nextest run --workspace --locked --no-fail-fast
else
    cargo test --workspace --locked --no-fail-fast
fi
