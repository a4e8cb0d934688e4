#!/bin/sh
# Guest side of scripts/vm-test.sh: the measurement suite, quick, with the
# kmod experiments (the module is loaded). The result is QEMU TCG, i.e.
# emulated: it goes to the guest's /tmp/work/results and from there to the
# host's vmtest-work/results, never to the repository's results/.
set -e
mkdir -p /tmp/work/results
# --force: TCG reports no invariant TSC; the figures are emulated anyway.
entrybench run --quick --force --out /tmp/work/results/vm-tcg.json
echo "kmod experiments listed: $(entrybench run --list --quick | grep -cE '^(flush\.kernel|entry\.flush|ipi\.kmod)\.')"
