#!/usr/bin/env bash
# Rewrites every example block in README.md and docs/*.md from the command
# its marker names (`<!-- $ entrybench ... -->`), so the docs show what the
# tool prints today. The test `harness/tests/docs_examples.rs` checks the
# same blocks (all but the `live` ones) in every test run.
set -euo pipefail
cd "$(dirname "$0")/.."
UPDATE_DOCS=1 cargo test -q -p harness --test docs_examples -- --test-threads 1
git --no-pager diff --stat -- README.md docs/ || true
