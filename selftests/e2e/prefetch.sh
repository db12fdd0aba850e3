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
mount -t tmpfs -o size=400M data /data
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

# wait_idle NAME: until no fetch of the device is in flight
wait_idle() {
	local i
	for i in $(seq 1 200); do
		[ "$(field "$1" fetches_inflight)" = 0 ] && return 0
		sleep 0.1
	done
	die "$1: fetches still in flight after 20 s"
}

test_cold_sequential_prefetch_used() {
	start_daemon
	# 200 of 256 blocks, O_DIRECT, window 16: what was prefetched and not
	# read is bounded by the window, and counts as wasted once dropped
	rcachectl create q1 --origin file:///data/img --cache $C0 --block-size 256K --prefetch-window 16
	assert_eq "$(dd if=/dev/mapper/q1 bs=256K count=200 iflag=direct status=none | sha256sum | cut -d' ' -f1)" \
		"$(head -c $((200 * 256 * 1024)) /data/img | sha256sum | cut -d' ' -f1)" "sha256 of 200 blocks"
	wait_idle q1
	local issued used unused
	issued=$(field q1 prefetch_issued)
	used=$(field q1 prefetch_used)
	unused=$((issued - used))
	echo "200 of 256 blocks read, window 16: $issued blocks prefetched, $used used, $(field q1 read_misses) misses"
	assert_ge "$issued" 150 "prefetched blocks"
	assert_ge "$(ratio $used $issued)" 900 "prefetched blocks used (per mille)"
	assert_le "$unused" 16 "prefetched blocks past the reader (the window)"
	assert_ge "$unused" 1 "prefetched blocks past the reader"
	assert_eq "$(field q1 prefetch_wasted)" 0 "wasted before anything was dropped"
	rcachectl invalidate q1
	assert_eq "$(field q1 prefetch_wasted)" "$unused" "prefetched blocks dropped unread (wasted)"
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
		rm -f /data/part.$i
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

# big_origin FILE BYTES: a sparse file with 512 distinct bytes every 64 KiB
big_origin() {
	python3 - "$1" "$2" <<'PY'
import hashlib, sys
path, size = sys.argv[1], int(sys.argv[2])
with open(path, 'wb') as f:
    f.truncate(size)
    for off in range(0, size, 65536):
        f.seek(off)
        f.write(hashlib.sha256(off.to_bytes(8, 'little')).digest() * 16)
PY
}

test_random_reads_little_waste() {
	# 1 GiB in 64 KiB blocks (16384): 1500 random reads touch under 10% of
	# it, so blocks prefetched by mistake would mostly never be read
	big_origin /data/big $((1024 * MiB))
	start_daemon
	rcachectl create q3 --origin file:///data/big --cache $C0 --block-size 64K
	fio --name=r --filename=/dev/mapper/q3 --rw=randread --bs=4k --direct=1 --ioengine=io_uring \
		--iodepth=8 --number_ios=1500 --size=1G --randseed=7 --output=/dev/null
	wait_idle q3
	local issued fetched wasted
	issued=$(field q3 prefetch_issued)
	fetched=$(field q3 cached_blocks)
	rcachectl invalidate q3
	wasted=$(field q3 prefetch_wasted)
	echo "random 4 KiB over 1 GiB: $fetched blocks fetched, $issued prefetched, $wasted never read"
	assert_ge "$fetched" 1000 "blocks fetched"
	assert_le "$(ratio $issued $fetched)" 50 "prefetched blocks of those fetched (per mille)"
	assert_le "$(ratio $wasted $fetched)" 50 "prefetched blocks never read, of those fetched (per mille)"
	rangecheck /dev/mapper/q3 /data/big 8 50 100000 3 direct
	rcachectl remove q3
	rm -f /data/big
}

test_readahead_used_only_when_read() {
	start_daemon
	rcachectl create q13 --origin file:///data/img --cache $C0 --block-size 64K
	blockdev --setra 256 /dev/mapper/q13
	drop_caches
	# buffered 4 KiB reads of blocks 0 and 5: the page cache reads them with
	# readahead bios, whose misses are fetched as prefetches
	dd if=/dev/mapper/q13 of=/dev/null bs=4k count=1 status=none
	dd if=/dev/mapper/q13 of=/dev/null bs=4k skip=80 count=1 status=none
	wait_idle q13
	local issued
	issued=$(field q13 prefetch_issued)
	echo "readahead fetched $issued blocks; used $(field q13 prefetch_used)"
	assert_ge "$issued" 2 "readahead fetches"
	assert_eq "$(field q13 prefetch_used)" 0 "readahead fetches used before another read"
	# a read of block 0 that is not readahead: now it is used
	dd if=/dev/mapper/q13 of=/dev/null bs=4k skip=8 count=1 iflag=direct status=none
	assert_eq "$(field q13 prefetch_used)" 1 "used once read"
	rcachectl invalidate q13
	assert_eq "$(field q13 prefetch_wasted)" $((issued - 1)) "fetched by readahead, never read again"
	rcachectl remove q13
}

# A reader that has the device open already: reads the block numbers it is
# given on stdin, one at a time with O_DIRECT, and prints each read's ms.
block_reader() {
	python3 -u -c '
import mmap, os, sys, time
fd = os.open(sys.argv[1], os.O_RDONLY | os.O_DIRECT)
bs = int(sys.argv[2])
buf = mmap.mmap(-1, bs)
for line in sys.stdin:
    t = time.monotonic()
    os.preadv(fd, [buf], int(line) * bs)
    print(int((time.monotonic() - t) * 1000))
' "$@"
}

# fills_between FROM START END: in rcached's debug log from line FROM, the
# prefetch and warm-up fills that finished between the first line that
# contains START and the next that contains END; -1 if there is no such pair
fills_between() {
	tail -n +"$1" "$LOGS/rcached.log" | awk -v s="$2" -v e="$3" '
		!on && index($0, s) { on = 1; next }
		on && index($0, e) { print n + 0; found = 1; exit }
		on && /, prefetch\): done/ { n++ }
		END { if (!found) print -1 }'
}

# A backlog of warm-up fills on a slow origin (300 ms a read), the daemon
# serving 2 fills at a time: demand reads go first, whether of a block
# nobody asked for or of one the daemon holds as a warm-up fill.  The order
# comes from the daemon's log; the reads' times are shown and bounded.
test_demand_ahead_of_backlog() {
	slow_origin 300
	start_daemon --max-fills 2 -v
	rcachectl create q14 --origin file:///dev/mapper/slow --cache $C0 --block-size 256K --no-prefetch
	local one ms i n far mark
	coproc READER { block_reader /dev/mapper/q14 262144; }
	echo 250 >&"${READER[1]}"
	read -r one <&"${READER[0]}"
	mark=$(($(wc -l <"$LOGS/rcached.log") + 1))
	rcachectl warmup q14 --range 0-48M 2>/dev/null
	for i in $(seq 1 100); do
		[ "$(field q14 fetches_inflight)" -ge 30 ] && break
		sleep 0.1
	done
	assert_ge "$(field q14 fetches_inflight)" 30 "warm-up fills in flight"
	# (a) a block nobody asked for: ahead of the fills waiting at the daemon
	echo 240 >&"${READER[1]}"
	read -r ms <&"${READER[0]}"
	n=$(fills_between "$mark" "(block 240): waits for room" "(block 240): done")
	echo "one block alone: $one ms; behind 30 warm-up fills: $ms ms, while $n warm-up fills finished"
	assert_ge "$n" 0 "the demand fill waited for room and was done (rcached -v log)"
	assert_le "$n" 4 "warm-up fills done while the demand fill waited"
	assert_le "$ms" $((4 * one + 100)) "ms for the demand read (4 x one block alone)"
	# (b) a block the daemon holds as a warm-up fill, about 24th in its queue
	far=$(($(dmsetup status q14 | awk '{ split($5, c, "/"); print c[1] }') - 2 + 24))
	echo "$far" >&"${READER[1]}"
	read -r ms <&"${READER[0]}"
	n=$(fills_between "$mark" "(block $far): awaited now, ahead" "(block $far): done")
	echo "block $far, queued at the daemon as a warm-up fill: $ms ms, while $n warm-up fills finished"
	assert_ge "$n" 0 "the fill was upgraded and done (rcached -v log)"
	assert_le "$n" 4 "warm-up fills done while the upgraded fill waited"
	assert_le "$ms" $((4 * one + 100)) "ms for the upgraded read (4 x one block alone)"
	exec {READER[1]}>&-
	wait "$READER_PID" 2>/dev/null || true
	for i in 240 250 $far; do
		assert_eq "$(dd if=/dev/mapper/q14 bs=256K skip=$i count=1 iflag=direct status=none | sha256sum)" \
			"$(dd if=/data/img bs=256K skip=$i count=1 status=none | sha256sum)" "bytes of block $i"
	done
	dmsetup message q14 0 warmup stop
	rcachectl remove q14
	# the daemon lets go of the origin once the fills it still held are done
	for i in $(seq 1 60); do
		dmsetup remove slow 2>/dev/null && return 0
		sleep 0.5
	done
	die "the slow origin is still open 30 s after the remove"
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

test_warmup_progress_bar() {
	start_daemon
	rcachectl create q15 --origin file:///data/img --cache $C0 --no-prefetch
	# on a terminal: one line redrawn in place
	script -qfec "rcachectl warmup q15 --range 0-32M --rate 8 --wait" /data/typescript >/dev/null ||
		die "warm-up failed: $(tr '\r' '\n' </data/typescript | tail -n 2)"
	local frames
	frames=$(tr -cd '\r' </data/typescript | wc -c)
	tr '\r' '\n' </data/typescript | grep -v '^$' | tail -n 2
	assert_ge "$frames" 5 "progress bar redraws"
	tr '\r' '\n' </data/typescript | grep -qE \
		'^q15 \[[#.]{30}\] +[0-9]+\.[0-9]% [0-9.]+ (B|KiB|MiB) / 32\.0 MiB +[0-9.]+ MB/s +ETA +[0-9]+ s' ||
		die "no bar with bytes, %, MB/s and ETA"
	tr '\r' '\n' </data/typescript | grep -qE '^q15 \[#{30}\] 100\.0% 32\.0 MiB / 32\.0 MiB' ||
		die "the bar does not end at 100%"
	assert_eq "$(field q15 cached_blocks)" 32 "blocks warmed"
	rcachectl remove q15
}

test_warmup_wait_fails() {
	# an origin whose blocks 16-19 cannot be read (dm-error)
	dd if=/data/img of=$O0 bs=1M oflag=direct status=none
	dmsetup create holey --table "0 32768 linear $O0 0
32768 8192 error
40960 $((SIZE / 512 - 40960)) linear $O0 40960"
	dmsetup mknodes holey
	start_daemon
	rcachectl create q16 --origin file:///dev/mapper/holey --cache $C0 --no-prefetch
	local out rc=0
	out=$(rcachectl warmup q16 --range 8M-32M --wait 2>&1) || rc=$?
	echo "$out" | tail -n 1
	assert_eq "$rc" 1 "exit status of a warm-up whose range failed"
	echo "$out" | grep -q "4 blocks failed to fetch" || die "no failure message: $out"
	assert_eq "$(field q16 warmup_errors)" 4 "blocks that failed"
	assert_eq "$(field q16 cached_blocks)" 20 "blocks warmed around the hole"
	rcachectl warmup q16 --range 0-8M --wait 2>/dev/null || die "warm-up of a readable range failed"
	rcachectl remove q16
	dmsetup remove --retry holey
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
	readahead_used_only_when_read test_readahead_used_only_when_read
	demand_ahead_of_backlog test_demand_ahead_of_backlog
	no_prefetch_and_messages test_no_prefetch_and_messages
	warmup_range_then_zero_misses test_warmup_range_then_zero_misses
	warmup_progress_bar test_warmup_progress_bar
	warmup_wait_fails test_warmup_wait_fails
	warmup_larger_than_cache test_warmup_larger_than_cache
	warmup_resumes_after_daemon_kill test_warmup_resumes_after_daemon_kill
	trace_record_and_replay test_trace_record_and_replay
	trace_ring_overflow test_trace_ring_overflow
)
t_run_all "$@"
cleanup_devices
exit 0
