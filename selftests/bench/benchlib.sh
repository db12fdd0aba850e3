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
