# tests/testutil.sh - what the shell tests share, sourced by them: the
# counterpart of tests/testutil.h.
#
#   tu_case NAME        start a case: the checks that follow name it
#   ok MSG, fail MSG    one check line, naming its case:
#                       "ok:   [CASE] MSG", "FAIL: [CASE] MSG"
#   check STATUS MSG    ok when STATUS is 0, else fail
#   tu_skip MSG         exit 77, or 1 when a check failed before: a skip
#                       never hides a failure
#   tu_exit             the summary and the cases that failed; exit 0
#                       when every check passed, 1 when one failed, 99
#                       when none ran
#
# SPDX-License-Identifier: BSD-2-Clause
# shellcheck shell=sh

tu_case_name=setup
tu_checks=0
tu_failed=0
tu_failed_cases=

tu_case() {
	tu_case_name=$1
	echo "## $1"
}

ok() {
	tu_checks=$((tu_checks + 1))
	echo "ok:   [$tu_case_name] $1"
}

fail() {
	tu_checks=$((tu_checks + 1))
	tu_failed=$((tu_failed + 1))
	if ! printf '%s' "$tu_failed_cases" | grep -Fqx -- "$tu_case_name"; then
		tu_failed_cases="$tu_failed_cases$tu_case_name
"
	fi
	echo "FAIL: [$tu_case_name] $1"
}

check() {
	if [ "$1" = 0 ]; then ok "$2"; else fail "$2"; fi
}

tu_exit() {
	if [ "$tu_checks" -eq 0 ]; then
		echo "ERROR: no check was run"
		exit 99
	fi
	echo "# $tu_checks checks, $tu_failed failed"
	printf '%s' "$tu_failed_cases" | sed 's/^/# failed case: /'
	[ "$tu_failed" -eq 0 ] || exit 1
	exit 0
}

tu_skip() {
	echo "skip: [$tu_case_name] $1"
	[ "$tu_failed" -eq 0 ] || tu_exit
	exit 77
}
