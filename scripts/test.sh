#!/usr/bin/env bash
# The whole test suite: every crate, every test, the examples and the doc tests.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo test --workspace --all-targets
cargo test --workspace --doc
