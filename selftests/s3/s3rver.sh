#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# s3rver (npm), an independent S3 implementation, on loopback for the tests.
#
#   s3rver.sh install               npm ci s3rver (pinned by package-lock.json)
#                                   into build/node; needs the npm registry,
#                                   so run it on the host (deps.sh does)
#   s3rver.sh up DIR PORT [BUCKET]  start it on 127.0.0.1:PORT with its data
#                                   under DIR, create BUCKET (default bkt),
#                                   wait until it answers, print the env
#   s3rver.sh env DIR               print the env again
#   s3rver.sh down DIR              stop it (by the PID it recorded)
#
# The env lines (also in DIR/env, for `. DIR/env`):
#   S3_ENDPOINT=http://127.0.0.1:PORT S3_BUCKET=... AWS_ACCESS_KEY_ID=S3RVER
#   AWS_SECRET_ACCESS_KEY=S3RVER S3RVER_PID=...
# s3rver checks no signature and takes any access key id (see s3rver-run.js);
# it ignores If-Match and answers suffix ranges (bytes=-N) wrongly.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
node_dir=${RCACHE_NODE:-$top/build/node}

die() {
	echo "s3rver.sh: $*" >&2
	exit 1
}

installed() {
	[ -f "$node_dir/node_modules/s3rver/package.json" ] &&
		cmp -s "$here/package-lock.json" "$node_dir/package-lock.json"
}

cmd_install() {
	installed && return 0
	command -v npm >/dev/null || die "npm missing (selftests/deps.sh installs it)"
	mkdir -p "$node_dir"
	cp "$here/package.json" "$here/package-lock.json" "$node_dir/"
	(cd "$node_dir" && npm ci --no-audit --no-fund --loglevel=error >/dev/null) ||
		die "npm ci in $node_dir failed"
	echo "s3rver.sh: s3rver $(sed -n 's/.*"version": "\(.*\)".*/\1/p' \
		"$node_dir/node_modules/s3rver/package.json" | head -n 1) installed in $node_dir" >&2
}

cmd_up() {
	local dir=${1:?usage: s3rver.sh up DIR PORT [BUCKET]} port=${2:?PORT}
	local bucket=${3:-bkt} pid i
	installed || die "s3rver is not installed in $node_dir: run '$0 install' on the host"
	command -v node >/dev/null || die "node missing"
	mkdir -p "$dir/data"
	dir=$(cd "$dir" && pwd)
	if [ -f "$dir/s3rver.pid" ] && kill -0 "$(cat "$dir/s3rver.pid")" 2>/dev/null; then
		die "already running in $dir (pid $(cat "$dir/s3rver.pid"))"
	fi
	if ss -Htln "sport = :$port" | grep -q .; then
		die "port $port is in use"
	fi
	NODE_PATH=$node_dir/node_modules setsid node "$here/s3rver-run.js" 127.0.0.1 "$port" \
		"$dir/data" "$bucket" >>"$dir/s3rver.log" 2>&1 </dev/null &
	pid=$!
	echo "$pid" >"$dir/s3rver.pid"
	# ready when the bucket answers an anonymous HEAD
	for i in $(seq 1 300); do
		if curl -s -o /dev/null -w '%{http_code}' -I "http://127.0.0.1:$port/$bucket" 2>/dev/null |
			grep -q 200; then
			break
		fi
		kill -0 "$pid" 2>/dev/null || die "s3rver exited: $(tail -n 3 "$dir/s3rver.log")"
		[ "$i" -lt 300 ] || { cmd_down "$dir"; die "s3rver did not answer within 30 s"; }
		sleep 0.1
	done
	cat >"$dir/env" <<-EOF
		S3_ENDPOINT=http://127.0.0.1:$port
		S3_BUCKET=$bucket
		AWS_ACCESS_KEY_ID=S3RVER
		AWS_SECRET_ACCESS_KEY=S3RVER
		S3RVER_PID=$pid
	EOF
	cat "$dir/env"
}

cmd_env() {
	cat "${1:?usage: s3rver.sh env DIR}/env"
}

cmd_down() {
	local dir=${1:?usage: s3rver.sh down DIR} pid i
	[ -f "$dir/s3rver.pid" ] || return 0
	pid=$(cat "$dir/s3rver.pid")
	if [ "$(ps -o comm= -p "$pid" 2>/dev/null)" = node ] && kill -TERM "$pid" 2>/dev/null; then
		for i in $(seq 1 50); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null
	fi
	rm -f "$dir/s3rver.pid"
}

case "${1:-}" in
install) cmd_install ;;
up | down | env)
	c=$1
	shift
	"cmd_$c" "$@"
	;;
*)
	sed -n '3,/^set -e/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2
	exit 2
	;;
esac
