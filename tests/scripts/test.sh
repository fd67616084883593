#!/usr/bin/env bash
# Runs the whole test suite: builds the `augur` binary the end-to-end tests
# start, then every crate's unit, property and integration tests.
set -euo pipefail
cd "$(dirname "$0")/../.."
tests/scripts/deps.sh
cargo build --bin augur
cargo test --workspace "$@"
