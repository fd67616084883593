#!/usr/bin/env bash
# The crash test, for longer: kill -9 the server AUGUR_CRASH_CYCLES times
# (default 200) while writers keep writing, then prove that every
# acknowledged write is stored exactly once and nothing else is.
#
#   tests/scripts/crash-soak.sh                          # 200 cycles
#   AUGUR_CRASH_CYCLES=1000 tests/scripts/crash-soak.sh  # longer
#   AUGUR_CRASH_SEED=123456 tests/scripts/crash-soak.sh  # replay a run's choices
#
# Extra arguments go to the test binary (after `--`), e.g. --nocapture is
# already on so the run's summary line is printed.
set -euo pipefail
cd "$(dirname "$0")/../.."
export AUGUR_CRASH_CYCLES="${AUGUR_CRASH_CYCLES:-200}"
cargo build --bin augur
cargo test -p augur-tests --test crash -- --nocapture "$@"
