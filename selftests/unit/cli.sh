#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# rcachectl's command line, on the host (no device-mapper, no module needed):
# every command's --help, the usage errors that name what is missing, a
# malformed origin URL reported before the module is looked for, inspect of
# a device without a superblock.  Run by selftests/run-check (unit group):
#
#   selftests/unit/cli.sh [BINDIR [PREFIX]]   (build/bin, unit/cli)
#
# Prints PASS:/FAIL: lines; exits non-zero when a test failed.
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
bin=${1:-$top/build/bin}
prefix=${2:-unit/cli}
ctl=$bin/rcachectl
work=$(mktemp -d /tmp/rcache-cli.XXXXXX)
trap 'rm -rf "$work"' EXIT
failed=0

[ -x "$ctl" ] || { echo "FAIL: $prefix: $ctl is not built"; exit 1; }

pass() { echo "PASS: $prefix/$1"; }
fail() {
	local why=${2# }
	why=${why//$'\n'/ | }
	echo "FAIL: $prefix/$1: ${why:0:300}"
	failed=1
}

# run ARGS...: runs rcachectl; $rc, $out (stdout) and $err (stderr)
run() {
	"$ctl" "$@" >"$work/out" 2>"$work/err" </dev/null
	rc=$?
	out=$(cat "$work/out")
	err=$(cat "$work/err")
}

# The commands, as "rcachectl --help" must list them (ls is list's alias).
commands=(create remove list status table inspect invalidate clear-stats warmup trace message
	version help)

# rcachectl --help: every command on a line of its own, on stdout, exit 0
for opt in --help -h; do
	run "$opt"
	why=
	[ "$rc" -eq 0 ] || why+=" exit $rc;"
	[ -z "$err" ] || why+=" stderr: $err;"
	for c in "${commands[@]}"; do
		grep -qE "^  $c( |,)" <<<"$out" || why+=" no line for $c;"
	done
	[ -z "$why" ] && pass "overview$opt" || fail "overview$opt" "${why%;}"
done

# rcachectl CMD --help (and -h): its usage on stdout, naming the command, exit 0
for c in "${commands[@]}" ls; do
	want=$c
	[ "$c" = ls ] && want=list
	for opt in --help -h; do
		run "$c" "$opt"
		why=
		[ "$rc" -eq 0 ] || why+=" exit $rc;"
		[ -z "$err" ] || why+=" stderr: $err;"
		head -n 1 <<<"$out" | grep -q "^usage: rcachectl $want\b" ||
			why+=" first line: $(head -n 1 <<<"$out");"
		[ -z "$why" ] && pass "help/$c$opt" || fail "help/$c$opt" "${why%;}"
	done
done
# help after the arguments, and "rcachectl help CMD"
run create img --origin file:///x --help
[ "$rc" -eq 0 ] && grep -q "^usage: rcachectl create" <<<"$out" && pass help/after-arguments ||
	fail help/after-arguments "exit $rc: $out$err"
run help message
[ "$rc" -eq 0 ] && grep -q "^usage: rcachectl message" <<<"$out" && pass help/help-command ||
	fail help/help-command "exit $rc: $out$err"

# usage_error NAME CMD "EXPECTED" ARGS...: exit 2, nothing on stdout, one line
# on stderr that says EXPECTED and points at "rcachectl CMD --help"
usage_error() {
	local name=$1 cmd=$2 expected=$3 why=
	shift 3
	run "$@"
	[ "$rc" -eq 2 ] || why+=" exit $rc;"
	[ -z "$out" ] || why+=" stdout: $out;"
	[ "$(wc -l <"$work/err")" -eq 1 ] || why+=" not one line;"
	grep -qF -- "$expected" <<<"$err" || why+=" no '$expected';"
	grep -qF -- "rcachectl $cmd --help" <<<"$err" || why+=" no pointer to 'rcachectl $cmd --help';"
	[ -z "$why" ] && pass "usage/$name" || fail "usage/$name" "${why%;} (stderr: $err)"
}

usage_error create-name create "create: NAME is missing" create
usage_error create-origin create "create: --origin URL is missing" create img --cache /dev/null
usage_error create-cache create "create: --cache DEV is missing" create img --origin file:///x
usage_error create-value create "option '--origin' needs a value" create img --cache /dev/null --origin
usage_error create-unknown create "create: unknown option '--bogus'" create img --bogus
usage_error create-ambiguous create "option '--prefetch' is ambiguous" create img --prefetch=8
usage_error create-extra create "unexpected argument 'more'" create img more --origin file:///x --cache /dev/null
usage_error create-block-size create "--block-size 3x: expected a size" \
	create img --origin file:///x --cache /dev/null --block-size 3x
usage_error remove-name remove "remove: NAME is missing" remove
usage_error table-name table "table: NAME is missing" table
usage_error inspect-dev inspect "inspect: DEV is missing" inspect
usage_error invalidate-name invalidate "invalidate: NAME is missing" invalidate --range 0-1M
usage_error invalidate-range invalidate "--range 5-1: expected BEGIN-END" invalidate img --range 5-1
usage_error clear-stats-name clear-stats "clear-stats: NAME is missing" clear-stats
usage_error warmup-name warmup "warmup: NAME is missing" warmup --wait
usage_error warmup-both warmup "--range and --trace exclude each other" warmup img --range 0-1M --trace /x
usage_error trace-subcommand trace "trace: the subcommand is missing" trace
usage_error trace-unknown trace "unknown subcommand 'play'" trace play img
usage_error trace-name trace "trace: NAME is missing" trace record --out /x
usage_error trace-out trace "trace: --out FILE is missing" trace record img
usage_error message-name message "message: NAME is missing" message
usage_error message-args message "message: MESSAGE is missing" message img
usage_error message-sector message "dmsetup's sector 0" message img 0 warmup stop
usage_error message-long message "MESSAGE is longer than" message img warmup "$(printf '%02000d' 0)"
usage_error status-json-value status "option '--json' takes no value" status --json=yes
usage_error list-extra list "list: unexpected argument 'img'" list img

# A malformed origin URL is the command line's fault: said before anything
# looks for the module (this host has none: "not installed" would be wrong)
bad_url() {
	local name=$1 url=$2 expected=$3 why=
	run create img --origin "$url" --cache /dev/null
	[ "$rc" -eq 2 ] || why+=" exit $rc;"
	[ "$(wc -l <"$work/err")" -eq 1 ] || why+=" not one line;"
	grep -qF -- "create: origin URL $url: $expected" <<<"$err" || why+=" no 'origin URL $url: $expected';"
	! grep -q "installed\|dm-mod\|mapper" <<<"$err" || why+=" blames the kernel;"
	[ -z "$why" ] && pass "url/$name" || fail "url/$name" "${why%;} (stderr: $err)"
}
bad_url nfs nfs://server/export/img.ext4 "unsupported scheme"
bad_url s3-bucket s3://My_Bucket/img "bucket name"
bad_url s3-key s3://bucket "no object key"
bad_url file-relative file://data/img "file:// needs an absolute path"
# the same URL read from standard input (--origin -)
echo "nfs://server/img" | "$ctl" create img --origin - --cache /dev/null >"$work/out" 2>"$work/err"
rc=$?
err=$(cat "$work/err")
[ "$rc" -eq 2 ] && grep -qF "origin URL nfs://server/img: unsupported scheme" <<<"$err" &&
	pass url/from-stdin || fail url/from-stdin "exit $rc: $err"

# inspect of a file without a superblock, and of a path that is not there
head -c $((1024 * 1024)) /dev/zero >"$work/zero.img"
run inspect "$work/zero.img"
[ "$rc" -eq 1 ] && [ -z "$out" ] && [ "$(wc -l <"$work/err")" -eq 1 ] &&
	grep -qF "inspect $work/zero.img: no rcache superblock" <<<"$err" &&
	pass inspect/zeroed || fail inspect/zeroed "exit $rc: $out$err"
head -c $((1024 * 1024)) /dev/urandom >"$work/other.img"
run inspect "$work/other.img"
[ "$rc" -eq 1 ] && [ "$(wc -l <"$work/err")" -eq 1 ] &&
	grep -qF "inspect $work/other.img: no rcache superblock" <<<"$err" &&
	pass inspect/other-data || fail inspect/other-data "exit $rc: $out$err"
run inspect "$work/missing.img"
[ "$rc" -eq 1 ] && [ "$(wc -l <"$work/err")" -eq 1 ] &&
	grep -qF "inspect $work/missing.img: No such file or directory" <<<"$err" &&
	pass inspect/missing || fail inspect/missing "exit $rc: $out$err"

exit $failed
