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

# field NAME KEY, as lib.sh's, without starting python for a number or a
# word (python's start-up is most of a status read under TCG)
field() {
	case $2 in
	reason | origin | name | cache_dev | health_reason | gpus | pci_* | cached_percent | hit_ratio)
		rcachectl status "$1" --json | python3 -c "import json,sys; v=json.load(sys.stdin)['$2']; print(str(v).lower() if isinstance(v,bool) else v)"
		;;
	*)
		rcachectl status "$1" --json | grep -o "\"$2\":[^,}]*" | head -n 1 | cut -d: -f2- | tr -d '"'
		;;
	esac
}

# dev_numbers DEV: "major:minor", as tables and the status name devices
dev_numbers() {
	printf '%d:%d' $((0x$(stat -L -c %t "$1"))) $((0x$(stat -L -c %T "$1")))
}

now_ms() {
	echo $(($(date +%s%N) / 1000000))
}

# sha_blocks DEV SKIP COUNT: sha256 of COUNT MiB from MiB SKIP of DEV
sha_blocks() {
	dd if="$1" bs=1M skip="$2" count="$3" iflag=direct status=none | sha256sum | cut -d' ' -f1
}

# wait_for_daemon NAME: until the device sees a registered daemon (a fake
# one from nlprobe, which prints nothing when it registers)
wait_for_daemon() {
	local i
	for i in $(seq 1 50); do
		[ "$(dmfield "$1" daemon)" = connected ] && return 0
		sleep 0.1
	done
	die "no daemon registered"
}

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
#   setup_slow_origin [DELAY_MS [SLOW_MIB]]: every read delayed by DELAY_MS
#   (400), or only those of the first SLOW_MIB MiB, the rest at full speed
setup_slow_origin() {
	local ms=${1:-400} slow=$((${2:-$((ORIGIN_SIZE / MiB))} * 2048)) all=$((ORIGIN_SIZE / 512))
	dd if=$ORIGIN of=$O0 bs=1M oflag=direct status=none
	if [ $slow -lt $all ]; then
		dmsetup create slow --table "0 $slow delay $O0 0 $ms
$slow $((all - slow)) linear $O0 $slow"
	else
		dmsetup create slow --table "0 $all delay $O0 0 $ms"
	fi
	dmsetup mknodes slow
}

# origin_fast: the slow origin answers at full speed from now on (the reads
# dm-delay holds complete at the switch)
origin_fast() {
	dmsetup load slow --table "0 $((ORIGIN_SIZE / 512)) linear $O0 0"
	dmsetup resume slow
}

test_kill9_restart() {
	local pids=() i
	# the readers' blocks take a minute to read: however slow this host,
	# they are waiting at the kill; after it, the origin is made fast
	setup_slow_origin 60000 12
	wipe $C0
	start_daemon
	# no prefetch: the readers must still wait on their own misses at the kill
	rcachectl create k9 --origin file:///dev/mapper/slow --cache $C0 --daemon-timeout 60 --no-prefetch
	for i in 0 1 2 3 4 5; do
		dd if=/dev/mapper/k9 of=/data/k9.$i bs=1M skip=$((i * 2)) count=2 iflag=direct status=none &
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
	local stale
	stale=$(field k9 stale_replies)
	origin_fast
	start_daemon
	for i in "${!pids[@]}"; do
		wait ${pids[$i]} || die "reader $i failed after the daemon came back"
	done
	# every re-sent request was completed once: no reply was refused as
	# stale (a doubled or late completion would be)
	assert_eq "$(field k9 stale_replies)" "$stale" "stale replies after the restart"
	for i in 0 1 2 3 4 5; do
		assert_eq "$(sha_file /data/k9.$i)" \
			"$(dd if=$ORIGIN bs=1M skip=$((i * 2)) count=2 status=none | sha256sum | cut -d' ' -f1)" \
			"bytes of reader $i"
	done
	assert_eq "$(field k9 fetch_errors)" 0 "fetch errors"
	assert_eq "$(field k9 fetches_inflight)" 0 "fetches in flight after recovery"
	assert_eq "$(sha_dev /dev/mapper/k9 $ORIGIN_SIZE)" "$ORIGIN_SHA" "whole device after recovery"
	rcachectl remove k9
	stop_daemon
	dmsetup remove --retry slow
}

# read_mib DEV FIRST COUNT OUT: reads COUNT MiBs from MiB FIRST with O_DIRECT,
# one after another, and writes "ERRNO START_MS END_MS" to OUT (ERRNO 0 when
# all succeeded; wall clock in ms).  The reader takes the times itself, so
# the start-up and wake-up of processes on a loaded host do not count.
read_mib() {
	python3 - "$@" <<'PY'
import mmap, os, sys, time
dev, first, count, out = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
fd = os.open(dev, os.O_RDONLY | os.O_DIRECT)
buf = mmap.mmap(-1, 1 << 20)
err, start = 0, time.time()
for b in range(first, first + count):
    try:
        os.preadv(fd, [buf], b << 20)
    except OSError as e:
        err = e.errno
        break
end = time.time()
with open(out + ".tmp", "w") as f:
    f.write("%d %d %d\n" % (err, start * 1000, end * 1000))
os.rename(out + ".tmp", out)
PY
}

# wait_misses NAME N: until device NAME counted N read misses
wait_misses() {
	local i
	for i in $(seq 1 300); do
		[ "$(field "$1" read_misses)" -ge "$2" ] && return 0
		sleep 0.1
	done
	die "$1: fewer than $2 misses: $(field "$1" read_misses)"
}

# kill -9 with readers blocked on misses, and no daemon comes back: the
# reads fail with EIO once daemon_timeout has passed since the daemon left
# (not since the reads began), cached blocks are still served meanwhile,
# and the device and the module can be removed afterwards.
test_kill9_no_restart() {
	local pids=() i t0 ms timeout=4 err start end
	# the readers' blocks take a minute to read: waiting at the kill
	setup_slow_origin 60000 8
	wipe $C0
	start_daemon
	rcachectl create k9n --origin file:///dev/mapper/slow --cache $C0 \
		--daemon-timeout $timeout --no-prefetch
	dd if=/dev/mapper/k9n of=/dev/null bs=1M skip=39 count=1 iflag=direct status=none
	for i in 0 1 2 3; do
		read_mib /dev/mapper/k9n $((i * 2)) 2 /data/k9n.$i &
		pids+=($!)
	done
	wait_misses k9n 5	# block 39, and each reader's first block
	assert_eq "$(field k9n fetches_inflight)" 4 "fetches in flight before the kill"
	t0=$(now_ms)
	kill9_daemon
	sleep 1
	for i in 0 1 2 3; do
		[ ! -e /data/k9n.$i ] || die "reader $i ended within 1 s of the kill: $(cat /data/k9n.$i)"
	done
	# hits need no daemon
	assert_eq "$(timeout 20 dd if=/dev/mapper/k9n bs=1M skip=39 count=1 iflag=direct status=none |
		sha256sum | cut -d' ' -f1)" \
		"$(dd if=$ORIGIN bs=1M skip=39 count=1 status=none | sha256sum | cut -d' ' -f1)" \
		"cached block with no daemon"
	for i in "${!pids[@]}"; do
		timeout 60 tail --pid=${pids[$i]} -f /dev/null || die "reader $i still blocked a minute after the kill"
	done
	for i in 0 1 2 3; do
		read -r err start end </data/k9n.$i
		assert_eq "$err" 5 "errno of reader $i (EIO)"
		ms=$((end - t0))
		echo "reader $i failed ${ms} ms after the kill (daemon_timeout $timeout s)"
		assert_ge $ms $((timeout * 1000 - 100)) "ms from the kill to EIO (reader $i)"
		assert_le $ms $((timeout * 1000 + 3000)) "ms from the kill to EIO (reader $i)"
	done
	assert_eq "$(field k9n fetch_errors)" 4 "fetch errors"
	assert_eq "$(field k9n fetches_inflight)" 0 "fetches left in flight"
	assert_eq "$(field k9n daemon)" absent "daemon state"
	timeout 60 dmsetup remove k9n || die "dmsetup remove failed after the timeouts"
	origin_fast	# ends the dead daemon's origin reads, which hold it open
	dmsetup remove --retry slow
	timeout 60 rmmod dm_rcache || die "rmmod failed after the timeouts"
	load_module
}

test_daemon_timeout() {
	local err start end
	wipe $C0
	rcachectl create to --origin file://$ORIGIN --cache $C0 --daemon-timeout 3
	read_mib /dev/mapper/to 0 1 /data/to
	read -r err start end </data/to
	assert_eq "$err" 5 "errno of a read with no daemon (EIO)"
	assert_ge $((end - start)) 2900 "ms before EIO (daemon_timeout 3)"
	assert_le $((end - start)) 6000 "ms before EIO (daemon_timeout 3)"
	assert_ge "$(field to fetch_errors)" 1 "fetch errors"
	rcachectl remove to
}

test_fail_fast() {
	local t0 err start end
	wipe $C0
	rcachectl create ff --origin file://$ORIGIN --cache $C0 --fail-fast
	read_mib /dev/mapper/ff 0 1 /data/ff.1
	read -r err start end </data/ff.1
	assert_eq "$err" 5 "errno of a read with no daemon and fail_fast (EIO)"
	assert_le $((end - start)) 1500 "ms before EIO with fail_fast"
	# fail_fast also fails what was queued when the daemon dies (the origin
	# takes a minute per read: the reader is surely waiting at the kill)
	start_daemon
	setup_slow_origin 60000
	rcachectl remove ff
	wipe $C0	# another origin: a fresh cache
	rcachectl create ff --origin file:///dev/mapper/slow --cache $C0 --fail-fast
	read_mib /dev/mapper/ff 0 20 /data/ff.2 &
	local reader=$!
	wait_misses ff 1
	t0=$(now_ms)
	kill9_daemon
	wait $reader
	read -r err start end </data/ff.2
	assert_eq "$err" 5 "errno of the reader whose daemon died (fail_fast)"
	assert_le $((end - t0)) 3000 "ms before queued misses failed (fail_fast)"
	rcachectl remove ff
	origin_fast	# ends the dead daemon's origin reads, which hold it open
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
	if dd if=/dev/mapper/re of=/dev/null bs=1M skip=20 count=1 iflag=direct status=none \
		2>/data/re.err; then
		die "read of the unreadable block succeeded"
	fi
	grep -q "Input/output error" /data/re.err || die "expected EIO, got: $(cat /data/re.err)"
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
	klog_has "origin file:///data/trunc: device is stale" || die "no clear message in the kernel log"
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
	klog_has -F "rcache: $msg" || die "kernel message '$msg' missing for: $table ($(dmesg | grep rcache | tail -n 1))"
	dmsetup info "$name" >/dev/null 2>&1 && die "device $name left behind"
	return 0
}

test_bad_tables() {
	local cdev len=$((ORIGIN_SIZE / 512)) u=file://$ORIGIN
	cdev=$(dev_numbers $C0)
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

# rcachectl message NAME ARGS...: the target message dmsetup would send
# ("dmsetup message NAME 0 ARGS..."), its effect seen in rcachectl status,
# the target's answer printed (trace read); a bad message, an unknown one,
# a missing device and a device of another target: one line each, naming
# the device and the message, with the kernel's reason
test_cli_message() {
	local out i
	wipe $C0
	start_daemon
	rcachectl create msg --origin file://$ORIGIN --cache $C0 --no-prefetch
	dd if=/dev/mapper/msg of=/dev/null bs=1M count=4 iflag=direct status=none
	assert_eq "$(field msg cached_blocks)" 4 "blocks cached by reads"
	# the second block: sectors 2048-4096
	rcachectl message msg invalidate 2048-4096
	assert_eq "$(field msg cached_blocks)" 3 "blocks after 'invalidate 2048-4096'"
	assert_ne "$(field msg read_misses)" 0 "misses before clear_stats"
	rcachectl message msg clear_stats
	assert_eq "$(field msg read_misses)" 0 "misses after 'clear_stats'"
	# blocks 8 to 15, in the background
	rcachectl message msg warmup 16384-32768
	for i in $(seq 1 100); do
		[ "$(field msg cached_blocks)" = 11 ] && break
		sleep 0.2
	done
	assert_eq "$(field msg cached_blocks)" 11 "blocks after 'warmup 16384-32768'"
	assert_eq "$(sha_blocks /dev/mapper/msg 8 8)" "$(dd if=$ORIGIN bs=1M skip=8 count=8 status=none |
		sha256sum | cut -d' ' -f1)" "the warmed blocks"
	# what the README tells dmsetup users to run
	rcachectl message msg warmup stop
	assert_eq "$(field msg warmup_pending)" 0 "warm-up blocks after 'warmup stop'"
	# an answer: accesses lost, then the blocks first read since the start
	rcachectl message msg trace start
	dd if=/dev/mapper/msg of=/dev/null bs=1M skip=20 count=1 iflag=direct status=none
	assert_eq "$(rcachectl message msg trace read)" "0 20" "'trace read' answer"
	rcachectl message msg trace stop
	# refused: one line with the device, the message and the kernel's reason
	out=$(rcachectl message msg warmup bogus 2>&1) && die "'warmup bogus' accepted"
	echo "$out"
	assert_eq "$(echo "$out" | wc -l)" 1 "lines for a bad message"
	echo "$out" | grep -q "msg: .*warmup bogus.*expected warmup <begin>-<end>" ||
		die "no device, message and reason: $out"
	out=$(rcachectl message msg frobnicate 2>&1) && die "'frobnicate' accepted"
	echo "$out"
	echo "$out" | grep -q "msg: .*frobnicate.*unknown message" || die "unknown message: $out"
	out=$(rcachectl message nodev clear_stats 2>&1) && die "a missing device accepted"
	echo "$out"
	echo "$out" | grep -q "nodev: no such device" || die "missing device: $out"
	dmsetup create lin --table "0 8 zero"
	out=$(rcachectl message lin clear_stats 2>&1) && die "a zero device accepted"
	echo "$out"
	echo "$out" | grep -q "lin: not an rcache device" || die "other target: $out"
	dmsetup remove lin
	# nothing changed on the way
	assert_eq "$(field msg cached_blocks)" 12 "blocks after the refused messages"
	rcachectl remove msg
	stop_daemon
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
	cdev=$(dev_numbers $C0)
	dmsetup create wr2 --table "0 $((ORIGIN_SIZE / 512)) rcache $cdev file://$ORIGIN 2048"
	dmsetup mknodes wr2
	assert_eq "$(blockdev --getro /dev/mapper/wr2)" 0 "dmsetup table is read-write"
	assert_fails "write through a read-write table" \
		dd if=/dev/zero of=/dev/mapper/wr2 bs=4k count=4 oflag=direct conv=notrunc
	assert_fails "discard" blkdiscard /dev/mapper/wr2
	klog_has "rejected: device is read-only" || die "no kernel message for the write"
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
	cdev=$(dev_numbers $C1)
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
origin, cache, devt, size = sys.argv[1:5]
assert d["origin"] == origin, (d["origin"], origin)
assert d["cache_dev"] == cache, (d["cache_dev"], cache)
assert d["cache_devt"] == devt, (d["cache_devt"], devt)
assert d["size_bytes"] == int(size), (d["size_bytes"], size)
' file://$ORIGIN "$(readlink -f $C0)" "$(dev_numbers $C0)" $ORIGIN_SIZE
	# dmsetup status: the documented positional fields
	local -a f
	read -r -a f <<<"$(dmsetup status st)"
	assert_eq "${#f[@]}" 27 "dmsetup status field count"
	assert_eq "${f[2]}" rcache "target"
	assert_eq "${f[3]}" 2048 "block_sectors"
	assert_eq "${f[4]}" 0/40 "cached/total"
	assert_eq "${f[11]}" "$(field st daemon)" "daemon"
	assert_eq "${f[13]}" ready "mode"
	rcachectl remove st
}

# dmfield NAME KEY: a counter from dmsetup status (no python: quicker than
# field under TCG)
dmfield() {
	local -a f
	read -r -a f <<<"$(dmsetup status "$1")"
	case $2 in
	cached_blocks) echo "${f[4]%/*}" ;;
	fetches_inflight) echo "${f[9]}" ;;
	daemon) echo "${f[11]}" ;;
	stale_replies) echo "${f[12]}" ;;
	mode) echo "${f[13]}" ;;
	fill_timeouts) echo "${f[24]}" ;;
	late_replies) echo "${f[25]}" ;;
	*) die "dmfield: no key $2" ;;
	esac
}

# await_line FILE REGEX N: until FILE has N lines matching REGEX (10 s)
await_line() {
	local i
	for i in $(seq 1 100); do
		[ "$(grep -cE "$2" "$1")" -ge "$3" ] && return 0
		sleep 0.1
	done
	die "$1: fewer than $3 lines matching '$2': $(cat "$1")"
}

# A scripted fake daemon (nlprobe fake-daemon script) answers by hand:
# FETCH_DONE must name the request's device and block (else it is ignored
# and counted stale); a fill held past fill_timeout fails its reader with
# EIO and its late answer is ignored and counted; a fill in flight when its
# block is invalidated validates nothing (the read misses again).
test_fetch_done_checked() {
	local fake reader err start end stale0 late0
	wipe $C0
	rcachectl create fd --origin file://$ORIGIN --cache $C0 --no-prefetch --fill-timeout 60
	rm -f /data/fd.cmd /data/fd.out
	mkfifo /data/fd.cmd
	nlprobe fake-daemon script </data/fd.cmd >/data/fd.out &
	fake=$!
	exec 7>/data/fd.cmd
	wait_for_daemon fd
	stale0=$(dmfield fd stale_replies)
	late0=$(dmfield fd late_replies)
	# another device's id, then another block: ignored, the reader waits
	dd if=/dev/mapper/fd of=/data/fd.blk bs=4k skip=$((3 * 256)) count=1 iflag=direct status=none &
	reader=$!
	printf 'wait 1\nreply 1 0 dev\nreply 1 0 block\n' >&7
	await_line /data/fd.out '^reply 1 2$' 2
	sleep 0.3
	kill -0 $reader 2>/dev/null || die "a reply naming another device or block ended the read"
	assert_eq "$(dmfield fd stale_replies)" $((stale0 + 2)) "stale replies (wrong device, wrong block)"
	assert_eq "$(dmfield fd cached_blocks)" 0 "blocks cached by wrong replies"
	echo "reply 1 0" >&7
	wait $reader || die "the right reply did not complete the read"
	grep -q '^reply 1 0$' /data/fd.out || die "the right reply was refused: $(cat /data/fd.out)"
	assert_eq "$(dmfield fd cached_blocks)" 1 "blocks cached by the right reply"
	# held past fill_timeout (3 s now): EIO, counted; the answer then is late
	dmsetup message fd 0 fill_timeout 3
	case $(dmsetup table fd) in *" fill_timeout 60"*) ;; *) die "table: $(dmsetup table fd)" ;; esac
	echo "wait 2" >&7
	read_mib /dev/mapper/fd 5 1 /data/fd.to
	read -r err start end </data/fd.to
	assert_eq "$err" 5 "errno of a read whose fill outlived fill_timeout (EIO)"
	echo "fill_timeout 3 s: EIO after $((end - start)) ms"
	assert_ge $((end - start)) 2900 "ms before EIO (fill_timeout 3)"
	assert_le $((end - start)) 7000 "ms before EIO (fill_timeout 3)"
	dmsetup message fd 0 fill_timeout 60
	assert_eq "$(field fd fill_timeouts)" 1 "fill timeouts (rcachectl status)"
	assert_eq "$(dmfield fd fetches_inflight)" 0 "fetches in flight after the timeout"
	grep -q '^FETCH req_id=[0-9]* block=5 ' /data/fd.out || die "no FETCH for block 5"
	echo "reply 2 0" >&7
	await_line /data/fd.out '^reply 2 ' 1
	grep -q '^reply 2 0$' /data/fd.out || die "late reply refused: $(cat /data/fd.out)"
	assert_eq "$(field fd late_replies)" $((late0 + 1)) "late replies (rcachectl status)"
	assert_eq "$(dmfield fd stale_replies)" $((stale0 + 2)) "stale replies after the late one"
	assert_eq "$(dmfield fd cached_blocks)" 1 "blocks cached by a late reply"
	# invalidated while its fill is in flight: that fill validates nothing,
	# the read misses again (and fails with the second fill)
	dd if=/dev/mapper/fd of=/dev/null bs=4k skip=$((7 * 256)) count=1 iflag=direct status=none &
	reader=$!
	echo "wait 3" >&7
	await_line /data/fd.out '^got 3$' 1
	dmsetup message fd 0 invalidate 0-$((ORIGIN_SIZE / 512))
	printf 'reply 3 0\nwait 4\nreply 4 5\n' >&7
	if wait $reader; then die "a fill invalidated in flight served its read"; fi
	grep -q '^FETCH req_id=[0-9]* block=7 .*' /data/fd.out || die "no FETCH for block 7"
	assert_eq "$(grep -c '^FETCH req_id=[0-9]* block=7 ' /data/fd.out)" 2 "FETCHes of block 7 (fenced, then again)"
	assert_eq "$(dmfield fd cached_blocks)" 0 "blocks cached after invalidate"
	exec 7>&-
	wait $fake || die "fake daemon failed: $(cat /data/fd.out)"
	rcachectl remove fd
}

# A fill a daemon was sent and never answered (the daemon went away, then
# the fill was cancelled) keeps its slot: the lost daemon may still write
# it, so the next fill must not be handed that slot.
test_unanswered_slot_kept() {
	local fake reader off1 off2
	wipe $C0
	rcachectl create uk --origin file://$ORIGIN --cache $C0 --no-prefetch
	rm -f /data/uk.cmd /data/uk.out /data/uk2.out
	mkfifo /data/uk.cmd
	nlprobe fake-daemon script </data/uk.cmd >/data/uk.out &
	fake=$!
	exec 7>/data/uk.cmd
	wait_for_daemon uk
	# (7>&-: the reader must not hold the fake daemon's input open)
	dd if=/dev/mapper/uk of=/dev/null bs=4k skip=$((4 * 256)) count=1 iflag=direct status=none 7>&- &
	reader=$!
	echo "wait 1" >&7
	await_line /data/uk.out '^got 1$' 1
	exec 7>&-	# the daemon leaves without answering: the fill is queued again
	wait $fake
	off1=$(sed -n 's/^FETCH .* block=4 .*offset=\([0-9]*\)$/\1/p' /data/uk.out)
	[ -n "$off1" ] || die "no FETCH for block 4: $(cat /data/uk.out)"
	# no daemon: suspending cancels the queued fill, its reader fails
	timeout 30 dmsetup suspend uk || die "suspend hung"
	if wait $reader; then die "a cancelled fill served its read"; fi
	assert_eq "$(dmfield uk fill_timeouts)" 0 "fill timeouts (the fill was cancelled, not timed out)"
	dmsetup resume uk
	mkfifo /data/uk.cmd 2>/dev/null || true
	nlprobe fake-daemon script </data/uk.cmd >/data/uk2.out &
	fake=$!
	exec 7>/data/uk.cmd
	wait_for_daemon uk
	dd if=/dev/mapper/uk of=/dev/null bs=4k skip=$((9 * 256)) count=1 iflag=direct status=none &
	reader=$!
	printf 'wait 1\nreply 1 5\n' >&7
	if wait $reader; then die "the read answered with EIO succeeded"; fi
	exec 7>&-
	wait $fake
	off2=$(sed -n 's/^FETCH .* block=9 .*offset=\([0-9]*\)$/\1/p' /data/uk2.out)
	echo "unanswered fill at cache offset $off1, next fill at $off2"
	[ -n "$off2" ] || die "no FETCH for block 9: $(cat /data/uk2.out)"
	assert_ne "$off2" "$off1" "cache offset of the next fill (the unanswered fill's slot)"
	rcachectl remove uk
}

# SET_STATE allows READY -> STALE only; the kernel makes a device FAILED
# (metadata write error); nothing but a table load leaves STALE or FAILED.
test_state_transitions() {
	local out sz
	wipe $C0
	sz=$(blockdev --getsz $C0)
	dmsetup create cdev0 --table "0 $sz linear $C0 0"
	dmsetup mknodes cdev0
	start_daemon
	rcachectl create tr --origin file://$ORIGIN --cache /dev/mapper/cdev0 --commit-interval 0
	dd if=/dev/mapper/tr of=/dev/null bs=1M count=1 iflag=direct status=none
	stop_daemon
	out=$(nlprobe set-state tr 2)
	case $out in "22 "*"may only set the state stale"*) ;; *) die "SET_STATE failed was not refused: $out" ;; esac
	assert_eq "$(dmfield tr mode)" ready "mode after a refused SET_STATE failed"
	out=$(nlprobe set-state tr 1)
	assert_eq "$out" "0 " "SET_STATE stale"
	assert_eq "$(dmfield tr mode)" stale "mode"
	out=$(nlprobe set-state tr 0)
	echo "stale -> ready: $out"
	case $out in "22 "*) ;; *) die "stale -> ready not refused: $out" ;; esac
	assert_eq "$(dmfield tr mode)" stale "mode after stale -> ready"
	# a metadata write error: the kernel makes it failed
	dmsetup suspend cdev0
	dmsetup load cdev0 --table "0 $sz error"
	dmsetup resume cdev0
	python3 -c 'import os, sys; fd = os.open(sys.argv[1], os.O_RDONLY)
try:
    os.fsync(fd)
except OSError:
    pass' /dev/mapper/tr
	assert_eq "$(dmfield tr mode)" failed "mode after a metadata write error"
	out=$(nlprobe set-state tr 0)
	case $out in "22 "*) ;; *) die "failed -> ready not refused: $out" ;; esac
	out=$(nlprobe set-state tr 1)
	echo "failed -> stale: $out"
	case $out in "22 "*"a failed device stays failed"*) ;; *) die "failed -> stale not refused: $out" ;; esac
	assert_eq "$(dmfield tr mode)" failed "mode after failed -> ready and failed -> stale"
	rcachectl remove tr
	dmsetup remove cdev0
}

# While one device loads its metadata (a table reload; the reads of its
# cache device take 8 s each under dm-delay), netlink requests for another
# device are answered at once: a GET_STATUS, and, at the same time, the
# FETCH_DONE of a miss (a fake daemon answers it as soon as it comes).
test_netlink_during_load() {
	local sz t0 ms loader status
	make_origin /data/img3 $((8 * MiB)) 3
	wipe $C0
	wipe $C1
	sz=$(blockdev --getsz $C1)
	dmsetup create dly --table "0 $sz delay $C1 0 0"
	dmsetup mknodes dly
	rcachectl create ld --origin file://$ORIGIN --cache /dev/mapper/dly
	rcachectl create other --origin file:///data/img3 --cache $C0 --no-prefetch
	rm -f /data/ld.cmd /data/ld.out
	mkfifo /data/ld.cmd
	nlprobe fake-daemon script </data/ld.cmd >/data/ld.out &
	exec 8>/data/ld.cmd
	wait_for_daemon other
	dmsetup suspend dly
	dmsetup load dly --table "0 $sz delay $C1 0 8000"
	dmsetup resume dly
	dmsetup load ld --table "$(dmsetup table ld)"
	dmsetup resume ld &
	loader=$!
	sleep 1
	t0=$(now_ms)
	nlprobe status other >/data/ld.status &
	status=$!
	printf 'wait 1\nreply 1 0\n' >&8
	dd if=/dev/mapper/other of=/dev/null bs=4k skip=512 count=1 iflag=direct status=none ||
		die "the miss of the other device failed"
	ms=$(($(now_ms) - t0))
	wait $status || die "GET_STATUS failed"
	echo "during the load: GET_STATUS $(cut -d' ' -f4 /data/ld.status) ms, a miss $ms ms"
	# both answered before the load ended (which takes 8 s or more)
	kill -0 $loader 2>/dev/null || die "the load ended before GET_STATUS and the miss did"
	assert_le "$(cut -d' ' -f4 /data/ld.status)" 2000 "ms for GET_STATUS while another device loads its metadata"
	assert_le $ms 6000 "ms for a miss of another device (dd included) while one loads its metadata"
	grep -q '^reply 1 0$' /data/ld.out || die "FETCH_DONE refused: $(cat /data/ld.out)"
	wait $loader || die "resume failed"
	echo "reload and resume took about $(($(now_ms) - t0 + 1000)) ms"
	exec 8>&-
	rcachectl remove other
	rcachectl remove ld
	dmsetup remove dly
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

# no_cookies WHEN: no udev cookie (a SysV semaphore of libdevmapper's) is left
no_cookies() {
	assert_eq "$(dmsetup udevcookies | tail -n +2)" "" "udev cookies $1"
}

# The guest has no udev by default (libdevmapper makes the nodes, which every
# other test exercises).  Here systemd-udevd runs: rcachectl waits for udev's
# rules through a cookie, /dev/mapper/NAME is udev's symlink, no cookie is
# left; then udevd stops with its control socket left behind, and rcachectl
# neither hangs on it nor leaves the device without a node.
test_udev_sync() {
	local t0 cookie mon i
	# later tests run without udev, as the guest does by default
	trap 'udevadm control --exit >/dev/null 2>&1 || true; rm -rf /run/udev' EXIT
	/lib/systemd/systemd-udevd --daemon 2>/dev/null
	udevadm trigger --action=add
	timeout 120 udevadm settle || die "udevadm settle timed out"
	udevadm control --ping || die "udevd does not answer"
	# blkid (udev's disk rules) reads the new device: the daemon serves it
	start_daemon
	# the kernel's uevents, to see the resume's cookie
	udevadm monitor --kernel --property --subsystem-match=block >/data/us.mon &
	mon=$!
	for i in $(seq 1 50); do
		grep -q "kernel uevent" /data/us.mon && break
		sleep 0.1
	done
	rcachectl create us --origin file://$ORIGIN --cache $C0 >/data/us.out 2>/data/us.err
	assert_eq "$(cat /data/us.out)" "/dev/mapper/us" "create's output"
	[ ! -s /data/us.err ] || die "create printed: $(cat /data/us.err)"
	# udev's symlink to its dm-N node, there when create returns
	[ -L /dev/mapper/us ] || die "/dev/mapper/us is not udev's symlink: $(ls -l /dev/mapper/us)"
	assert_eq "$(readlink /dev/mapper/us)" "../$(basename "$(readlink /sys/dev/block/$(dev_numbers /dev/mapper/us))")" \
		"/dev/mapper/us points at"
	# the resume's uevent carried a cookie with a semaphore (its low 16 bits)
	kill $mon
	cookie=$(sed -n 's/^DM_COOKIE=//p' /data/us.mon | tail -n 1)
	[ -n "$cookie" ] && [ $((cookie & 0xffff)) -ne 0 ] || die "the resume had no udev cookie: '$cookie'"
	udevadm info --query=property --name=/dev/mapper/us | grep -qx "DM_NAME=us" ||
		die "udev's database does not know the device"
	no_cookies "after create"
	assert_eq "$(sha_dev /dev/mapper/us $ORIGIN_SIZE)" "$ORIGIN_SHA" "data through udev's node"
	# a table the kernel refuses (the cache is us's): the half-made device goes
	if rcachectl create us3 --origin file://$ORIGIN --cache $C0 2>/data/us.err; then
		die "create on a cache device in use accepted"
	fi
	assert_eq "$(wc -l </data/us.err)" 1 "lines of the refusal"
	grep -q "in use" /data/us.err || die "refusal: $(cat /data/us.err)"
	dmsetup info us3 >/dev/null 2>&1 && die "device us3 left behind"
	[ -e /dev/mapper/us3 ] || [ -L /dev/mapper/us3 ] && die "/dev/mapper/us3 left behind"
	no_cookies "after a refused create"
	rcachectl remove us 2>/data/us.err
	[ ! -s /data/us.err ] || die "remove printed: $(cat /data/us.err)"
	[ -e /dev/mapper/us ] || [ -L /dev/mapper/us ] && die "/dev/mapper/us left behind after remove"
	no_cookies "after remove"

	# udevd gone, /run/udev/control still there: no waiting for it
	udevadm control --exit
	[ -S /run/udev/control ] || die "udevd removed its control socket (the case is not tested)"
	t0=$(date +%s)
	timeout 60 rcachectl create us2 --origin file://$ORIGIN --cache $C1 >/dev/null 2>/data/us.err ||
		die "create with a stopped udevd: $(cat /data/us.err)"
	[ ! -s /data/us.err ] || die "create printed: $(cat /data/us.err)"
	[ -b /dev/mapper/us2 ] && [ ! -L /dev/mapper/us2 ] || die "no node of libdevmapper's: $(ls -l /dev/mapper/us2)"
	assert_eq "$(dev_numbers /dev/mapper/us2)" "$(dmsetup info -c --noheadings -o major,minor --separator : us2)" \
		"/dev/mapper/us2 device numbers"
	assert_eq "$(sha_dev /dev/mapper/us2 $ORIGIN_SIZE)" "$ORIGIN_SHA" "data through libdevmapper's node"
	timeout 60 rcachectl remove us2
	[ -e /dev/mapper/us2 ] && die "/dev/mapper/us2 left behind"
	[ $(($(date +%s) - t0)) -lt 30 ] || die "create and remove took $(($(date +%s) - t0)) s with udevd stopped"
	no_cookies "with udevd stopped"
	stop_daemon
}

# Kernel nfsd in the guest exports a tmpfs directory over 127.0.0.1.
nfs_up() {
	modprobe nfsd
	mkdir -p /export /mnt/nfs /proc/fs/nfsd /var/lib/nfs/v4recovery
	mountpoint -q /export || mount -t tmpfs -o size=200M export /export
	mountpoint -q /proc/fs/nfsd || mount -t nfsd nfsd /proc/fs/nfsd
	make_origin /export/ds.img $((33 * MiB + 512)) 9
	# fsid=0: /export is the NFSv4 root (the guest's / is an overlay, not exportable)
	echo "/export 127.0.0.1(ro,no_root_squash,insecure,fsid=0,no_subtree_check)" >/etc/exports
	pgrep -x rpcbind >/dev/null || rpcbind -w 2>/dev/null || rpcbind
	exportfs -ra
	rpc.nfsd -N 3 8
	pgrep -x rpc.mountd >/dev/null || rpc.mountd -N 3
	mountpoint -q /mnt/nfs || timeout 60 mount -t nfs4 -o vers=4.2,ro 127.0.0.1:/ /mnt/nfs
	assert_eq "$(sha_file /mnt/nfs/ds.img)" "$(sha_file /export/ds.img)" "file over NFS"
}

test_nfs_origin() {
	nfs_up
	wipe $C1
	start_daemon
	rcachectl create nfs --origin file:///mnt/nfs/ds.img --cache $C1 --block-size 256K
	assert_eq "$(field nfs cached_blocks)" 0 "cached blocks before the cold pass"
	assert_eq "$(sha_dev /dev/mapper/nfs $((33 * MiB + 512)))" "$(sha_file /export/ds.img)" "cold sha256 over NFS"
	assert_ge "$(field nfs read_misses)" 1 "misses in the cold pass"
	rangecheck /dev/mapper/nfs /mnt/nfs/ds.img 16 60 400000 3 direct
	local misses
	misses=$(field nfs read_misses)
	drop_caches
	assert_eq "$(sha_dev /dev/mapper/nfs $((33 * MiB + 512)))" "$(sha_file /export/ds.img)" "warm sha256 over NFS"
	assert_eq "$(field nfs read_misses)" "$misses" "misses in the warm pass"
	rcachectl remove nfs
	stop_daemon
	umount /mnt/nfs
}

# The NFS server stops (nfsd threads gone) under a reader: the daemon's read
# of the origin hangs, and the reader gets EIO at fill_timeout; a suspend
# begun meanwhile returns then, and the device can be removed while the
# daemon still holds the fills.
test_fill_timeout_nfs() {
	local reader err start end t0 ms i timeout=4
	nfs_up
	wipe $C1
	start_daemon
	rcachectl create nft --origin file:///mnt/nfs/ds.img --cache $C1 --block-size 256K \
		--no-prefetch --fill-timeout $timeout
	sha_blocks /dev/mapper/nft 0 1 >/dev/null	# the daemon has the file open
	rpc.nfsd 0
	read_mib /dev/mapper/nft 8 1 /data/nft &
	reader=$!
	for i in $(seq 1 300); do
		[ "$(dmfield nft fetches_inflight)" -ge 1 ] && break
		sleep 0.1
	done
	assert_ge "$(dmfield nft fetches_inflight)" 1 "fills in flight with nfsd stopped"
	[ ! -e /data/nft ] || die "the read ended with nfsd stopped: $(cat /data/nft)"
	t0=$(now_ms)
	timeout 30 dmsetup suspend nft || die "suspend did not return"
	ms=$(($(now_ms) - t0))
	echo "suspend with a hung fill returned after $ms ms"
	assert_le $ms $((timeout * 1000 + 4000)) "ms for suspend with a hung fill"
	wait $reader
	read -r err start end </data/nft
	assert_eq "$err" 5 "errno of a read whose NFS server stopped (EIO)"
	echo "EIO after $((end - start)) ms (fill_timeout $timeout s)"
	assert_ge $((end - start)) $((timeout * 1000 - 100)) "ms before EIO"
	assert_le $((end - start)) $((timeout * 1000 + 4000)) "ms before EIO"
	dmsetup resume nft
	assert_ge "$(dmfield nft fill_timeouts)" 1 "fill timeouts"
	t0=$(now_ms)
	timeout 30 dmsetup remove nft || die "remove did not return with fills held"
	echo "remove with fills held took $(($(now_ms) - t0)) ms"
	rpc.nfsd -N 3 8
	kill9_daemon
	umount -l /mnt/nfs
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

# 16 readers of one cold block, each at its own offset in it: one FETCH
# (counted by a fake daemon that holds it), and its one reply ends them all.
test_one_fetch_per_block() {
	local pids=() i misses0 fake
	wipe $C0
	rcachectl create of --origin file://$ORIGIN --cache $C0 --no-prefetch
	nlprobe fake-daemon hold 120 >/data/hold.out &
	fake=$!
	wait_for_daemon of
	misses0=$(field of read_misses)
	for i in $(seq 0 15); do
		dd if=/dev/mapper/of of=/dev/null bs=4k skip=$((5 * 256 + i * 16)) count=1 iflag=direct \
			status=none 2>/data/of.$i.err &
		pids+=($!)
	done
	wait_misses of $((misses0 + 16))
	assert_eq "$(field of read_misses)" $((misses0 + 16)) "misses of the 16 readers"
	kill -0 $fake 2>/dev/null || die "the fake daemon answered before every reader was waiting"
	assert_eq "$(field of fetches_inflight)" 1 "fetches in flight with 16 readers on one block"
	kill -USR1 $fake	# now it answers (EIO)
	wait $fake
	cat /data/hold.out
	assert_eq "$(grep -c '^FETCH ' /data/hold.out)" 1 "FETCH messages for one block"
	grep -q '^FETCH req_id=[0-9]* block=5 ' /data/hold.out || die "the FETCH is not for block 5"
	grep -q '^fetches 1$' /data/hold.out || die "fake daemon counted: $(grep fetches /data/hold.out)"
	for i in "${!pids[@]}"; do
		if wait ${pids[$i]}; then die "reader $i succeeded, but its block's fetch failed"; fi
		grep -q "Input/output error" /data/of.$i.err || die "reader $i: $(cat /data/of.$i.err)"
	done
	assert_eq "$(field of fetch_errors)" 1 "fetch errors (one fetch, one error)"
	assert_eq "$(field of fetches_inflight)" 0 "fetches in flight after the reply"
	rcachectl remove of
}

# Request ids are allocated cyclically: the id of a completed request is not
# handed out again at once (a late reply to it must not complete a new one).
test_request_ids_cyclic() {
	local fake ids i
	wipe $C0
	rcachectl create ci --origin file://$ORIGIN --cache $C0 --no-prefetch
	nlprobe fake-daemon eio 3 >/data/ids.out &
	fake=$!
	wait_for_daemon ci
	# the same block three times: each fetch fails, so each read sends anew
	for i in 1 2 3; do
		assert_fails "read answered with EIO ($i)" \
			dd if=/dev/mapper/ci of=/dev/null bs=4k skip=512 count=1 iflag=direct
	done
	wait $fake
	cat /data/ids.out
	mapfile -t ids < <(sed -n 's/^FETCH req_id=\([0-9]*\) block=2 .*/\1/p' /data/ids.out)
	assert_eq "${#ids[@]}" 3 "FETCHes of block 2"
	assert_ge "${ids[1]}" $((ids[0] + 1)) "second request id (first was ${ids[0]})"
	assert_ge "${ids[2]}" $((ids[1] + 1)) "third request id (second was ${ids[1]})"
	rcachectl remove ci
}

# One block of a file origin is very slow (dm-delay under one MiB of a dm
# table), the rest is fast: while one thread waits for the slow block,
# another reads blocks away from it (not coalesced with it), one after
# another, each far faster than the delay.  One process does both, so that
# how long programs take to start on a loaded host does not count.
test_slow_block_no_holdup() {
	local delay_ms=12000 s=$((10 * 2048)) sectors=$((ORIGIN_SIZE / 512)) b worst alive slow_ms
	dd if=$ORIGIN of=$O0 bs=1M oflag=direct status=none
	dmsetup create mixed --table "0 $s linear $O0 0
$s 2048 delay $O0 $s $delay_ms
$((s + 2048)) $((sectors - s - 2048)) linear $O0 $((s + 2048))"
	dmsetup mknodes mixed
	wipe $C0
	start_daemon
	rcachectl create sb --origin file:///dev/mapper/mixed --cache $C0 --no-prefetch
	python3 - /dev/mapper/sb /data/sb 10 0 3 20 25 30 39 >/data/sb.out <<'PY'
import mmap, os, sys, threading, time
dev, out, slow, fast = sys.argv[1], sys.argv[2], int(sys.argv[3]), [int(b) for b in sys.argv[4:]]
fd = os.open(dev, os.O_RDONLY | os.O_DIRECT)
took = {}

def read(b):
    buf = mmap.mmap(-1, 1 << 20)
    t = time.monotonic()
    if os.preadv(fd, [buf], b << 20) != 1 << 20:
        sys.exit("short read of MiB %d" % b)
    took[b] = time.monotonic() - t
    with open("%s.%d" % (out, b), "wb") as f:
        f.write(buf)

waiter = threading.Thread(target=read, args=(slow,))
waiter.start()
time.sleep(1)
for b in fast:
    read(b)
alive = waiter.is_alive()
waiter.join()
print(int(max(took[b] for b in fast) * 1000), int(alive), int(took[slow] * 1000))
PY
	read -r worst alive slow_ms </data/sb.out
	echo "slowest of six fast blocks: $worst ms; the slow block: $slow_ms ms"
	assert_eq "$alive" 1 "slow block still being fetched after the fast ones"
	assert_le "$worst" $((delay_ms / 4)) "ms for the slowest fast block"
	assert_ge "$slow_ms" $((delay_ms - 500)) "ms for the slow block (is dm-delay in effect?)"
	for b in 10 0 3 20 25 30 39; do
		assert_eq "$(sha_file /data/sb.$b)" \
			"$(dd if=$ORIGIN bs=1M skip=$b count=1 status=none | sha256sum | cut -d' ' -f1)" \
			"block $b"
	done
	assert_eq "$(field sb fetch_errors)" 0 "fetch errors"
	rcachectl remove sb
	stop_daemon
	dmsetup remove --retry mixed
}

# The kernel itself refuses a table naming a cache device another rcache
# device uses (rcachectl's own check never runs here), before touching it:
# not even "reset" reformats it.
test_cache_in_use_kernel() {
	local cdev len=$((ORIGIN_SIZE / 512)) md_sha
	wipe $C0
	start_daemon
	rcachectl create own --origin file://$ORIGIN --cache $C0
	assert_eq "$(sha_dev /dev/mapper/own $ORIGIN_SIZE)" "$ORIGIN_SHA" "first device"
	flush_dev /dev/mapper/own	# its metadata is on the disk now
	md_sha=$(sha_blocks $C0 0 8)
	cdev=$(dev_numbers $C0)
	bad_table in1 "0 $len rcache $cdev file://$ORIGIN 2048" \
		"Cache device is in use by another rcache device"
	bad_table in2 "0 $len rcache $cdev file:///data/other 2048 1 reset" \
		"Cache device is in use by another rcache device"
	assert_eq "$(sha_blocks $C0 0 8)" "$md_sha" "superblock and metadata after the refusals"
	drop_caches
	local misses
	misses=$(field own read_misses)
	assert_eq "$(sha_dev /dev/mapper/own $ORIGIN_SIZE)" "$ORIGIN_SHA" "first device after the refusals"
	assert_eq "$(field own read_misses)" "$misses" "misses (its blocks stayed cached)"
	rcachectl remove own
	stop_daemon
}

# A file origin that ends early (a plain table: no identity to fence on):
# EIO, and one log line per failed block, naming origin, range and errno.
test_origin_ends_early() {
	local cdev mark
	cp $ORIGIN /data/short
	wipe $C0
	start_daemon
	cdev=$(dev_numbers $C0)
	dmsetup create short --table "0 $((ORIGIN_SIZE / 512)) rcache $cdev file:///data/short 2048 1 no_prefetch"
	dmsetup mknodes short
	truncate -s $((30 * MiB)) /data/short
	mark=$(wc -l <"$LOGS/rcached.log")
	# one block past the end, then two at once (read as one coalesced range)
	assert_fails "read past the origin's end" \
		dd if=/dev/mapper/short of=/dev/null bs=1M skip=35 count=1 iflag=direct
	assert_fails "read past the origin's end" \
		dd if=/dev/mapper/short of=/dev/null bs=2M skip=16 count=1 iflag=direct
	sleep 0.5
	tail -n +"$((mark + 1))" "$LOGS/rcached.log" >/data/short.log
	cat /data/short.log
	assert_eq "$(grep -c 'bytes 36700160-37748735 (block 35) failed: Input/output error' /data/short.log)" 1 \
		"log lines for block 35"
	assert_eq "$(grep -c 'bytes 33554432-34603007 (block 32) failed: Input/output error' /data/short.log)" 1 \
		"log lines for block 32"
	assert_eq "$(grep -c 'bytes 34603008-35651583 (block 33) failed: Input/output error' /data/short.log)" 1 \
		"log lines for block 33"
	# nothing else is an error line: every failed block has its one line
	assert_eq "$(grep -c 'failed\|ends before' /data/short.log)" 3 "error lines in all"
	assert_eq "$(sha_blocks /dev/mapper/short 0 30)" \
		"$(head -c $((30 * MiB)) $ORIGIN | sha256sum | cut -d' ' -f1)" "the blocks still there"
	dmsetup remove short
	stop_daemon
}

TESTS=(
	cold_warm_sha256 test_cold_warm_sha
	concurrent_readers test_concurrent_readers
	odd_origin_sizes test_odd_sizes
	kill9_daemon_restart test_kill9_restart
	kill9_no_restart test_kill9_no_restart
	daemon_timeout_eio test_daemon_timeout
	fail_fast test_fail_fast
	origin_read_error test_origin_read_error
	origin_truncated test_origin_truncated
	origin_ends_early test_origin_ends_early
	bad_tables test_bad_tables
	cli_bad_input test_cli_bad_input
	cli_message test_cli_message
	unprivileged_netlink test_unprivileged_netlink
	writes_fail test_writes_fail
	two_devices_and_dmsetup test_two_devices_and_dmsetup
	cache_in_use_kernel test_cache_in_use_kernel
	status_fields test_status_fields
	fetch_done_checked test_fetch_done_checked
	state_transitions test_state_transitions
	unanswered_slot_kept test_unanswered_slot_kept
	netlink_during_load test_netlink_during_load
	stale_and_lost_replies test_stale_and_lost_replies
	one_fetch_per_block test_one_fetch_per_block
	request_ids_cyclic test_request_ids_cyclic
	slow_block_no_holdup test_slow_block_no_holdup
	suspend_without_daemon test_suspend_without_daemon
	nfs_origin test_nfs_origin
	fill_timeout_nfs test_fill_timeout_nfs
	remove_and_rmmod test_remove_and_rmmod
	udev_sync test_udev_sync
)
t_run_all "$@"
cleanup_devices
exit 0
