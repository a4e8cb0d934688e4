#!/usr/bin/env bash
# The main job: measure this machine. Writes results/<host>-<cpu>-<time>.json
# and the text report beside it, and prints the report.
# Arguments are passed to `entrybench run` (e.g. --quick, --only 'entry.*').
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh run
cargo build --release --quiet --bin entrybench
exec target/release/entrybench run "$@"
