#!/usr/bin/env bash
# Runs the whole test suite: builds the `augur` binary the end-to-end tests
# start, then every crate's unit, property and integration tests.
set -euo pipefail
cd "$(dirname "$0")/../.."
tests/scripts/deps.sh
# `--all-targets` builds the binary with the same dependency features as the
# test build below (criterion, a dev-dependency, turns on `ciborium/default`,
# which reaches the whole Burn stack), so `cargo test` reuses every compiled
# dependency instead of building the Burn stack and our crates a second time.
cargo build --workspace --all-targets
cargo test --workspace "$@"
