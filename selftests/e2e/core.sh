#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# Core end-to-end tests (issue 2), run inside the VM by selftests/run-check:
#   vm-run --disk c0:256 --disk c1:256 --disk small:8 --disk o0:128 core.sh
source "$RCACHE_TOP/selftests/lib.sh"

C0=$(disk 0)
C1=$(disk 1)
SMALL=$(disk 2)
O0=$(disk 3)
MiB=$((1024 * 1024))
mkdir -p /data
ORIGIN=/data/img
ORIGIN_SIZE=$((40 * MiB))
make_origin $ORIGIN $ORIGIN_SIZE 1
ORIGIN_SHA=$(sha_file $ORIGIN)
load_module || t_fail module-load "insmod dm-rcache.ko failed"

# wipe DEV: fresh cache contents (zeros), so stale data cannot pass a check
wipe() {
	dd if=/dev/zero of="$1" bs=1M count=8 oflag=direct status=none 2>/dev/null || true
}

# These tests are about one life of a device: each starts on blank caches
# (persistence has its own group, persist.sh).
t_after() {
	wipe $C0
	wipe $C1
}

test_cold_warm_sha() {
	wipe $C0
	start_daemon
	rcachectl create cw --origin file://$ORIGIN --cache $C0
	[ -b /dev/mapper/cw ] || die "/dev/mapper/cw missing after create"
	assert_eq "$(field cw total_blocks)" 40 "total_blocks"
	assert_eq "$(sha_dev /dev/mapper/cw $ORIGIN_SIZE)" "$ORIGIN_SHA" "cold sha256"
	assert_eq "$(field cw cached_blocks)" 40 "cached after cold read"
	local misses fetched
	misses=$(field cw read_misses)
	assert_ge "$misses" 1 "cold misses"
	drop_caches
	assert_eq "$(sha_dev /dev/mapper/cw $ORIGIN_SIZE)" "$ORIGIN_SHA" "warm sha256"
	assert_eq "$(field cw read_misses)" "$misses" "misses after warm pass (no new fetches)"
	assert_ge "$(field cw read_hits)" 1 "warm hits"
	assert_eq "$(field cw fetch_errors)" 0 "fetch errors"
	rcachectl remove cw
	[ ! -e /dev/mapper/cw ] || die "/dev/mapper/cw left after remove"
	stop_daemon
}

test_concurrent_readers() {
	wipe $C1
	start_daemon
	rcachectl create cr --origin file://$ORIGIN --cache $C1 --block-size 64K
	# cold: 16 threads racing on misses, O_DIRECT so every read reaches dm
	rangecheck /dev/mapper/cr $ORIGIN 16 150 300000 7 direct
	# buffered readers too, over what is now partly warm
	rangecheck /dev/mapper/cr $ORIGIN 16 100 1000000 8
	assert_eq "$(field cr fetch_errors)" 0 "fetch errors"
	assert_eq "$(field cr fetches_inflight)" 0 "fetches left in flight"
	rcachectl remove cr
	stop_daemon
}

test_odd_sizes() {
	local size bs name
	start_daemon
	for spec in "$((5 * MiB + 1536)):64K" "$((3 * MiB + 777)):1M" "$((2 * MiB + 4096 + 512)):4K"; do
		size=${spec%%:*}
		bs=${spec##*:}
		name=odd$size
		make_origin /data/odd $size $size
		wipe $C0
		rcachectl create $name --origin file:///data/odd --cache $C0 --block-size $bs
		assert_eq "$(sha_dev /dev/mapper/$name $size)" "$(sha_file /data/odd)" "sha256 of $size-byte origin ($bs blocks)"
		# what lies past the origin's end, up to the device's end, reads as zeros
		local devsize tail
		devsize=$(blockdev --getsize64 /dev/mapper/$name)
		assert_ge "$devsize" "$size" "device size"
		tail=$(tail -c $((devsize - size)) /dev/mapper/$name | tr -d '\0' | wc -c)
		assert_eq "$tail" 0 "non-zero bytes past the origin's end"
		drop_caches
		assert_eq "$(sha_dev /dev/mapper/$name $size)" "$(sha_file /data/odd)" "warm sha256 of $size"
		rcachectl remove $name
	done
	stop_daemon
}

# The origin is a block device that answers reads slowly (dm-delay), so
# fetches are in flight when the daemon dies.
setup_slow_origin() {
	dd if=$ORIGIN of=$O0 bs=1M oflag=direct status=none
	dmsetup create slow --table "0 $((ORIGIN_SIZE / 512)) delay $O0 0 400"
	dmsetup mknodes slow
}

test_kill9_restart() {
	local pids=() i
	setup_slow_origin
	wipe $C0
	start_daemon
	# no prefetch: the readers must still wait on their own misses at the kill
	rcachectl create k9 --origin file:///dev/mapper/slow --cache $C0 --daemon-timeout 60 --no-prefetch
	for i in 0 1 2 3 4 5; do
		dd if=/dev/mapper/k9 of=/data/k9.$i bs=1M skip=$((i * 6)) count=6 iflag=direct status=none &
		pids+=($!)
	done
	sleep 1
	assert_ge "$(field k9 fetches_inflight)" 1 "fetches in flight before the kill"
	kill9_daemon
	sleep 2
	for i in "${pids[@]}"; do
		kill -0 $i 2>/dev/null || die "a reader finished while no daemon was there"
	done
	assert_eq "$(field k9 daemon)" absent "daemon state after kill -9"
	start_daemon
	for i in "${!pids[@]}"; do
		wait ${pids[$i]} || die "reader $i failed after the daemon came back"
	done
	for i in 0 1 2 3 4 5; do
		assert_eq "$(sha_file /data/k9.$i)" \
			"$(dd if=$ORIGIN bs=1M skip=$((i * 6)) count=6 status=none | sha256sum | cut -d' ' -f1)" \
			"bytes of reader $i"
	done
	assert_eq "$(field k9 fetch_errors)" 0 "fetch errors"
	assert_eq "$(field k9 fetches_inflight)" 0 "fetches in flight after recovery"
	assert_eq "$(sha_dev /dev/mapper/k9 $ORIGIN_SIZE)" "$ORIGIN_SHA" "whole device after recovery"
	rcachectl remove k9
	stop_daemon
	dmsetup remove --retry slow
}

test_daemon_timeout() {
	local t0 t1
	wipe $C0
	rcachectl create to --origin file://$ORIGIN --cache $C0 --daemon-timeout 3
	t0=$(date +%s%N)
	if dd if=/dev/mapper/to of=/dev/null bs=4k count=1 iflag=direct status=none 2>/data/to.err; then
		die "read succeeded with no daemon"
	fi
	t1=$(date +%s%N)
	grep -q "Input/output error" /data/to.err || die "expected EIO, got: $(cat /data/to.err)"
	assert_ge $(((t1 - t0) / 1000000)) 2500 "ms before EIO (daemon_timeout 3)"
	assert_le $(((t1 - t0) / 1000000)) 8000 "ms before EIO (daemon_timeout 3)"
	assert_ge "$(field to fetch_errors)" 1 "fetch errors"
	rcachectl remove to
}

test_fail_fast() {
	local t0 t1
	wipe $C0
	rcachectl create ff --origin file://$ORIGIN --cache $C0 --fail-fast
	t0=$(date +%s%N)
	assert_fails "read with no daemon and fail_fast" \
		dd if=/dev/mapper/ff of=/dev/null bs=4k count=1 iflag=direct
	t1=$(date +%s%N)
	assert_le $(((t1 - t0) / 1000000)) 1500 "ms before EIO with fail_fast"
	# fail_fast also fails what was queued when the daemon dies
	start_daemon
	setup_slow_origin
	rcachectl remove ff
	wipe $C0	# another origin: a fresh cache
	rcachectl create ff --origin file:///dev/mapper/slow --cache $C0 --fail-fast
	dd if=/dev/mapper/ff of=/dev/null bs=1M count=20 iflag=direct status=none 2>/dev/null &
	local reader=$!
	sleep 1
	kill9_daemon
	t0=$(date +%s%N)
	if wait $reader; then die "reader succeeded although the daemon died (fail_fast)"; fi
	t1=$(date +%s%N)
	assert_le $(((t1 - t0) / 1000000)) 3000 "ms before queued misses failed (fail_fast)"
	rcachectl remove ff
	dmsetup remove --retry slow
}

# Part of the origin is unreadable (dm-error in the middle of a dm table).
test_origin_read_error() {
	local half=$((ORIGIN_SIZE / 512 / 2))
	dd if=$ORIGIN of=$O0 bs=1M oflag=direct status=none
	dmsetup create holey --table "0 $half linear $O0 0
$half 2048 error
$((half + 2048)) $((half - 2048)) linear $O0 $((half + 2048))"
	dmsetup mknodes holey
	wipe $C0
	start_daemon
	rcachectl create re --origin file:///dev/mapper/holey --cache $C0
	assert_fails "read of the unreadable block" \
		dd if=/dev/mapper/re of=/dev/null bs=1M skip=20 count=1 iflag=direct
	assert_ge "$(field re fetch_errors)" 1 "fetch_errors after the origin error"
	grep -q "origin file:///dev/mapper/holey: read of bytes 20971520-22020095 (block 20) failed: Input/output error" \
		"$LOGS/rcached.log" || die "rcached did not log origin, range and errno"
	# every other block is still served, byte-exact
	assert_eq "$(dd if=/dev/mapper/re bs=1M count=20 iflag=direct status=none | sha256sum | cut -d' ' -f1)" \
		"$(head -c $((20 * MiB)) $ORIGIN | sha256sum | cut -d' ' -f1)" "blocks before the hole"
	assert_eq "$(dd if=/dev/mapper/re bs=1M skip=21 iflag=direct status=none | sha256sum | cut -d' ' -f1)" \
		"$(tail -c $((19 * MiB)) $ORIGIN | sha256sum | cut -d' ' -f1)" "blocks after the hole"
	# the failed block stays invalid: asking again fetches (and fails) again
	local errs
	errs=$(field re fetch_errors)
	assert_fails "second read of the unreadable block" \
		dd if=/dev/mapper/re of=/dev/null bs=1M skip=20 count=1 iflag=direct
	assert_ge "$(field re fetch_errors)" $((errs + 1)) "fetch_errors after a second try"
	rcachectl remove re
	dmsetup remove --retry holey
	stop_daemon
}

# The origin file is truncated under the device: the daemon notices the
# version change, fences the device; cached blocks are still served.
test_origin_truncated() {
	cp $ORIGIN /data/trunc
	wipe $C0
	start_daemon
	# no prefetch: block 30 must still be a miss after the first 8 are read
	rcachectl create tr --origin file:///data/trunc --cache $C0 --no-prefetch
	dd if=/dev/mapper/tr of=/data/tr.head bs=1M count=8 iflag=direct status=none
	truncate -s $((10 * MiB)) /data/trunc
	sleep 1.2	# the daemon re-checks the origin's identity at most once a second
	assert_fails "read past the truncation" \
		dd if=/dev/mapper/tr of=/dev/null bs=1M skip=30 count=1 iflag=direct
	assert_ge "$(field tr fetch_errors)" 1 "fetch_errors"
	assert_eq "$(field tr mode)" stale "mode after the origin changed"
	grep -q "origin file:///data/trunc changed" "$LOGS/rcached.log" || die "no clear message in the daemon log"
	dmesg | grep -q "origin file:///data/trunc: device is stale" || die "no clear message in the kernel log"
	assert_eq "$(dd if=/dev/mapper/tr bs=1M count=8 iflag=direct status=none | sha256sum | cut -d' ' -f1)" \
		"$(sha_file /data/tr.head)" "cached blocks after the fence"
	rcachectl remove tr
	stop_daemon
}

# bad_table NAME "TABLE" "KERNEL MESSAGE"
bad_table() {
	local name=$1 table=$2 msg=$3
	dmesg -C
	if dmsetup create "$name" --table "$table" 2>/dev/null; then
		dmsetup remove "$name"
		die "table accepted: $table"
	fi
	dmesg | grep -qF "rcache: $msg" || die "kernel message '$msg' missing for: $table ($(dmesg | grep rcache | tail -n 1))"
	dmsetup info "$name" >/dev/null 2>&1 && die "device $name left behind"
	return 0
}

test_bad_tables() {
	local cdev len=$((ORIGIN_SIZE / 512)) u=file://$ORIGIN
	cdev=$(printf '%d:%d' $((0x$(stat -L -c %t $C0))) $((0x$(stat -L -c %T $C0))))
	bad_table b1 "0 $len rcache $cdev $u" "Invalid number of arguments"
	bad_table b2 "0 $len rcache $cdev $u 1000" "Invalid block size"
	bad_table b3 "0 $len rcache $cdev $u 4" "Invalid block size"
	bad_table b4 "0 $len rcache $cdev $u 262144" "Invalid block size"
	bad_table b5 "0 $len rcache /dev/nonexistent $u 2048" "Cannot open cache device"
	bad_table b6 "0 $len rcache $SMALL $u 2048" "Cache device too small"
	bad_table b7 "0 $len rcache $cdev $u 2048 2 origin_size 1048576" "Target length exceeds origin_size"
	bad_table b8 "0 $len rcache $cdev $u 2048 1 bogus" "Unknown optional argument"
	bad_table b9 "0 $len rcache $cdev http//x 2048" "Invalid origin URL"
	bad_table b10 "0 $len rcache $cdev file://relative/x 2048" "Invalid origin URL"
	bad_table b11 "0 $len rcache $cdev $u 2048 2 daemon_timeout 0" "Invalid daemon_timeout"
	bad_table b12 "0 $len rcache $cdev $u 2048 3 fail_fast" "Invalid number of optional arguments"
	bad_table b13 "0 $len rcache $cdev $u 2048 1 daemon_timeout" "Optional argument is missing its value"
}

# cli_refuses NAME "MESSAGE" ARGS...: rcachectl create fails with a one-line
# message saying why, and no device appears
cli_refuses() {
	local name=$1 msg=$2 out before
	shift 2
	before=$(dmsetup ls)
	if out=$(rcachectl create "$name" "$@" 2>&1); then
		rcachectl remove "$name"
		die "rcachectl create accepted: $*"
	fi
	[ "$(echo "$out" | wc -l)" -eq 1 ] || die "expected one line, got: $out"
	echo "$out" | grep -qF -- "$msg" || die "expected '$msg', got: $out"
	assert_eq "$(dmsetup ls)" "$before" "devices after a refused create"
	[ -e "/dev/mapper/$name" ] && [ "$(dmsetup ls | grep -c "^$name\s")" = 0 ] &&
		die "/dev/mapper/$name left behind"
	return 0
}

test_cli_bad_input() {
	cli_refuses c1 "origin file:///data/nonexistent: No such file or directory" \
		--origin file:///data/nonexistent --cache $C0
	cli_refuses c2 "unsupported scheme" --origin ftp://host/x --cache $C0
	cli_refuses c3 "file:// needs an absolute path" --origin file://data/img --cache $C0
	cli_refuses c4 "cache device /dev/nonexistent: No such file or directory" \
		--origin file://$ORIGIN --cache /dev/nonexistent
	cli_refuses c5 "is too small" --origin file://$ORIGIN --cache $SMALL
	cli_refuses c6 "must be a power of two" --origin file://$ORIGIN --cache $C0 --block-size 3000
	cli_refuses c7 "must be a power of two" --origin file://$ORIGIN --cache $C0 --block-size 128M
	cli_refuses c8 "not a block device" --origin file://$ORIGIN --cache /data/img
	cli_refuses c9 "not a regular file or block device" --origin file:///data --cache $C0
	rcachectl create dup --origin file://$ORIGIN --cache $C0
	cli_refuses dup "already exists" --origin file://$ORIGIN --cache $C1
	rcachectl remove dup
	# a cache device another rcache device uses
	rcachectl create own --origin file://$ORIGIN --cache $C0
	cli_refuses other "in use" --origin file://$ORIGIN --cache $C0
	rcachectl remove own
}

test_unprivileged_netlink() {
	local out
	out=$(setpriv --reuid=65534 --regid=65534 --clear-groups nlprobe perm) ||
		die "a non-root process was not refused: $out"
	echo "$out"
	# CAP_NET_ADMIN (what GENL_ADMIN_PERM checks) is not enough
	out=$(setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=+net_admin \
		--ambient-caps=+net_admin nlprobe perm) ||
		die "a process with only CAP_NET_ADMIN was not refused: $out"
	# and a root process that is not the daemon cannot complete requests
	wipe $C0
	rcachectl create np --origin file://$ORIGIN --cache $C0
	local before after
	before=$(field np stale_replies)
	assert_ne "$(nlprobe reply 1 0)" 0 "FETCH_DONE from a process that is not the daemon"
	after=$(field np stale_replies)
	assert_eq "$after" $((before + 1)) "stale_replies after a reply from a stranger"
	rcachectl remove np
}

test_writes_fail() {
	local cache_sha origin_sha
	wipe $C0
	start_daemon
	rcachectl create wr --origin file://$ORIGIN --cache $C0
	cat /dev/mapper/wr >/dev/null
	flush_dev /dev/mapper/wr	# commits the metadata now
	cache_sha=$(sha_file $C0)
	origin_sha=$(sha_file $ORIGIN)
	assert_fails "write to the rcachectl device" \
		dd if=/dev/zero of=/dev/mapper/wr bs=4k count=4 oflag=direct conv=notrunc
	assert_eq "$(blockdev --getro /dev/mapper/wr)" 1 "read-only flag"
	rcachectl remove wr
	# a plain read-write dmsetup table: the target itself refuses
	local cdev table
	cdev=$(printf '%d:%d' $((0x$(stat -L -c %t $C0))) $((0x$(stat -L -c %T $C0))))
	dmsetup create wr2 --table "0 $((ORIGIN_SIZE / 512)) rcache $cdev file://$ORIGIN 2048"
	dmsetup mknodes wr2
	assert_eq "$(blockdev --getro /dev/mapper/wr2)" 0 "dmsetup table is read-write"
	assert_fails "write through a read-write table" \
		dd if=/dev/zero of=/dev/mapper/wr2 bs=4k count=4 oflag=direct conv=notrunc
	assert_fails "discard" blkdiscard /dev/mapper/wr2
	dmesg | grep -q "rejected: device is read-only" || die "no kernel message for the write"
	assert_eq "$(sha_dev /dev/mapper/wr2 $ORIGIN_SIZE)" "$ORIGIN_SHA" "device after writes"
	dmsetup remove wr2
	assert_eq "$(sha_file $C0)" "$cache_sha" "cache device after writes"
	assert_eq "$(sha_file $ORIGIN)" "$origin_sha" "origin after writes"
	stop_daemon
}

test_two_devices_and_dmsetup() {
	make_origin /data/img2 $((24 * MiB + 4096)) 2
	wipe $C0
	wipe $C1
	start_daemon
	rcachectl create a --origin file://$ORIGIN --cache $C0
	# the plain dmsetup way, the table spelled by hand
	local cdev
	cdev=$(printf '%d:%d' $((0x$(stat -L -c %t $C1))) $((0x$(stat -L -c %T $C1))))
	dmsetup create b --table "0 $(((24 * MiB + 4096) / 512)) rcache $cdev file:///data/img2 128"
	dmsetup mknodes b
	sha_dev /dev/mapper/a $ORIGIN_SIZE >/data/a.sha &
	local reader=$!
	sha_dev /dev/mapper/b $((24 * MiB + 4096)) >/data/b.sha
	wait $reader
	assert_eq "$(cat /data/a.sha)" "$ORIGIN_SHA" "device a"
	assert_eq "$(cat /data/b.sha)" "$(sha_file /data/img2)" "device b (dmsetup create)"
	assert_eq "$(rcachectl list | wc -l)" 2 "rcachectl list"
	assert_eq "$(rcachectl table b)" "0 $(((24 * MiB + 4096) / 512)) rcache $cdev file:///data/img2 128" "table b"
	rcachectl status --json | python3 -c 'import json,sys; d=json.load(sys.stdin); assert len(d) == 2, d'
	rcachectl remove a
	dmsetup remove b
	stop_daemon
}

test_status_fields() {
	wipe $C0
	rcachectl create st --origin file://$ORIGIN --cache $C0 --daemon-timeout 7
	rcachectl status st --json | python3 -c '
import json, sys
d = json.load(sys.stdin)
need = ["name", "origin", "cache_dev", "block_size", "size_bytes", "cached_blocks",
        "total_blocks", "read_hits", "read_misses", "fetches_inflight", "fetch_errors", "daemon"]
missing = [k for k in need if k not in d]
assert not missing, missing
assert d["name"] == "st" and d["block_size"] == 1048576 and d["total_blocks"] == 40, d
assert d["daemon"] in ("connected", "absent"), d
assert d["daemon_timeout"] == 7, d
'
	# dmsetup status: the documented positional fields
	local -a f
	read -r -a f <<<"$(dmsetup status st)"
	assert_eq "${#f[@]}" 24 "dmsetup status field count"
	assert_eq "${f[2]}" rcache "target"
	assert_eq "${f[3]}" 2048 "block_sectors"
	assert_eq "${f[4]}" 0/40 "cached/total"
	assert_eq "${f[11]}" "$(field st daemon)" "daemon"
	assert_eq "${f[13]}" ready "mode"
	rcachectl remove st
}

test_stale_and_lost_replies() {
	wipe $C0
	rcachectl create fk --origin file://$ORIGIN --cache $C0
	local stale0
	stale0=$(field fk stale_replies)
	# a daemon that answers EIO, then the same id again, then an unknown id
	nlprobe fake-daemon eio 1 >/data/fake.out &
	local fake=$!
	sleep 0.5
	assert_fails "read answered with EIO" dd if=/dev/mapper/fk of=/dev/null bs=4k count=1 iflag=direct
	wait $fake
	cat /data/fake.out
	grep -q "^reply 0" /data/fake.out || die "first FETCH_DONE not accepted"
	grep -q "^again 2" /data/fake.out || die "repeated FETCH_DONE not refused with ENOENT"
	grep -q "^unknown 2" /data/fake.out || die "unknown FETCH_DONE not refused with ENOENT"
	assert_eq "$(field fk stale_replies)" $((stale0 + 2)) "stale replies counted"
	assert_eq "$(field fk fetch_errors)" 1 "fetch_errors after the EIO reply"
	assert_eq "$(field fk cached_blocks)" 0 "block stays invalid after an error"
	# a daemon that takes a request and dies without answering: re-sent
	nlprobe fake-daemon drop 1 >/data/fake.out &
	fake=$!
	sleep 0.5
	dd if=/dev/mapper/fk of=/data/fk.blk bs=1M skip=5 count=1 iflag=direct status=none &
	local reader=$!
	wait $fake
	sleep 0.5
	kill -0 $reader 2>/dev/null || die "reader finished although nobody filled the block"
	start_daemon
	wait $reader || die "reader failed after the request was re-sent"
	assert_eq "$(sha_file /data/fk.blk)" "$(dd if=$ORIGIN bs=1M skip=5 count=1 status=none | sha256sum | cut -d' ' -f1)" "re-sent block"
	rcachectl remove fk
	stop_daemon
}

test_suspend_without_daemon() {
	wipe $C0
	rcachectl create sp --origin file://$ORIGIN --cache $C0
	dd if=/dev/mapper/sp of=/data/sp.blk bs=1M skip=3 count=1 iflag=direct status=none &
	local reader=$!
	sleep 0.5
	# noflush suspend hands the parked bio back to dm; it is retried on resume
	timeout 10 dmsetup suspend --noflush sp || die "noflush suspend hung"
	kill -0 $reader 2>/dev/null || die "reader ended at a noflush suspend"
	dmsetup resume sp
	start_daemon
	wait $reader || die "requeued read failed"
	assert_eq "$(sha_file /data/sp.blk)" "$(dd if=$ORIGIN bs=1M skip=3 count=1 status=none | sha256sum | cut -d' ' -f1)" "requeued block"
	stop_daemon
	dd if=/dev/mapper/sp of=/dev/null bs=1M skip=7 count=1 iflag=direct status=none 2>/dev/null &
	reader=$!
	sleep 0.5
	timeout 10 dmsetup suspend sp || die "suspend hung with no daemon"
	if wait $reader; then die "read succeeded with no daemon"; fi
	dmsetup resume sp
	rcachectl remove sp
}

# Kernel nfsd in the guest exports a tmpfs directory over 127.0.0.1.
test_nfs_origin() {
	modprobe nfsd
	mkdir -p /export /mnt/nfs /proc/fs/nfsd /var/lib/nfs/v4recovery
	mountpoint -q /export || mount -t tmpfs -o size=200M export /export
	mountpoint -q /proc/fs/nfsd || mount -t nfsd nfsd /proc/fs/nfsd
	make_origin /export/ds.img $((33 * MiB + 512)) 9
	# fsid=0: /export is the NFSv4 root (the guest's / is an overlay, not exportable)
	echo "/export 127.0.0.1(ro,no_root_squash,insecure,fsid=0,no_subtree_check)" >/etc/exports
	rpcbind -w 2>/dev/null || rpcbind
	exportfs -ra
	rpc.nfsd -N 3 8
	rpc.mountd -N 3
	timeout 60 mount -t nfs4 -o vers=4.2,ro 127.0.0.1:/ /mnt/nfs
	assert_eq "$(sha_file /mnt/nfs/ds.img)" "$(sha_file /export/ds.img)" "file over NFS"
	wipe $C1
	start_daemon
	rcachectl create nfs --origin file:///mnt/nfs/ds.img --cache $C1 --block-size 256K
	rangecheck /dev/mapper/nfs /mnt/nfs/ds.img 16 60 400000 3 direct
	assert_eq "$(sha_dev /dev/mapper/nfs $((33 * MiB + 512)))" "$(sha_file /export/ds.img)" "cold sha256 over NFS"
	local misses
	misses=$(field nfs read_misses)
	drop_caches
	assert_eq "$(sha_dev /dev/mapper/nfs $((33 * MiB + 512)))" "$(sha_file /export/ds.img)" "warm sha256 over NFS"
	assert_eq "$(field nfs read_misses)" "$misses" "misses in the warm pass"
	rcachectl remove nfs
	stop_daemon
	umount /mnt/nfs
}

test_remove_and_rmmod() {
	rcachectl create last --origin file://$ORIGIN --cache $C0
	start_daemon
	cat /dev/mapper/last >/dev/null
	stop_daemon
	dmsetup remove last
	unload_module || die "rmmod failed"
	load_module
}

TESTS=(
	cold_warm_sha256 test_cold_warm_sha
	concurrent_readers test_concurrent_readers
	odd_origin_sizes test_odd_sizes
	kill9_daemon_restart test_kill9_restart
	daemon_timeout_eio test_daemon_timeout
	fail_fast test_fail_fast
	origin_read_error test_origin_read_error
	origin_truncated test_origin_truncated
	bad_tables test_bad_tables
	cli_bad_input test_cli_bad_input
	unprivileged_netlink test_unprivileged_netlink
	writes_fail test_writes_fail
	two_devices_and_dmsetup test_two_devices_and_dmsetup
	status_fields test_status_fields
	stale_and_lost_replies test_stale_and_lost_replies
	suspend_without_daemon test_suspend_without_daemon
	nfs_origin test_nfs_origin
	remove_and_rmmod test_remove_and_rmmod
)
t_run_all "$@"
cleanup_devices
exit 0
