#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# Prefetch, warm-up and trace tests (issue 5), in one VM boot:
#   vm-run --disk c0:160 --disk c1:160 --disk o0:100 prefetch.sh
source "$RCACHE_TOP/selftests/lib.sh"

C0=$(disk 0)
C1=$(disk 1)
O0=$(disk 2)
MiB=$((1024 * 1024))
SIZE=$((64 * MiB))
mkdir -p /data
mount -t tmpfs -o size=200M data /data
make_origin /data/img $SIZE 41
SHA=$(sha_file /data/img)
load_module

wipe() {
	dd if=/dev/zero of="$1" bs=1M count=8 oflag=direct status=none
}

t_after() {
	wipe $C0
	wipe $C1
}

# a slow copy of the origin: a block device behind dm-delay (ms per I/O)
slow_origin() {
	dd if=/data/img of=$O0 bs=1M oflag=direct status=none
	dmsetup create slow --table "0 $((SIZE / 512)) delay $O0 0 $1"
	dmsetup mknodes slow
}

ratio() {	# ratio A B: A/B in per mille
	[ "$2" -gt 0 ] && echo $(($1 * 1000 / $2)) || echo 0
}

test_cold_sequential_prefetch_used() {
	start_daemon
	rcachectl create q1 --origin file:///data/img --cache $C0
	assert_eq "$(dd if=/dev/mapper/q1 bs=1M iflag=direct status=none | sha256sum | cut -d' ' -f1)" "$SHA" "sha256"
	local issued used
	issued=$(field q1 prefetch_issued)
	used=$(field q1 prefetch_used)
	echo "O_DIRECT 1 MiB reads: $issued blocks prefetched, $used used, $(field q1 read_misses) demand misses of 64"
	assert_ge "$issued" 32 "prefetched blocks"
	assert_ge "$(ratio $used $issued)" 900 "prefetched blocks used (per mille)"
	rcachectl remove q1
	# buffered reads (readahead bios included)
	wipe $C0
	rcachectl create q1 --origin file:///data/img --cache $C0
	assert_eq "$(sha_dev /dev/mapper/q1 $SIZE)" "$SHA" "sha256, buffered"
	issued=$(field q1 prefetch_issued)
	used=$(field q1 prefetch_used)
	echo "buffered reads: $issued prefetched, $used used"
	assert_ge "$(ratio $used $issued)" 900 "prefetched blocks used, buffered (per mille)"
	rcachectl remove q1
}

test_four_interleaved_streams() {
	slow_origin 20
	start_daemon
	rcachectl create q2 --origin file:///dev/mapper/slow --cache $C0 --block-size 256K
	local i pids=()
	for i in 0 1 2 3; do
		dd if=/dev/mapper/q2 of=/data/part.$i bs=256K skip=$((i * 64)) count=64 iflag=direct status=none &
		pids+=($!)
	done
	for i in 0 1 2 3; do
		wait ${pids[$i]} || die "reader $i failed"
		assert_eq "$(sha_file /data/part.$i)" \
			"$(dd if=/data/img bs=256K skip=$((i * 64)) count=64 status=none | sha256sum | cut -d' ' -f1)" \
			"bytes of reader $i"
	done
	local streams issued used
	streams=$(field q2 streams)
	issued=$(field q2 prefetch_issued)
	used=$(field q2 prefetch_used)
	echo "4 interleaved readers: $streams streams detected, $issued prefetched, $used used, $(field q2 read_misses) misses"
	assert_ge "$streams" 4 "sequential streams detected"
	assert_ge "$(ratio $used $issued)" 900 "prefetched blocks used (per mille)"
	rcachectl remove q2
	dmsetup remove --retry slow
}

test_buffered_reader_detected() {
	start_daemon
	rcachectl create q12 --origin file:///data/img --cache $C0
	# a buffered reader: the page cache's readahead (REQ_RAHEAD) does most
	# of the reading, and is what shows the stream
	echo 3 >/proc/sys/vm/drop_caches
	assert_eq "$(sha256sum </dev/mapper/q12 | cut -d' ' -f1)" "$SHA" "sha256, buffered"
	echo "streams $(field q12 streams), prefetch issued $(field q12 prefetch_issued), used $(field q12 prefetch_used), misses $(field q12 read_misses)"
	assert_ge "$(field q12 streams)" 1 "streams detected from readahead"
	assert_ge "$(field q12 prefetch_used)" 32 "prefetched blocks used"
	rcachectl remove q12
}

test_random_reads_little_waste() {
	start_daemon
	rcachectl create q3 --origin file:///data/img --cache $C0 --block-size 64K
	fio --name=r --filename=/dev/mapper/q3 --rw=randread --bs=4k --direct=1 --ioengine=io_uring \
		--iodepth=8 --number_ios=3000 --size=$SIZE --randseed=7 --output=/dev/null
	local issued used cached waste
	issued=$(field q3 prefetch_issued)
	used=$(field q3 prefetch_used)
	cached=$(field q3 cached_blocks)
	waste=$((issued - used))
	echo "random 4 KiB: $cached blocks fetched, $issued prefetched, $used of them used, $waste wasted"
	assert_le "$(ratio $waste $cached)" 50 "prefetch waste of fetched blocks (per mille)"
	rangecheck /dev/mapper/q3 /data/img 8 50 100000 3 direct
	rcachectl remove q3
}

test_no_prefetch_and_messages() {
	start_daemon
	rcachectl create q4 --origin file:///data/img --cache $C0 --no-prefetch
	rcachectl table q4 | grep -q "no_prefetch" || die "no_prefetch not in the table"
	dd if=/dev/mapper/q4 of=/dev/null bs=1M count=32 iflag=direct status=none
	assert_eq "$(field q4 prefetch_issued)" 0 "prefetches with no_prefetch"
	dmsetup message q4 0 prefetch on
	dd if=/dev/mapper/q4 of=/dev/null bs=1M skip=32 iflag=direct status=none
	assert_ge "$(field q4 prefetch_issued)" 8 "prefetches after 'prefetch on'"
	assert_fails "bad prefetch message" dmsetup message q4 0 prefetch_window 0
	dmsetup message q4 0 prefetch_window 8
	dmsetup message q4 0 prefetch_budget 4
	rcachectl remove q4
}

test_warmup_range_then_zero_misses() {
	start_daemon
	rcachectl create q5 --origin file:///data/img --cache $C0 --no-prefetch
	local out
	out=$(rcachectl warmup q5 --range 8M-24M --wait 2>&1)
	echo "$out" | tail -n 2
	echo "$out" | grep -q "warm-up 100.0%" || die "no progress lines: $out"
	assert_eq "$(field q5 cached_blocks)" 16 "blocks warmed"
	assert_eq "$(field q5 read_misses)" 0 "misses before reading"
	assert_eq "$(dd if=/dev/mapper/q5 bs=1M skip=8 count=16 iflag=direct status=none | sha256sum | cut -d' ' -f1)" \
		"$(dd if=/data/img bs=1M skip=8 count=16 status=none | sha256sum | cut -d' ' -f1)" "warmed range"
	assert_eq "$(field q5 read_misses)" 0 "demand misses in the warmed range"
	# the whole device, rate-limited: at most about 20 MB/s
	local t0 t1
	t0=$(date +%s%N)
	rcachectl warmup q5 --rate 20 --wait 2>/dev/null
	t1=$(date +%s%N)
	assert_eq "$(field q5 cached_blocks)" 64 "whole device warmed"
	assert_ge $(((t1 - t0) / 1000000)) 1800 "ms to warm 48 MiB at 20 MB/s"
	rcachectl status q5 | grep -q "cached:        64/64 blocks (100.0%)" || die "cached % not shown"
	rcachectl remove q5
}

test_warmup_larger_than_cache() {
	# 64 MiB origin in 256 KiB blocks (256), a cache of about 68 slots
	dmsetup create wsmall --table "0 $((18 * 2048)) linear $C1 0"
	dmsetup mknodes wsmall
	dd if=/dev/zero of=/dev/mapper/wsmall bs=1M count=2 oflag=direct status=none
	start_daemon
	rcachectl create q11 --origin file:///data/img --cache /dev/mapper/wsmall --block-size 256K \
		--no-prefetch
	local slots out
	slots=$(field q11 slots)
	out=$(timeout 120 rcachectl warmup q11 --wait 2>&1) || die "warm-up did not finish: $out"
	echo "$out" | tail -n 1
	echo "$out" | grep -q "warming 256 blocks into a cache of $slots slots" || die "no warning: $out"
	assert_ge "$(field q11 evictions)" $((256 - slots)) "evictions while warming"
	assert_le "$(field q11 cached_blocks)" "$slots" "cached blocks"
	assert_eq "$(field q11 warmup_errors)" 0 "warm-up errors"
	assert_eq "$(sha_dev /dev/mapper/q11 $SIZE)" "$SHA" "sha256 through the small cache"
	rcachectl remove q11
	dmsetup remove wsmall
}

test_warmup_resumes_after_daemon_kill() {
	slow_origin 100
	start_daemon --max-fills 2
	rcachectl create q6 --origin file:///dev/mapper/slow --cache $C0 --no-prefetch --daemon-timeout 60
	rcachectl warmup q6 2>/dev/null
	sleep 1
	local before
	before=$(field q6 cached_blocks)
	kill9_daemon
	assert_le "$before" 60 "blocks warmed before the kill"
	sleep 2
	start_daemon
	local i
	for i in $(seq 1 120); do
		[ "$(field q6 warmup_pending)" = 0 ] && break
		sleep 0.5
	done
	assert_eq "$(field q6 warmup_pending)" 0 "warm-up pending after the restart"
	assert_eq "$(field q6 warmup_errors)" 0 "warm-up errors"
	assert_eq "$(field q6 cached_blocks)" 64 "blocks warmed in all"
	echo "warmed $before blocks before the kill, the rest after the restart"
	assert_eq "$(dd if=/dev/mapper/q6 bs=1M iflag=direct status=none | sha256sum | cut -d' ' -f1)" "$SHA" "sha256"
	assert_eq "$(field q6 read_misses)" 0 "demand misses after the warm-up"
	rcachectl remove q6
	dmsetup remove --retry slow
}

# a workload of 200 scattered 64 KiB blocks in a fixed shuffled order
workload() {
	python3 - "$1" <<'PY'
import os, random, sys, mmap
fd = os.open(sys.argv[1], os.O_RDONLY | os.O_DIRECT)
buf = mmap.mmap(-1, 65536)
blocks = list(range(1024))
random.Random(5).shuffle(blocks)
for b in blocks[:200]:
    os.preadv(fd, [buf], b * 65536)
PY
}

test_trace_record_and_replay() {
	start_daemon
	rcachectl create q7 --origin file:///data/img --cache $C0 --block-size 64K --no-prefetch
	rcachectl trace record q7 --out /data/trace --duration 30 2>/data/trace.log &
	local rec=$!
	sleep 0.5
	workload /dev/mapper/q7
	local cold
	cold=$(field q7 read_misses)
	kill -INT $rec
	wait $rec || die "trace record failed: $(cat /data/trace.log)"
	cat /data/trace.log
	head -n 1 /data/trace | grep -q "^rcache-trace 1 block_size=65536" || die "bad trace header"
	assert_eq "$(($(wc -l </data/trace) - 1))" 200 "blocks in the trace"
	rcachectl remove q7
	# a fresh cache: replay the trace, then run the same workload
	rcachectl create q8 --origin file:///data/img --cache $C1 --block-size 64K --no-prefetch
	rcachectl warmup q8 --trace /data/trace --rate 100 --wait 2>/dev/null
	workload /dev/mapper/q8
	local replayed
	replayed=$(field q8 read_misses)
	echo "demand misses: $cold without replay, $replayed after replaying the trace"
	assert_ge "$cold" 200 "misses of the cold run"
	assert_le "$((replayed * 10))" "$cold" "misses after replay (at least 90% fewer)"
	rcachectl remove q8
	# a trace of another block size is refused
	rcachectl create q9 --origin file:///data/img --cache $C1 --reset
	assert_fails "replay with another block size" rcachectl warmup q9 --trace /data/trace
	rcachectl remove q9
}

# drain_trace NAME: reads the trace ring empty; prints "<lost> <entries>"
drain_trace() {
	local out lost=0 n=0
	while out=$(dmsetup message "$1" 0 trace read); do
		set -- "$1" $out
		lost=$2
		[ $# -gt 2 ] || break
		n=$((n + $# - 2))
	done
	echo "$lost $n"
}

test_trace_ring_overflow() {
	# 272 MiB in 4 KiB blocks: 69632 first reads, 4096 more than the ring
	truncate -s $((272 * MiB)) /data/sparse
	start_daemon
	rcachectl create q10 --origin file:///data/sparse --cache $C0 --block-size 4K --no-prefetch
	dmsetup message q10 0 trace start
	dd if=/dev/mapper/q10 of=/dev/null bs=1M iflag=direct status=none
	local r
	r=$(drain_trace q10)
	echo "after one pass: lost and recorded: $r"
	assert_eq "${r#* }" 65536 "blocks recorded while nobody drained the ring"
	assert_eq "${r% *}" 4096 "reads the full ring dropped"
	# the ring goes on after an overflow, and dropped blocks are recorded
	# when they are read again
	dd if=/dev/mapper/q10 of=/dev/null bs=1M iflag=direct status=none
	r=$(drain_trace q10)
	echo "after a second pass: $r"
	assert_eq "${r#* }" 4096 "dropped blocks recorded on the next read"
	dmsetup message q10 0 trace stop
	rcachectl remove q10
	rm -f /data/sparse
}

TESTS=(
	cold_sequential_prefetch_used test_cold_sequential_prefetch_used
	four_interleaved_streams test_four_interleaved_streams
	buffered_reader_detected test_buffered_reader_detected
	random_reads_little_waste test_random_reads_little_waste
	no_prefetch_and_messages test_no_prefetch_and_messages
	warmup_range_then_zero_misses test_warmup_range_then_zero_misses
	warmup_larger_than_cache test_warmup_larger_than_cache
	warmup_resumes_after_daemon_kill test_warmup_resumes_after_daemon_kill
	trace_record_and_replay test_trace_record_and_replay
	trace_ring_overflow test_trace_ring_overflow
)
t_run_all "$@"
cleanup_devices
exit 0
