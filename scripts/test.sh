#!/usr/bin/env bash
# Every test entrybench has, as CI runs them. Installs what they need first.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh test
command -v cargo-nextest >/dev/null || cargo install --locked cargo-nextest

step() { printf '\n=== %s\n' "$*" >&2; }

step "format"
cargo fmt --all -- --check
step "clippy"
cargo clippy --workspace --all-targets -- -D warnings
step "unit and integration tests"
cargo nextest run --workspace --no-fail-fast
cargo test --workspace --doc
step "benchmarks, each once (cargo bench -- --test)"
cargo bench --workspace -- --test
step "the fleet playbook against localhost (fleet/site.yml, ansible-core in a venv)"
scripts/fleet-test.sh
step "kernel module style (checkpatch.pl)"
scripts/checkpatch.sh
step "kernel module in booted Debian 6.1 and 6.12 kernels (QEMU TCG)"
scripts/vm-test.sh
step "kernel module under a debug kernel: KASAN, lockdep, UBSAN (QEMU TCG; kernel built once and cached)"
scripts/vm-test.sh --debug-kernel
step "kernel module's PCID/INVPCID and 2-CPU paths under Bochs"
scripts/vm-test.sh --bochs
