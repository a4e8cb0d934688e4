#!/bin/sh
# Guest side of scripts/vm-test.sh: the measurement suite, quick, with the
# kmod experiments (the module is loaded). The result is QEMU TCG, i.e.
# emulated: it goes to the guest's /tmp/work/results and from there to the
# host's vmtest-work/results, never to the repository's results/.
set -e
mkdir -p /tmp/work/results
# --force: TCG reports no invariant TSC; the figures are emulated anyway.
# --batch 1: under TCG the timer step is coarse, so the automatic batch
# would grow to its maximum and the entry loops would run millions of
# emulated system calls; this run checks the paths, not the figures, so
# it also takes the fewest samples (--samples) and small working sets.
entrybench run --quick --force --batch 1 --samples 3200 --pages 1,16,64 \
	--out /tmp/work/results/vm-tcg.json
echo "kmod experiments listed: $(entrybench run --list --quick | grep -cE '^(flush\.kernel|entry\.flush|ipi\.kmod)\.')"
