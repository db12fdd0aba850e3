#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# rcached against the real module, one VM boot (issue 11, daemon side):
#   vm-run --disk c0:64 --disk c1:64 --disk c2:64 daemon.sh [TEST...]
# - a stopping daemon's cache writes all land before its socket closes;
# - an NFS origin whose server stops stalls only its own device;
# - rcached in a network namespace other than the host's says so.
source "$RCACHE_TOP/selftests/lib.sh"

C0=$(disk 0)
C1=$(disk 1)
C2=$(disk 2)
MiB=$((1024 * 1024))
mkdir -p /data
load_module || t_fail module-load "insmod dm-rcache.ko failed"

now_ms() {
	echo $(($(date +%s%N) / 1000000))
}

# wait_until SECONDS 'SHELL CODE': until it succeeds (evaluated each
# time); false after SECONDS
wait_until() {
	local end=$(($(now_ms) + $1 * 1000))
	until eval "$2"; do
		[ "$(now_ms)" -lt "$end" ] || return 1
		sleep 0.05
	done
}

# writes_held NAME: writes dm-delay device NAME holds now (its status
# line: reads, writes, flushes delayed; a linear table: none)
writes_held() {
	dmsetup status "$1" | awk '{ print $3 == "delay" ? $5 : 0 }'
}
# writes_done DISK: write I/Os and sectors the disk under it completed
# (fields 5 and 7 of its stat): a delayed write lands there when released
writes_done() {
	awk '{ print $5 ":" $7 }' "/sys/block/$(basename "$(readlink -f "$1")")/stat"
}

t_after() {
	# the loopback a test left dropping packets carries them again
	tc qdisc del dev lo root 2>/dev/null || true
}

# Issue 11 item 8: SIGTERM with cache writes in flight and no grace time.
# dm-delay under the cache device holds every write until the test
# releases them.  rcached must wait for every write it submitted before it
# closes its socket: while they are held it stays registered, and once they
# complete it goes, with none held and none completing afterwards.  (It used
# to close the socket at once, the writes landing after the kernel had seen
# it go, when the slot may hold another block.)  Then a new daemon finishes
# the readers' blocks, bytes checked.
test_exit_drains_cache_writes() {
	local size=$((24 * MiB)) sectors sha readers_out=$OUT/drain-readers readers i before after
	sectors=$(blockdev --getsz "$C2")
	make_origin /data/drain.img $size 21
	sha=$(sha_file /data/drain.img)
	dmsetup create slowcache --table "0 $sectors linear $C2 0"
	dmsetup mknodes slowcache
	printf '[daemon]\nstop_grace_ms = 0\n' >/data/nograce.conf
	start_daemon --config /data/nograce.conf
	# no metadata commit in the window: only the daemon writes then
	rcachectl create drain --origin file:///data/drain.img --cache /dev/mapper/slowcache \
		--block-size 256K --commit-interval 600000 --no-prefetch --daemon-timeout 600
	# formatted: from now on every write waits until the test releases it
	dmsetup suspend slowcache
	dmsetup load slowcache --table "0 $sectors delay $C2 0 0 $C2 0 600000"
	dmsetup resume slowcache
	sha_readers /dev/mapper/drain $size 8 >"$readers_out" &
	readers=$!
	wait_until 60 '[ "$(writes_held slowcache)" -gt 0 ]' || die "no cache write in flight"
	kill "$DAEMON_PID"
	sleep 3
	assert_eq "$(field drain daemon)" connected \
		"daemon registration 3 s after SIGTERM, its cache writes held"
	assert_ge "$(writes_held slowcache)" 1 "cache writes held"
	# the writes complete: only then the daemon goes
	dmsetup suspend slowcache
	dmsetup load slowcache --table "0 $sectors linear $C2 0"
	dmsetup resume slowcache
	wait_until 60 '[ "$(field drain daemon)" != connected ]' || die "the daemon stayed registered"
	before=$(writes_done "$C2")
	wait "$DAEMON_PID" 2>/dev/null || true
	DAEMON_PID=
	sleep 1
	after=$(writes_done "$C2")
	echo "cache disk writes (ios:sectors) when the daemon went: $before, after it exited: $after"
	assert_eq "$after" "$before" "cache writes completed after the daemon's socket closed"
	# what it left undone, the next daemon does
	start_daemon
	wait "$readers" || die "a reader failed"
	for i in $(seq 1 8); do
		assert_eq "$(sed -n "${i}p" "$readers_out")" "$sha" "reader $i sha256"
	done
	drop_caches
	assert_eq "$(sha_dev /dev/mapper/drain $size)" "$sha" "warm sha256"
	rcachectl remove drain
	stop_daemon
	dmsetup remove slowcache
}

# nfs_start: kernel nfsd in the guest exports the tmpfs /export over
# 127.0.0.1, mounted at /mnt/nfs (as core.sh's nfs_origin does).  No
# delegations (leases off), so that every open of a file there asks the
# server.
nfs_start() {
	modprobe nfsd
	mkdir -p /export /mnt/nfs /proc/fs/nfsd /var/lib/nfs/v4recovery
	mountpoint -q /export || mount -t tmpfs -o size=64M export /export
	mountpoint -q /proc/fs/nfsd || mount -t nfsd nfsd /proc/fs/nfsd
	echo "/export 127.0.0.1(ro,no_root_squash,insecure,fsid=0,no_subtree_check)" >/etc/exports
	echo 0 >/proc/sys/fs/leases-enable
	# a fresh server refuses opens for its grace period (90 s by default)
	echo 10 >/proc/fs/nfsd/nfsv4leasetime
	echo 10 >/proc/fs/nfsd/nfsv4gracetime
	rpcbind -w 2>/dev/null || rpcbind
	exportfs -ra
	rpc.nfsd -N 3 8
	rpc.mountd -N 3
	timeout 60 mount -t nfs4 -o vers=4.2,ro 127.0.0.1:/ /mnt/nfs
}

# Issue 11 item 12: two devices, one on an NFS export that then stops
# answering (the loopback drops every packet; the hard mount waits).  The
# fill loop opens and stats file origins through io_uring, so the other
# device's cold reads complete (bytes right) while the first one's open
# waits on the dead mount; once packets flow again, that one completes too.
# Before, the loop's open() of the NFS file blocked every device.
test_nfs_hang_isolated() {
	local nfs_size=$((4 * MiB)) local_size=$((12 * MiB)) hung other start ms
	nfs_start
	make_origin /export/hang.img $nfs_size 31
	make_origin /data/local.img $local_size 32
	[ "$(sha_file /mnt/nfs/hang.img)" = "$(sha_file /export/hang.img)" ] || die "file over NFS"
	start_daemon
	rcachectl create onnfs --origin file:///mnt/nfs/hang.img --cache $C0 --block-size 256K
	rcachectl create onlocal --origin file:///data/local.img --cache $C1 --block-size 256K
	modprobe sch_netem
	tc qdisc add dev lo root netem loss 100%
	(sha_dev /dev/mapper/onnfs $nfs_size >"$OUT/hang.sha" 2>&1) &
	hung=$!
	wait_until 30 '[ "$(field onnfs fetches_inflight)" -gt 0 ]' || die "no fetch for the NFS device"
	sleep 1	# the daemon took it and waits for the origin's open
	start=$(now_ms)
	(sha_dev /dev/mapper/onlocal $local_size >"$OUT/local.sha" 2>&1) &
	other=$!
	wait_until 60 "! kill -0 $other 2>/dev/null" ||
		die "the local device's cold read did not complete while the NFS one hangs"
	ms=$(($(now_ms) - start))
	wait "$other"
	echo "local device's cold read: $ms ms, while the NFS device's open waits"
	assert_eq "$(cat "$OUT/local.sha")" "$(sha_file /data/local.img)" "cold sha256 of the local device"
	assert_eq "$(field onlocal fetch_errors)" 0 "fetch errors of the local device"
	kill -0 "$hung" 2>/dev/null || die "the NFS device's read ended while its server was unreachable"
	# what hung is the open (the case the event loop used to block on)
	if grep -q "onnfs: serving origin" "$LOGS/rcached.log"; then
		die "the NFS origin's open completed while its server was unreachable"
	fi
	# packets flow again: the open and the fill complete, bytes right
	tc qdisc del dev lo root
	wait_until 90 "! kill -0 $hung 2>/dev/null" ||
		die "the NFS device's read did not complete once its server answered again"
	wait "$hung"
	assert_eq "$(cat "$OUT/hang.sha")" "$(sha_file /export/hang.img)" "sha256 of the NFS device"
	rcachectl remove onnfs
	rcachectl remove onlocal
	stop_daemon
	umount /mnt/nfs
}

# Issue 11 item 13: dm-rcache's netlink family exists only in the initial
# network namespace; rcached started in another one fails with one line
# that says so and names the fix.
test_netns_message() {
	local rc=0
	unshare -n rcached >"$OUT/netns.log" 2>&1 || rc=$?
	cat "$OUT/netns.log"
	assert_ne "$rc" 0 "exit status of rcached in another network namespace"
	assert_contains "$OUT/netns.log" "network namespace other than the host's" "the cause"
	assert_contains "$OUT/netns.log" "hostNetwork: true" "the fix"
	assert_eq "$(grep -c 'network namespace' "$OUT/netns.log")" 1 "lines saying so"
	# in the host's namespace it registers as usual
	start_daemon
	stop_daemon
}

TESTS=(
	exit_drains_cache_writes test_exit_drains_cache_writes
	nfs_hang_isolated test_nfs_hang_isolated
	netns_message test_netns_message
)
t_run_all "$@"
