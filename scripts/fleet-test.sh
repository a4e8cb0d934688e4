#!/usr/bin/env bash
# The fleet playbook (fleet/site.yml) for real, against this machine as
# the one host of its inventory (connection local): it builds entrybench,
# copies it, runs `entrybench run --quick --only 'entry.*'`, fetches the
# result and reports over it. Checks that the fetched file loads and that
# the report names this host. ansible-core comes from PyPI into a virtual
# environment, kept between runs (ENTRYBENCH_ANSIBLE_VENV overrides where).
#
#   scripts/fleet-test.sh
set -euo pipefail
cd "$(dirname "$0")/.."

# shellcheck source=scripts/lib.sh
. scripts/lib.sh
need python3
need cargo
# ansible-core 2.17 to 2.19 run on Debian 12's Python 3.11 (2.20 needs
# 3.12); the venv's name carries the range, so a new range gets a new one.
spec='ansible-core>=2.17,<2.20'
venv=${ENTRYBENCH_ANSIBLE_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/entrybench/ansible-core-2.17-2.19}
if [ ! -x "$venv/bin/ansible-playbook" ]; then
	python3 -m venv "$venv" ||
		{ echo "python3 -m venv failed: scripts/install-deps.sh test (python3-venv)" >&2; exit 2; }
	"$venv/bin/pip" install --quiet --disable-pip-version-check "$spec" ||
		{ rm -rf "$venv"; echo "cannot install $spec from PyPI into $venv" >&2; exit 2; }
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
printf '[bench]\nlocalhost ansible_connection=local ansible_python_interpreter=%s\n' \
	"$venv/bin/python" >"$work/inventory"
# Ansible refuses a non-UTF-8 locale; its temporary files stay in $work.
export LC_ALL=C.UTF-8 ANSIBLE_LOCAL_TEMP=$work/ansible-local ANSIBLE_REMOTE_TEMP=$work/ansible-remote
export ANSIBLE_NOCOLOR=1 ANSIBLE_RETRY_FILES_ENABLED=0
vars=$(printf '{"entrybench_args": ["--quick", "--only", "entry.*"], "entrybench_remote_dir": "%s", "fleet_results": "%s"}' \
	"$work/host" "$work/results")
"$venv/bin/ansible-playbook" -i "$work/inventory" fleet/site.yml -e "$vars" >"$work/play.log" 2>&1 ||
	{ cat "$work/play.log" >&2; fail "fleet/site.yml failed against localhost (log above)"; }

host=$(cat /proc/sys/kernel/hostname)
fetched=("$work"/results/localhost/*.json)
[ -f "${fetched[0]}" ] || fail "no result fetched into $work/results/localhost/"
[ ${#fetched[@]} -eq 1 ] || fail "more than one result fetched: ${fetched[*]}"
target/release/entrybench report "${fetched[0]}" >/dev/null ||
	fail "the fetched ${fetched[0]} does not load"
[ "$(jq -r '[.experiments[].id | select(startswith("entry."))] | length' "${fetched[0]}")" -gt 0 ] ||
	fail "${fetched[0]} holds no entry.* experiment"
# The machine block's "run <UTC time> on <host>" line.
grep -qE "^ +run [0-9TZ:-]+ on ${host//./\\.}\$" "$work/results/report.txt" ||
	fail "report.txt does not name this host ($host): $(head -c 2000 "$work/results/report.txt")"
echo "fleet/site.yml against localhost: fetched $(basename "${fetched[0]}"), report names $host [ok]"
