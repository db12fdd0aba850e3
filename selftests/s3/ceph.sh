#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# A one-node Ceph on loopback for the tests: mon, mgr, one memstore OSD, mds,
# radosgw (S3, SigV4 checked for real) and CephFS, from Debian 12's packages
# (Ceph 16.2 Pacific), cephx on, no systemd.  Works on the host and in the
# vm-run guest.
#
#   ceph.sh up                    start everything, create an S3 user and a
#                                 bucket, wait for S3 (and the MDS), print env
#   ceph.sh env                   print the env again
#   ceph.sh mount-cephfs MNT [PATH]   kernel CephFS mount of PATH (default /)
#   ceph.sh umount-cephfs MNT
#   ceph.sh s3 CURL-ARGS...       curl signed as the S3 user (path-style)
#   ceph.sh check                 S3 smoke test: PUT, GET, ranges, If-Match,
#                                 wrong secret -> 403, no payload hash -> 403
#   ceph.sh status                daemons and `ceph -s`
#   ceph.sh down                  unmount, stop every daemon (by recorded PID)
#
# Environment (defaults):
#   CEPH_DIR=/tmp/rcache-ceph     state, logs, env file ($CEPH_DIR/env)
#   CEPH_MON_PORT=40000           msgr2; msgr1 on +1; daemons on +100..+199
#   CEPH_RGW_PORT=40080           S3 endpoint http://127.0.0.1:$CEPH_RGW_PORT
#   CEPH_MDS=1  CEPH_MGR=1        0: leave CephFS / the mgr out
#   CEPH_WAIT_MDS=1               0: `up` returns once S3 works; the MDS may
#                                 still be starting (mount-cephfs waits)
#   CEPH_PGS=8                    placement groups per pool
#   CEPH_OSD_BYTES=4294967296     memstore capacity (data lives in RAM)
#   CEPH_S3_KEY, CEPH_S3_SECRET, CEPH_BUCKET=bkt
#
# `up` prints, and writes to $CEPH_DIR/env (for `. $CEPH_DIR/env`):
#   S3_ENDPOINT S3_BUCKET AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_REGION
#   CEPH_CONF CEPH_FSID CEPH_MON_ADDR CEPH_ADMIN_KEY
# radosgw answers a wrong signature, and a request without
# x-amz-content-sha256, with 403 SignatureDoesNotMatch; it honours If-Match (412).
set -euo pipefail
DIR=${CEPH_DIR:-/tmp/rcache-ceph}
MON_PORT=${CEPH_MON_PORT:-40000}
RGW_PORT=${CEPH_RGW_PORT:-40080}
WITH_MDS=${CEPH_MDS:-1}
WITH_MGR=${CEPH_MGR:-1}
WAIT_MDS=${CEPH_WAIT_MDS:-1}
PGS=${CEPH_PGS:-8}
OSD_BYTES=${CEPH_OSD_BYTES:-4294967296}
S3_KEY=${CEPH_S3_KEY:-RCACHETESTKEY0000001}
S3_SECRET=${CEPH_S3_SECRET:-rcacheTestSecret0000000000000000000000001}
BUCKET=${CEPH_BUCKET:-bkt}
CONF=$DIR/ceph.conf
PIDS=$DIR/pids
MON_ADDR=127.0.0.1:$MON_PORT
T0=${EPOCHREALTIME/./}

say() {
	local us=$((${EPOCHREALTIME/./} - T0))
	printf 'ceph.sh [%3d.%02ds] %s\n' $((us / 1000000)) $((us % 1000000 / 10000)) "$*" >&2
}

die() {
	echo "ceph.sh: $*" >&2
	exit 1
}

elapsed() {
	local cs=$(((${EPOCHREALTIME/./} - T0) / 10000))
	printf '%d.%02d' $((cs / 100)) $((cs % 100))
}

# poll SECONDS WHAT CMD...: run CMD every 0.2 s until it succeeds
poll() {
	local limit=$1 what=$2 end
	shift 2
	end=$((SECONDS + limit))
	until "$@" >/dev/null 2>&1; do
		[ $SECONDS -lt $end ] || die "timed out after ${limit}s waiting for $what (logs: $DIR/log)"
		sleep 0.2
	done
}

ceph_cli() { ceph -c "$CONF" --connect-timeout 120 "$@"; }

spawn() { # spawn NAME CMD...: a daemon in the foreground, in the background
	local name=$1
	shift
	setsid "$@" </dev/null >>"$DIR/log/$name.out" 2>&1 &
	echo "$! $name" >>"$PIDS"
}

write_conf() {
	local fsid=$1 mon="[v2:$MON_ADDR,v1:127.0.0.1:$((MON_PORT + 1))]"
	cat >"$CONF" <<EOF
[global]
fsid = $fsid
mon host = $mon
public addr = 127.0.0.1
cluster addr = 127.0.0.1
ms bind ipv6 = false
ms bind port min = $((MON_PORT + 100))
ms bind port max = $((MON_PORT + 199))
keyring = $DIR/keyring
run dir = $DIR/run
admin socket = $DIR/run/\$name.asok
log file = $DIR/log/\$name.log
auth cluster required = cephx
auth service required = cephx
auth client required = cephx
auth allow insecure global id reclaim = false
mon warn on insecure global id reclaim allowed = false
# one OSD: one replica, few PGs, no autoscaler
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = $PGS
osd pool default pgp num = $PGS
osd pool default pg autoscale mode = off
osd crush chooseleaf type = 0
mon allow pool size one = true
mon allow pool delete = true
mon warn on pool no redundancy = false
mon max pg per osd = 1000
mon data avail warn = 1
# the default 1 s between paxos proposals makes every step wait
paxos propose interval = 0.1
# no restful module: it would listen on every address
mgr initial modules = iostat

[mon]
mon data = $DIR/mon.\$id
mon cluster log file = $DIR/log/cluster.log

[osd]
osd data = $DIR/osd.\$id
osd objectstore = memstore
memstore device bytes = $OSD_BYTES

[mgr]
mgr data = $DIR/mgr.\$id

[mds]
mds data = $DIR/mds.\$id

[client.rgw.gw]
rgw frontends = beast endpoint=127.0.0.1:$RGW_PORT
rgw data = $DIR/rgw
EOF
}

# A cephx secret as ceph-authtool makes it, base64 of: u16 type 1 (AES),
# u32 seconds, u32 nanoseconds, u16 length 16, 16 random bytes.  Made here,
# since each ceph-authtool run costs about a second under TCG.
gen_key() {
	local t=$EPOCHSECONDS le
	le=$(printf '\\x%02x\\x%02x\\x%02x\\x%02x' $((t & 255)) $((t >> 8 & 255)) \
		$((t >> 16 & 255)) $((t >> 24 & 255)))
	{
		printf '\x01\x00'
		printf '%b' "$le"
		printf '\x00\x00\x00\x00\x10\x00'
		head -c 16 /dev/urandom
	} | base64
}

# entity key-caps...: one keyring section
key_section() {
	local name=$1 cap
	shift
	printf '[%s]\n\tkey = %s\n' "$name" "$(gen_key)"
	for cap in "$@"; do printf '\tcaps %s = "%s"\n' "${cap%%=*}" "${cap#*=}"; done
}

make_keys() {
	{
		key_section mon. 'mon=allow *'
		key_section client.admin 'mon=allow *' 'osd=allow *' 'mds=allow *' 'mgr=allow *'
		key_section osd.0 'mon=allow profile osd' 'mgr=allow profile osd' 'osd=allow *'
		key_section mgr.x 'mon=allow profile mgr' 'osd=allow *' 'mds=allow *'
		key_section mds.a 'mon=allow profile mds' 'mgr=allow profile mds' 'osd=allow *' 'mds=allow'
		key_section client.rgw.gw 'mon=allow rw' 'osd=allow rwx' 'mgr=allow rw'
	} >"$DIR/keyring"
	chmod 600 "$DIR/keyring"
}

cmd_up() {
	local fsid osd_uuid p
	command -v ceph-mon >/dev/null || die "ceph is not installed (selftests/deps.sh check installs it)"
	[ ! -s "$PIDS" ] || die "already up in $DIR (run '$0 down' first)"
	for p in "$MON_PORT" $((MON_PORT + 1)) "$RGW_PORT"; do
		! ss -Htln "sport = :$p" | grep -q . || die "port $p is in use"
	done
	case "$(hostname 2>/dev/null)" in
	"" | "(none)" | localhost) # the OSD refuses these as its CRUSH host
		[ "$(id -u)" = 0 ] || die "set a hostname first"
		hostname cephhost
		echo "127.0.0.1 cephhost" >>/etc/hosts
		;;
	esac
	# shellcheck disable=SC2154
	trap 'rc=$?; [ $rc -eq 0 ] || { echo "ceph.sh: up failed, stopping what started" >&2; cmd_down; }' EXIT
	rm -rf "$DIR"
	mkdir -p "$DIR"/{mon.a,osd.0,mgr.x,mds.a,rgw,run,log}
	fsid=$(cat /proc/sys/kernel/random/uuid)
	osd_uuid=$(cat /proc/sys/kernel/random/uuid)
	write_conf "$fsid"
	make_keys
	monmaptool --create --fsid "$fsid" \
		--addv a "[v2:$MON_ADDR,v1:127.0.0.1:$((MON_PORT + 1))]" "$DIR/monmap" >/dev/null
	ceph-mon -c "$CONF" --mkfs -i a --monmap "$DIR/monmap" --keyring "$DIR/keyring" \
		>"$DIR/log/mon-mkfs.out" 2>&1 || die "ceph-mon --mkfs failed: $(tail -n 3 "$DIR/log/mon-mkfs.out")"
	spawn mon.a ceph-mon -c "$CONF" -i a -f
	say "mon started"
	# One CLI process for every mon command: each `ceph` start costs seconds
	# under TCG.  It waits for the mon by itself.
	{
		echo "osd new $osd_uuid 0"
		if [ "$WITH_MDS" = 1 ]; then
			echo "osd pool create cephfs_metadata $PGS"
			echo "osd pool create cephfs_data $PGS"
			echo "fs new cephfs cephfs_metadata cephfs_data"
		fi
	} | ceph_cli >"$DIR/log/cli.out" 2>&1 || die "ceph commands failed: $(tail -n 3 "$DIR/log/cli.out")"
	grep -q '^0$' "$DIR/log/cli.out" || die "osd new failed: $(cat "$DIR/log/cli.out")"
	say "osd.0 and cephfs defined"
	ceph-osd -c "$CONF" -i 0 --mkfs --osd-uuid "$osd_uuid" >"$DIR/log/osd-mkfs.out" 2>&1 ||
		die "ceph-osd --mkfs failed: $(tail -n 3 "$DIR/log/osd-mkfs.out")"
	spawn osd.0 ceph-osd -c "$CONF" -i 0 -f
	[ "$WITH_MGR" != 1 ] || spawn mgr.x ceph-mgr -c "$CONF" -i x -f
	[ "$WITH_MDS" != 1 ] || spawn mds.a ceph-mds -c "$CONF" -i a -f
	spawn rgw.gw radosgw -c "$CONF" -n client.rgw.gw -f
	say "osd, mgr, mds, radosgw started"
	poll 300 "radosgw to answer" curl -sf -o /dev/null "http://127.0.0.1:$RGW_PORT/"
	say "radosgw answers"
	radosgw-admin -c "$CONF" user create --uid=rcache --display-name=rcache \
		--access-key="$S3_KEY" --secret-key="$S3_SECRET" >"$DIR/log/user.out" 2>&1 ||
		die "radosgw-admin user create failed: $(tail -n 3 "$DIR/log/user.out")"
	cat >"$DIR/env" <<EOF
S3_ENDPOINT=http://127.0.0.1:$RGW_PORT
S3_BUCKET=$BUCKET
AWS_ACCESS_KEY_ID=$S3_KEY
AWS_SECRET_ACCESS_KEY=$S3_SECRET
AWS_REGION=us-east-1
CEPH_CONF=$CONF
CEPH_FSID=$fsid
CEPH_MON_ADDR=$MON_ADDR
CEPH_ADMIN_KEY=$(ceph-authtool -p -n client.admin "$DIR/keyring")
EOF
	# the user may take a moment to be visible to radosgw
	poll 60 "bucket $BUCKET to be created" bash -c \
		"[ \"\$('$0' s3 -o /dev/null -w '%{http_code}' -X PUT http://127.0.0.1:$RGW_PORT/$BUCKET)\" = 200 ]"
	say "S3 READY: bucket $BUCKET at http://127.0.0.1:$RGW_PORT"
	echo "s3_ready_s=$(elapsed)" >"$DIR/timings"
	if [ "$WITH_MDS" = 1 ] && [ "$WAIT_MDS" = 1 ]; then
		wait_mds
		echo "mds_active_s=$(elapsed)" >>"$DIR/timings"
	fi
	trap - EXIT
	cat "$DIR/env"
}

# The MDS is active when its admin socket says so: no `ceph` CLI round trip.
mds_active() {
	ceph --admin-daemon "$DIR/run/mds.a.asok" status 2>/dev/null | grep -q '"state": "up:active"'
}

wait_mds() {
	[ "$WITH_MDS" = 1 ] || die "started without an MDS (CEPH_MDS=0)"
	mds_active || poll 300 "the MDS to become active" mds_active
	say "MDS active"
}

load_env() {
	[ -s "$DIR/env" ] || die "not up ($DIR/env missing)"
	# shellcheck disable=SC1091
	. "$DIR/env"
}

cmd_env() { load_env && cat "$DIR/env"; }

cmd_s3() {
	load_env
	curl -sS --aws-sigv4 "aws:amz:$AWS_REGION:s3" --user "$AWS_ACCESS_KEY_ID:$AWS_SECRET_ACCESS_KEY" \
		-H 'x-amz-content-sha256: UNSIGNED-PAYLOAD' "$@"
}

cmd_mount_cephfs() {
	local mnt=${1:?usage: ceph.sh mount-cephfs MNT [PATH]} path=${2:-/}
	load_env
	wait_mds
	modprobe ceph 2>/dev/null || true
	mkdir -p "$mnt"
	# -i: Pacific's mount.ceph helper predates this device syntax
	mount -i -t ceph "admin@$CEPH_FSID.cephfs=$path" "$mnt" \
		-o "mon_addr=$CEPH_MON_ADDR,ms_mode=crc,secret=$CEPH_ADMIN_KEY"
	echo "$mnt" >>"$DIR/mounts"
	say "CephFS $path mounted on $mnt"
}

cmd_umount_cephfs() {
	local mnt=${1:?usage: ceph.sh umount-cephfs MNT}
	umount "$mnt"
	[ ! -f "$DIR/mounts" ] || sed -i "\\|^$mnt\$|d" "$DIR/mounts"
}

cmd_check() {
	load_env
	local f=$DIR/check.obj u=$S3_ENDPOINT/$S3_BUCKET/check.obj code etag r s e
	head -c $((5 * 1048576 + 4321)) /dev/urandom >"$f"
	code=$(cmd_s3 -o /dev/null -w '%{http_code}' -T "$f" "$u")
	[ "$code" = 200 ] || die "check: PUT -> $code"
	cmp -s "$f" <(cmd_s3 "$u") || die "check: GET differs"
	for r in 0-0 0-4095 1048575-1048576 5000000-5247200; do
		s=${r%-*} e=${r#*-}
		cmp -s <(cmd_s3 -r "$r" "$u") <(tail -c +$((s + 1)) "$f" | head -c $((e - s + 1))) ||
			die "check: range $r differs"
	done
	etag=$(cmd_s3 -I "$u" | tr -d '\r' | sed -n 's/^[Ee][Tt]ag: //p')
	code=$(cmd_s3 -o /dev/null -w '%{http_code}' -H "If-Match: $etag" -r 0-9 "$u")
	[ "$code" = 206 ] || die "check: If-Match with the right ETag -> $code"
	code=$(cmd_s3 -o /dev/null -w '%{http_code}' -H 'If-Match: "0000"' -r 0-9 "$u")
	[ "$code" = 412 ] || die "check: If-Match with a wrong ETag -> $code"
	code=$(curl -s -o "$DIR/check.err" -w '%{http_code}' --aws-sigv4 "aws:amz:us-east-1:s3" \
		--user "$AWS_ACCESS_KEY_ID:wrong$AWS_SECRET_ACCESS_KEY" -H 'x-amz-content-sha256: UNSIGNED-PAYLOAD' "$u")
	if [ "$code" != 403 ] || ! grep -q SignatureDoesNotMatch "$DIR/check.err"; then
		die "check: wrong secret -> $code $(cat "$DIR/check.err")"
	fi
	code=$(curl -s -o /dev/null -w '%{http_code}' --aws-sigv4 "aws:amz:us-east-1:s3" \
		--user "$AWS_ACCESS_KEY_ID:$AWS_SECRET_ACCESS_KEY" "$u")
	[ "$code" = 403 ] || die "check: no x-amz-content-sha256 -> $code" # SignatureDoesNotMatch
	code=$(curl -s -o /dev/null -w '%{http_code}' "$u")
	[ "$code" = 403 ] || die "check: anonymous -> $code"
	cmd_s3 -o /dev/null -X DELETE "$u"
	rm -f "$f"
	say "check: S3 PUT/GET/ranges/If-Match ok; wrong secret 403, no payload hash 403, anonymous 403"
}

cmd_status() {
	local pid name
	[ -f "$PIDS" ] || die "not up"
	while read -r pid name; do
		printf '%-8s pid %-7s %s rss %s KiB\n' "$name" "$pid" \
			"$(kill -0 "$pid" 2>/dev/null && echo running || echo GONE)" \
			"$(ps -o rss= -p "$pid" 2>/dev/null | tr -d ' ' || echo -)"
	done <"$PIDS"
	ceph_cli -s
}

stop_pids() { # SIGTERM, up to 3 s, then SIGKILL
	local p alive
	for p in "$@"; do kill -TERM "$p" 2>/dev/null || true; done
	for _ in $(seq 1 30); do
		alive=0
		for p in "$@"; do kill -0 "$p" 2>/dev/null && alive=1; done
		[ $alive = 1 ] || return 0
		sleep 0.1
	done
	for p in "$@"; do kill -KILL "$p" 2>/dev/null || true; done
}

cmd_down() {
	local m p
	if [ -f "$DIR/mounts" ]; then
		while read -r m; do umount -f "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true; done <"$DIR/mounts"
		rm -f "$DIR/mounts"
	fi
	[ -f "$PIDS" ] || return 0
	# a throwaway cluster: SIGTERM to all, SIGKILL to what is left after 3 s;
	# only PIDs that are still Ceph daemons (a stale file must not kill others)
	# shellcheck disable=SC2046
	stop_pids $(while read -r p _; do
		case "$(ps -o comm= -p "$p" 2>/dev/null)" in ceph-* | radosgw) echo "$p" ;; esac
	done <"$PIDS")
	rm -f "$PIDS"
	say "stopped"
}

case "${1:-}" in
up | down | env | check | status | s3)
	c=$1
	shift
	"cmd_$c" "$@"
	;;
mount-cephfs | umount-cephfs)
	c=${1//-/_}
	shift
	"cmd_$c" "$@"
	;;
*)
	sed -n '3,/^set -e/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2
	exit 2
	;;
esac
