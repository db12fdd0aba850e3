# SPDX-License-Identifier: GPL-2.0-only
# Benchmark helpers (sourced after lib.sh, inside the VM).  Each comparison
# runs its two sides interleaved, A B A B ..., and reports the median of the
# per-pair ratios; single figures under TCG swing by +-30%.

BENCH_PAIRS=${BENCH_PAIRS:-5}
REPORT=$OUT/bench-report.txt

# fio_run DEV OFFSET SIZE seq|rand [RUNTIME]: prints MB/s (seq) or IOPS (rand)
fio_run() {
	local dev=$1 offset=$2 size=$3 mode=$4 runtime=${5:-3}
	local args=(--name=b --filename="$dev" --offset="$offset" --size="$size" --direct=1
		--ioengine=io_uring --time_based --runtime="$runtime" --output-format=json)
	if [ "$mode" = seq ]; then
		args+=(--rw=read --bs=1M --iodepth=1)
	else
		args+=(--rw=randread --bs=4k --iodepth=32 --randrepeat=0)
	fi
	fio "${args[@]}" | python3 -c "
import json, sys
j = json.load(sys.stdin)['jobs'][0]['read']
print('%.1f' % (j['bw_bytes'] / 1e6 if '$mode' == 'seq' else j['iops']))"
}

# median of the arguments
median() {
	printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'
}

# compare NAME UNIT "LABEL_A" CMD_A "LABEL_B" CMD_B
# CMD_* print one number (higher is better); ratio = B / A.
compare() {
	local name=$1 unit=$2 la=$3 ca=$4 lb=$5 cb=$6 i a b
	local -a as=() bs=() rs=()
	for ((i = 0; i < BENCH_PAIRS; i++)); do
		a=$(eval "$ca")
		b=$(eval "$cb")
		as+=("$a")
		bs+=("$b")
		rs+=("$(python3 -c "print('%.3f' % ($b / $a if $a else 0))")")
	done
	local line
	line=$(printf '%-34s %s/%s median %s  (%s %s %s, %s %s %s; pairs: %s)' "$name" "$lb" "$la" \
		"$(median "${rs[@]}")" "$la" "$(median "${as[@]}")" "$unit" "$lb" \
		"$(median "${bs[@]}")" "$unit" "${rs[*]}")
	echo "BENCH $line" | tee -a "$REPORT"
}

# note TEXT: a line of context in the report
note() {
	echo "NOTE  $*" | tee -a "$REPORT"
}

# ratio B A: B / A to three places (0 when A is 0)
ratio() {
	python3 -c "print('%.3f' % ($1 / $2 if $2 else 0))"
}

# hit_path seq|rand NAME UNIT RAW_DEV RAW_OFFSET RCACHE_DEV LINEAR_DEV SIZE
# The hit path's cost against dm-linear's (issue 11, item 16): BENCH_PAIRS
# rounds of raw, rcache, dm-linear, raw again (rcache and dm-linear swap
# places every other round, against drift).  Each round gives rcache/raw and
# dm-linear/raw (raw: the mean of the round's two raw runs), their quotient
# rcache/dm-linear, and raw/raw (the second raw run against the first: the
# noise of one round).  The target: rcache/raw is at least 95% of
# dm-linear/raw, i.e. the median of the rounds' rcache/dm-linear is >= 0.95
# (paired within a round, so drift between rounds cancels).
hit_path() {
	local mode=$1 name=$2 unit=$3 raw=$4 off=$5 rdev=$6 ldev=$7 size=$8 i r1 r2 rc ln rawm
	local -a rcs=() lns=() raws=() rr=() lr=() rl=() cal=()
	for ((i = 0; i < BENCH_PAIRS; i++)); do
		r1=$(fio_run "$raw" "$off" "$size" "$mode")
		if ((i % 2 == 0)); then
			rc=$(fio_run "$rdev" 0 "$size" "$mode")
			ln=$(fio_run "$ldev" 0 "$size" "$mode")
		else
			ln=$(fio_run "$ldev" 0 "$size" "$mode")
			rc=$(fio_run "$rdev" 0 "$size" "$mode")
		fi
		r2=$(fio_run "$raw" "$off" "$size" "$mode")
		rawm=$(python3 -c "print('%.1f' % (($r1 + $r2) / 2))")
		raws+=("$rawm")
		rcs+=("$rc")
		lns+=("$ln")
		rr+=("$(ratio "$rc" "$rawm")")
		lr+=("$(ratio "$ln" "$rawm")")
		rl+=("$(ratio "$rc" "$ln")")
		cal+=("$(ratio "$r2" "$r1")")
	done
	local mr ml mrl mc
	mr=$(median "${rr[@]}")
	ml=$(median "${lr[@]}")
	mrl=$(median "${rl[@]}")
	mc=$(median "${cal[@]}")
	{
		printf 'BENCH %-28s rcache/raw median %s  (raw %s %s, rcache %s %s; rounds: %s)\n' \
			"$name" "$mr" "$(median "${raws[@]}")" "$unit" "$(median "${rcs[@]}")" "$unit" "${rr[*]}"
		printf 'BENCH %-28s dm-linear/raw median %s  (dm-linear %s %s; rounds: %s)\n' \
			"$name" "$ml" "$(median "${lns[@]}")" "$unit" "${lr[*]}"
		printf 'BENCH %-28s rcache/dm-linear median %s  (rounds: %s)\n' "$name" "$mrl" "${rl[*]}"
		printf 'BENCH %-28s raw/raw median %s  (calibration, the raw disk against itself; rounds: %s)\n' \
			"$name" "$mc" "${cal[*]}"
	} | tee -a "$REPORT"
	local verdict=FAIL cmp="<"
	if python3 -c "import sys; sys.exit(0 if $mrl >= 0.95 else 1)"; then
		verdict=PASS cmp=">="
	fi
	echo "$verdict: bench/$name: rcache/dm-linear $mrl $cmp 0.95 (rcache/raw $mr, dm-linear/raw $ml; raw/raw $mc, from $(printf '%s\n' "${cal[@]}" | sort -g | head -n 1) to $(printf '%s\n' "${cal[@]}" | sort -g | tail -n 1))" |
		tee -a "$REPORT"
}
