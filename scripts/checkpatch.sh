#!/usr/bin/env bash
# Kernel style of the module: the kernel's own checkpatch.pl (--strict for
# the module source; the uapi header keeps (1ULL << n), since BIT_ULL is
# not available to user space). checkpatch.pl comes from Debian's kernel
# source package (scripts/install-deps.sh test installs it) and is
# extracted once into target/checkpatch.
set -euo pipefail
cd "$(dirname "$0")/.."

tarball=$(ls /usr/src/linux-source-*.tar.xz 2>/dev/null | sort -V | tail -n1 || true)
[ -n "$tarball" ] || { echo "checkpatch.sh: no /usr/src/linux-source-*.tar.xz: scripts/install-deps.sh test" >&2; exit 2; }
dir=target/checkpatch
if [ ! -f "$dir/scripts/checkpatch.pl" ]; then
	mkdir -p "$dir"
	tar -xJf "$tarball" -C "$dir" --strip-components=1 --wildcards \
		'*/scripts/checkpatch.pl' '*/scripts/spelling.txt' '*/scripts/const_structs.checkpatch'
fi
cp="perl $dir/scripts/checkpatch.pl --no-tree --quiet --show-types -f"
$cp --strict kmod-helper/entrybench.c
$cp kmod-helper/entrybench_uapi.h
echo "checkpatch: kmod-helper/entrybench.c (--strict) and entrybench_uapi.h: clean"
