#!/usr/bin/env bash
# Installs the Debian packages entrybench needs, only those missing.
#   scripts/install-deps.sh run    what `entrybench run` needs (perf for the
#                                  perf-bench cross-check script, jq for the
#                                  scripts/measure-*.sh and compare scripts)
#   scripts/install-deps.sh test   what the tests need: QEMU and Bochs, the
#                                  Debian 6.1 and 6.12 kernels with headers
#                                  for the module test, an ISO maker, the
#                                  kernel source (for checkpatch.pl and the
#                                  debug kernel) and what building it needs,
#                                  python3-venv (ansible-core for the
#                                  fleet test), ...
set -euo pipefail

sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
updated=0
apt_update() {
	[ "$updated" = 1 ] && return 0
	$sudo apt-get update -qq
	updated=1
}

case "${1:-test}" in
run) pkgs=(gcc make linux-perf jq) ;;
test)
	pkgs=(gcc make cpio busybox-static file jq kmod qemu-system-x86
		linux-image-amd64 linux-headers-amd64
		bochs bochsbios vgabios grub-pc-bin grub-common xorriso mtools
		linux-source-6.1 python3-venv
		flex bison bc libelf-dev xz-utils)
	# Debian 12 ships 6.1 (linux-image-amd64) and, in bookworm-security,
	# 6.12 under versioned names only: the installed one, else the newest.
	v612=$(printf '%s\n' /boot/vmlinuz-6.12.*+deb12-amd64 | sort -V | tail -n1)
	v612=${v612#/boot/vmlinuz-}
	if [ ! -e "/boot/vmlinuz-$v612" ]; then
		# A fresh machine's package lists may be empty or old: the search
		# needs them current.
		apt_update
		v612=$(apt-cache search --names-only '^linux-image-6\.12\.[0-9]+\+deb12-amd64$' |
			awk '{print $1}' | sort -V | tail -n1)
		v612=${v612#linux-image-}
	fi
	if [ -n "$v612" ]; then
		pkgs+=("linux-image-$v612" "linux-headers-$v612")
	else
		echo "no Debian 6.12 kernel package found: the module test runs on 6.1 only" >&2
	fi
	;;
*) echo "usage: $0 run|test" >&2; exit 2 ;;
esac

if ! command -v cargo >/dev/null; then
	echo "cargo not found: install Rust stable with rustup (https://rustup.rs) first" >&2
	exit 2
fi

missing=()
for p in "${pkgs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "installing: ${missing[*]}" >&2
apt_update
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >&2
