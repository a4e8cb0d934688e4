# Shell helpers shared by the scripts (sourced, not run).

# Median of the numbers on stdin, one a line (mean of the middle two for
# an even count); prints nothing for no input.
median() { sort -g | awk '{v[NR]=$1} END {if (NR) print (NR%2 ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2)}'; }

# A failed check: says which, on stderr, and exits 1 (a script that
# prints FAILED must not exit 0).
fail() { echo "$(basename "$0"): check failed: $*" >&2; exit 1; }

# Exits 2 with what to install when command $1 is missing.
need() { command -v "$1" >/dev/null || { echo "$1 is needed: scripts/install-deps.sh run" >&2; exit 2; }; }

# The release binary the scripts run.
build_release() { cargo build --release --quiet --bin entrybench; }

# `entrybench run --only PATTERN --out FILE [ARGS...]` (build_release
# first); on failure prints the run's stderr and exits 1.
run_into() {
	local only=$1 out=$2
	shift 2
	target/release/entrybench run --only "$only" --out "$out" "$@" >/dev/null 2>"$out.err" ||
		{ cat "$out.err" >&2; exit 1; }
}

# What in a guest's dmesg fails a VM test (QEMU, Bochs and the debug
# kernel alike): oopses, warnings, sanitizer reports, lockdep's splats
# (most start with WARNING:, "turning off" ends every one), sleeping in
# atomic context, lockups, stalls.
KERNEL_BAD='Oops|BUG:|kernel BUG|WARNING:|UBSAN:|KASAN:|sleeping function|DEBUG_LOCKS_WARN_ON|possible (recursive|circular) locking|inconsistent lock state|turning off the locking correctness validator|soft lockup|hard LOCKUP|general protection|Call Trace|rcu.*stall|blocked for more than|invalid opcode'

# copy_libs ROOT BINARY...: the shared libraries the binaries load, copied
# under ROOT at their own paths (the guests' binaries link against glibc).
copy_libs() {
	local root=$1 lib
	shift
	for lib in $(ldd "$@" | grep -v ':$' | grep -oE '/[^ ]+' | sort -u); do
		mkdir -p "$root$(dirname "$lib")"
		cp -L "$lib" "$root$lib"
	done
}

# The module's scenario ids every VM test runs (harness/src/experiments/kmod/scenario.rs).
SCENARIO_KMOD_IDS="scenario.kmod.kernel_range scenario.kmod.flush_all scenario.kmod.on_entry.series scenario.kmod.on_entry.cr3_flush scenario.kmod.deferred"

# check_scenarios LABEL RESULT TAG: every scenario.kmod.* id ran in the
# result file, and the victim counted what /proc/interrupts counted
# (scripts/vm/scenario-check.jq: about one CAL IPI per event for the IPI
# strategies; none for on_entry and deferred, whose victim entries
# flushed every time or at most once per mark). Appends failures,
# prefixed with LABEL, to the caller's `fails` array; prints each
# result's counts, labelled TAG (the figures are emulated), on stderr.
check_scenarios() {
	local label=$1 f=$2 tag=$3 id line
	local dir
	dir=$(dirname "${BASH_SOURCE[0]}")/vm
	for id in $SCENARIO_KMOD_IDS; do
		jq -e --arg id "$id" 'any(.experiments[]; .id == $id)' "$f" >/dev/null ||
			fails+=("$label: $id missing")
	done
	while IFS= read -r line; do
		[ -n "$line" ] && fails+=("$label: $line")
	done < <(jq -r -f "$dir/scenario-check.jq" "$f" || echo "cannot read $f")
	jq -r -f "$dir/scenario-show.jq" --arg tag "$tag" "$f" >&2 || true
}
