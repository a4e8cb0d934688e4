#!/usr/bin/env bash
# Builds, once, the small debug kernel the module is tested under
# (scripts/vm-test.sh --debug-kernel): Debian's linux-source-6.1,
# `make tinyconfig` plus scripts/vm/debug-kernel.config (what the busybox
# guest needs, PTI, NO_HZ_FULL, KASAN, lockdep, DEBUG_ATOMIC_SLEEP, UBSAN,
# DEBUG_LIST), then `make bzImage modules` so Module.symvers exists and
# out-of-tree modules build against the tree.
#
# The build is cached outside the repository, keyed by a hash of the
# config fragment, the source package's version, the compiler and RECIPE: $EB_DEBUG_KERNEL_CACHE (default ~/.cache/entrybench/debug-kernel)
# /<hash>/. A missing or unfinished build is (re)built, with progress on
# stderr (about 10 minutes of both cores of a 2-core machine). Prints the
# build directory (the KDIR; arch/x86/boot/bzImage inside) on stdout.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=scripts/lib.sh
. "$ROOT/scripts/lib.sh"
say() { printf 'debug-kernel: %s\n' "$*" >&2; }
die() {
	say "FAIL: $*"
	exit 1
}

TARBALL=/usr/src/linux-source-6.1.tar.xz
FRAGMENT=$ROOT/scripts/vm/debug-kernel.config
CACHE=${EB_DEBUG_KERNEL_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/entrybench/debug-kernel}
[ -f "$TARBALL" ] || die "no $TARBALL: scripts/install-deps.sh test"
for c in gcc make flex bison bc perl xz; do need "$c"; done
[ -f /usr/include/libelf.h ] || die "libelf headers missing (objtool needs them): scripts/install-deps.sh test"

# Bump when the way the tree is built changes (the fragment is hashed anyway).
RECIPE="tinyconfig + fragment; bzImage modules; v1"
SRCVER=$(dpkg-query -W -f='${Version}' linux-source-6.1 2>/dev/null || stat -c %s-%Y "$TARBALL")
KEY=$({
	echo "source $SRCVER"
	gcc --version | head -n1
	echo "$RECIPE"
	cat "$FRAGMENT"
} | sha256sum | cut -c1-16)
OUT=$CACHE/$KEY
SRC=$CACHE/src-$SRCVER

mkdir -p "$CACHE"
# One builder at a time; a second caller waits and then finds the cache.
exec 9>"$CACHE/.lock"
flock 9

if [ -f "$OUT/.done" ]; then
	say "cached: $OUT (key $KEY)"
	echo "$OUT"
	exit 0
fi
T0=$(date +%s)
say "no cached build for key $KEY: building into $OUT"

if [ ! -f "$SRC/.done" ]; then
	say "extracting $(basename "$TARBALL") (source $SRCVER, about a minute)"
	rm -rf "$SRC" "$SRC.tmp"
	mkdir -p "$SRC.tmp"
	tar -xJf "$TARBALL" -C "$SRC.tmp" --strip-components=1
	touch "$SRC.tmp/.done"
	mv "$SRC.tmp" "$SRC"
fi

rm -rf "$OUT"
mkdir -p "$OUT"
KMAKE=(make -C "$SRC" O="$OUT" ARCH=x86_64 -j"$(nproc)")
say "configuring: tinyconfig + $(basename "$FRAGMENT")"
"${KMAKE[@]}" tinyconfig >"$OUT/config.log" 2>&1 || { cat "$OUT/config.log" >&2; die "make tinyconfig failed"; }
(cd "$OUT" && "$SRC/scripts/kconfig/merge_config.sh" -m -O "$OUT" "$OUT/.config" "$FRAGMENT") >>"$OUT/config.log" 2>&1 ||
	{ cat "$OUT/config.log" >&2; die "merging the config fragment failed"; }
"${KMAKE[@]}" olddefconfig >>"$OUT/config.log" 2>&1 || { cat "$OUT/config.log" >&2; die "make olddefconfig failed"; }
# Every option asked for must have survived olddefconfig (an unmet
# dependency silently drops it).
lost=()
while IFS= read -r line; do
	case $line in CONFIG_*=*) ;; *) continue ;; esac
	want=${line%%=*}
	case ${line#*=} in
	n) grep -qx "# $want is not set" "$OUT/.config" || grep -qx "$want=n" "$OUT/.config" || ! grep -q "^$want=" "$OUT/.config" || lost+=("$line") ;;
	*) grep -qx "$line" "$OUT/.config" || lost+=("$line") ;;
	esac
done <"$FRAGMENT"
[ ${#lost[@]} -eq 0 ] || die "olddefconfig dropped: ${lost[*]} (see $OUT/config.log)"

say "building bzImage and modules (Module.symvers) with $(nproc) jobs; log: $OUT/build.log"
"${KMAKE[@]}" bzImage modules >"$OUT/build.log" 2>&1 &
pid=$!
# Progress every 30 s: objects compiled so far.
while kill -0 "$pid" 2>/dev/null; do
	for _ in $(seq 30); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 1
	done
	kill -0 "$pid" 2>/dev/null &&
		say "building: $(grep -c '^  CC' "$OUT/build.log" || true) objects compiled, $(($(date +%s) - T0))s"
done
wait "$pid" || { tail -n 40 "$OUT/build.log" >&2; die "kernel build failed (log: $OUT/build.log)"; }
[ -f "$OUT/arch/x86/boot/bzImage" ] && [ -f "$OUT/Module.symvers" ] ||
	die "build finished without bzImage or Module.symvers"
touch "$OUT/.done"
say "built in $(($(date +%s) - T0))s: $OUT"
echo "$OUT"
