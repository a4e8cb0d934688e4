#!/usr/bin/env bash
# Installs the Debian packages entrybench needs, only those missing.
#   scripts/install-deps.sh run    what `entrybench run` needs (perf for the
#                                  perf-bench cross-check script, jq for the
#                                  scripts/measure-*.sh and compare scripts)
#   scripts/install-deps.sh test   what the tests need: QEMU, a Debian kernel
#                                  and its headers for the module test, ...
set -euo pipefail

case "${1:-test}" in
run) pkgs=(gcc make linux-perf jq) ;;
test) pkgs=(gcc make cpio busybox-static qemu-system-x86 linux-image-amd64 linux-headers-amd64 kmod) ;;
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

sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
echo "installing: ${missing[*]}" >&2
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >&2
