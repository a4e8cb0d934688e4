#!/bin/sh
# Guest side of scripts/vm-test.sh: the measurement suite, quick, with the
# kmod experiments (the module is loaded). The result is QEMU TCG, i.e.
# emulated: it goes to the guest's /tmp/work/results and from there to the
# host's vmtest-work/results, never to the repository's results/.
set -e
mkdir -p /tmp/work/results
# Every experiment, but of the walked entry.flush rows only the series'
# (both timings): under TCG each flush empties the emulator's TLB and a
# walked row takes seconds; the others run the same code paths.
only=$(entrybench run --list --quick |
	grep -vE '^entry\.flush\..*\.w[0-9]+$' |
	tr '\n' ',')entry.flush.series.w64,entry.flush.series.next_entry.w64
# --force: TCG reports no invariant TSC; the figures are emulated anyway.
# --batch 1: under TCG the timer step is coarse, so the automatic batch
# would grow to its maximum and the entry loops would run millions of
# emulated system calls; this run checks the paths, not the figures, so
# it also takes the fewest samples (--samples) and small working sets.
entrybench run --quick --force --batch 1 --samples 3200 --pages 1,16,64 \
	--only "$only" --out /tmp/work/results/vm-tcg.json
echo "kmod experiments listed: $(entrybench run --list --quick | grep -cE '^(flush\.kernel|entry\.flush|ipi\.kmod)\.')"
