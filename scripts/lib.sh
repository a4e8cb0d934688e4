# Shell helpers shared by the scripts (sourced, not run).

# Median of the numbers on stdin, one a line (mean of the middle two for
# an even count); prints nothing for no input.
median() { sort -g | awk '{v[NR]=$1} END {if (NR) print (NR%2 ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2)}'; }

# Exits 2 with what to install when command $1 is missing.
need() { command -v "$1" >/dev/null || { echo "$1 is needed: scripts/install-deps.sh run" >&2; exit 2; }; }

# Builds the release binary, then `entrybench run --only PATTERN --out FILE
# [ARGS...]`; on failure prints the run's stderr and exits 1.
run_into() {
	local only=$1 out=$2
	shift 2
	cargo build --release --quiet --bin entrybench
	target/release/entrybench run --only "$only" --out "$out" "$@" >/dev/null 2>"$out.err" ||
		{ cat "$out.err" >&2; exit 1; }
}
