#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# Issue 4 benchmark, inside the VM: hit rate on zipf block traces with a cache
# of 25% of the origin, and on a loop over 1.25 times the cache (issue 11).  The same trace (tracereplay gen) is replayed, one
# O_DIRECT read of one block per access, in trace order, against
#   - rcache: file:// origin on tmpfs, demand fills only (no_prefetch);
#   - dm-cache, smq policy, writethrough: origin = a virtio disk holding the
#     same image, cache = a disk of exactly as many blocks as rcache has slots;
# and simulated offline for LRU, Belady's optimum (OPT) and the static cache of
# the most frequent blocks (TOP).  Hit rates count the second half of the
# trace; the first half warms the cache.  Hit rates are deterministic up to
# the timing of background work (fills, smq promotions): one run per policy.
source "$RCACHE_TOP/selftests/lib.sh"
source "$RCACHE_TOP/selftests/bench/benchlib.sh"

RC_CACHE=$(disk 0)	# rcache cache: 1 MiB of superblock + metadata, then the slots
DC_DATA=$(disk 1)	# dm-cache cache blocks
DC_META=$(disk 2)	# dm-cache metadata
DC_ORIGIN=$(disk 3)	# dm-cache origin: the image
MiB=$((1024 * 1024))
SIZE=${HR_SIZE:-$((256 * MiB))}
BS=${HR_BLOCK:-$((64 * 1024))}
BLOCKS=$((SIZE / BS))
SLOTS=$((BLOCKS / 4))
ACCESSES=${HR_ACCESSES:-40000}
WARM=$((ACCESSES / 2))
SEED=${HR_SEED:-4242}
THETAS=${HR_THETAS:-0.9 1.2}
THREADS=1
SMQ_RATE=${HR_SMQ_RATE:-250}	# accesses/s for the paced smq run

mkdir -p /data
mount -t tmpfs -o size=$((SIZE / MiB + 64))M tmp /data
make_origin /data/img $SIZE 7
dd if=/data/img of=$DC_ORIGIN bs=1M oflag=direct status=none
load_module
start_daemon
note "origin $((SIZE / MiB)) MiB = $BLOCKS blocks of $((BS / 1024)) KiB, cache $SLOTS blocks (25%);" \
	"$ACCESSES zipf accesses (seed $SEED), hit rate over the last $((ACCESSES - WARM)), $THREADS reader," \
	"one run per policy and theta; $(nproc) vCPUs under TCG"
note "smq runs twice: at full speed, and paced at $SMQ_RATE accesses/s (its cache period is 60 s" \
	"of wall clock); the ratio is against the better of the two"

# hr_fail MSG: a failure, in the results and in the report
hr_fail() {
	t_fail bench/hitrate "$1"
	note "FAIL: $1"
}

# pct HITS MISSES
pct() {
	python3 -c "print('%.2f' % (100.0 * $1 / ($1 + $2) if $1 + $2 else 0))"
}

# replay DEV FROM TO [RATE]: the accesses [FROM, TO) of $TRACE
replay() {
	local n
	n=$(tracereplay replay "$1" $BS "$2" "$3" $THREADS "$TRACE" ${4:-}) ||
		hr_fail "replay on $1 failed"
	[ "$n" = $(($3 - $2)) ] || hr_fail "replay on $1: $n reads of $(($3 - $2))"
}

# rcache_run: sets HITS, MISSES and EXTRA
rcache_run() {
	local h0 m0 h1 m1 slots t0 cached
	dd if=/dev/zero of=$RC_CACHE bs=1M count=2 oflag=direct status=none
	dmesg -c >/dev/null
	rcachectl create hr --origin file:///data/img --cache $RC_CACHE --block-size $BS \
		--no-prefetch >/dev/null || { hr_fail "rcachectl create failed"; return 1; }
	slots=$(field hr slots)
	[ "$slots" = $SLOTS ] || hr_fail "rcache has $slots slots, wanted $SLOTS"
	MEMLINE=$(dmesg | grep -m1 'bytes of state per origin block' | sed 's/^\[[^]]*\] *//')
	t0=$(date +%s)
	replay /dev/mapper/hr 0 $WARM
	h0=$(field hr read_hits)
	m0=$(field hr read_misses)
	replay /dev/mapper/hr $WARM $ACCESSES
	h1=$(field hr read_hits)
	m1=$(field hr read_misses)
	EXTRA="$(field hr evictions) evictions, $(($(date +%s) - t0)) s"
	cached=$(field hr cached_blocks)
	[ "$cached" -le $SLOTS ] ||
		note "rcache status: cached_blocks $cached exceeds the $SLOTS slots"
	rcachectl remove hr >/dev/null
	[ $((h1 - h0 + m1 - m0)) = $((ACCESSES - WARM)) ] ||
		note "rcache counted $((h1 - h0 + m1 - m0)) reads for $((ACCESSES - WARM)) accesses"
	HITS=$((h1 - h0))
	MISSES=$((m1 - m0))
}

# smq_run [RATE]: sets HITS, MISSES and EXTRA; RATE paces the replay
# (accesses/s), since smq adapts by wall-clock periods.  dm-cache status:
# <start> <len> cache <md bs> <md used/total> <cache bs> <cache used/total>
# <read hits> <read misses> <write hits> <write misses> <demotions>
# <promotions> <dirty> ...
smq_run() {
	local s0 s1 t0
	dd if=/dev/zero of=$DC_META bs=1M count=8 oflag=direct status=none
	dmsetup create hrc --table "0 $((SIZE / 512)) cache $DC_META $DC_DATA $DC_ORIGIN $((BS / 512)) 1 writethrough smq 0" ||
		{ hr_fail "dm-cache create failed"; return 1; }
	dmsetup mknodes hrc
	[ "$(dmsetup status hrc | awk '{split($7, a, "/"); print a[2]}')" = $SLOTS ] ||
		hr_fail "dm-cache has $(dmsetup status hrc | awk '{print $7}') cache blocks, wanted $SLOTS"
	t0=$(date +%s)
	replay /dev/mapper/hrc 0 $WARM ${1:-}
	s0=($(dmsetup status hrc))
	replay /dev/mapper/hrc $WARM $ACCESSES ${1:-}
	s1=($(dmsetup status hrc))
	EXTRA="${s1[6]} cache blocks used, ${s1[12]} promotions, ${s1[11]} demotions, $(($(date +%s) - t0)) s"
	dmsetup remove hrc
	[ $((s1[7] - s0[7] + s1[8] - s0[8])) = $((ACCESSES - WARM)) ] ||
		note "dm-cache counted $((s1[7] - s0[7] + s1[8] - s0[8])) reads for $((ACCESSES - WARM)) accesses"
	HITS=$((s1[7] - s0[7]))
	MISSES=$((s1[8] - s0[8]))
}

# compare NAME: rcache, smq and smq paced on $TRACE (accesses [$WARM,
# $ACCESSES) counted); sets RC (rcache's hit rate, %) and BEST_SMQ
compare() {
	local sim lru opt top rh rm rc_extra sh sm smq_extra ph pm paced_extra smq paced ratio
	sim=$(tracereplay sim $SLOTS $WARM $TRACE)
	lru=$(awk '$1 == "lru" {print $4}' <<<"$sim")
	opt=$(awk '$1 == "opt" {print $4}' <<<"$sim")
	top=$(awk '$1 == "top" {print $4}' <<<"$sim")
	HITS= MISSES= EXTRA=
	rcache_run || return 1
	rh=$HITS rm=$MISSES rc_extra=$EXTRA
	HITS= MISSES= EXTRA=
	smq_run || return 1
	sh=$HITS sm=$MISSES smq_extra=$EXTRA
	HITS= MISSES= EXTRA=
	smq_run $SMQ_RATE || return 1
	ph=$HITS pm=$MISSES paced_extra=$EXTRA
	RC=$(pct "$rh" "$rm")
	smq=$(pct "$sh" "$sm")
	paced=$(pct "$ph" "$pm")
	BEST_SMQ=$(python3 -c "print(max($smq, $paced))")
	ratio=$(python3 -c "print('%.3f' % ($RC / $BEST_SMQ if $BEST_SMQ else 0))")
	note "$1 rcache:    $rh hits, $rm misses ($rc_extra)"
	note "$1 smq:       $sh hits, $sm misses ($smq_extra)"
	note "$1 smq paced: $ph hits, $pm misses ($paced_extra)"
	echo "BENCH hitrate $1 rcache/smq ratio $ratio (rcache $RC%, smq $smq%, smq paced $paced%, lru $lru%, opt $opt%, top-$SLOTS $top%)" |
		tee -a "$REPORT"
}

for theta in $THETAS; do
	TRACE=/data/zipf$theta.bin
	tracereplay gen $BLOCKS $ACCESSES $theta $SEED $TRACE
	compare zipf$theta || continue
done

# A loop (cyclic scan) over 1.25 times the cache, three passes, the last
# two counted: an LRU hits nothing; the optimum keeps a cache-full of it
# (cache / loop).  Target: >= 90% of that, and >= smq.
LOOP_BLOCKS=$((SLOTS * 5 / 4))
TRACE=/data/loop.bin
tracereplay loop $LOOP_BLOCKS 3 $TRACE
ACCESSES=$((3 * LOOP_BLOCKS))
WARM=$LOOP_BLOCKS
if compare loop1.25; then
	optimum=$(python3 -c "print('%.2f' % (100.0 * $SLOTS / $LOOP_BLOCKS))")
	echo "BENCH hitrate loop1.25 rcache/optimum ratio $(python3 -c "print('%.3f' % ($RC / $optimum))") (rcache $RC%, optimum cache/loop $optimum%)" |
		tee -a "$REPORT"
	python3 -c "import sys; sys.exit(not ($RC >= 0.9 * $optimum))" ||
		hr_fail "loop: rcache $RC% < 90% of the optimum $optimum%"
	python3 -c "import sys; sys.exit(not ($RC >= $BEST_SMQ))" ||
		hr_fail "loop: rcache $RC% < smq $BEST_SMQ%"
fi
[ -n "${MEMLINE:-}" ] && note "kernel memory: $MEMLINE" ||
	hr_fail "no 'bytes of state per origin block' line in dmesg"
stop_daemon
exit 0
