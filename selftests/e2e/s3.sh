#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# S3 origin tests (issue 3) against s3rver (npm) behind our fault-injecting,
# SigV4-checking proxy (selftests/s3/s3proxy.py), in one VM boot:
#   vm-run --disk c0:128 --disk c1:128 s3.sh [TEST...]
# The radosgw and CephFS tests are in s3-ceph.sh.  The proxy accepts only
# signatures made for region eu-west-3 (not the default us-east-1), so every
# test also checks that the region was found where it was set.
source "$RCACHE_TOP/selftests/lib.sh"

S3DIR=$T/selftests/s3
C0=$(disk 0)
C1=$(disk 1)
MiB=$((1024 * 1024))
S3RVER_PORT=45100
PROXY_PORT=45200
PROXY=http://127.0.0.1:$PROXY_PORT
TLS_PORT=45300
METRICS=127.0.0.1:45400
REGION=eu-west-3
AK=AKRCACHETEST
SK=rcache-test-secret-key-0123456789
mkdir -p /data

# Every test talks to s3rver through the proxy, which checks each request's
# SigV4 signature with botocore's signer.
"$S3DIR/s3rver.sh" up /data/s3rver $S3RVER_PORT bkt >/dev/null || t_fail s3/s3rver-up "s3rver did not start"
printf '{"%s": {"secret": "%s"}, "AKTOKEN": {"secret": "%s", "token": "SESSION-TOKEN-42"}}' \
	"$AK" "$SK" "$SK" >/data/keys.json
echo "web-identity-token-1" >/data/token
/usr/bin/python3 "$S3DIR/s3proxy.py" --upstream http://127.0.0.1:$S3RVER_PORT --port $PROXY_PORT \
	--quiet --verify-keys /data/keys.json --region $REGION --sts-token-file /data/token \
	--sts-duration 12 --log "$LOGS/proxy.log" >"$LOGS/proxy.out" 2>&1 &
for _ in $(seq 1 100); do
	curl -sf -o /dev/null $PROXY/__proxy/health && break
	sleep 0.1
done

# cfg_default [LINE...]: rcached.conf's [daemon] section, plus LINEs, which
# replace a default of the same key (a key twice is an error).  Short
# backoffs keep retries quick.  The stall timeout stays the default (10 s),
# so that a slow guest on a loaded host is not taken for a stalled server;
# the tests of stalls set a shorter one.
cfg_default() {
	local d l
	{
		echo '[daemon]'
		for d in 'http_retries = 6' 'http_backoff_ms = 20' 'http_backoff_max_ms = 200'; do
			for l in "$@"; do [ "${l%% *}" != "${d%% *}" ] || continue 2; done
			echo "$d"
		done
		printf '%s\n' "$@"
	} >/data/rcached.conf
}
cfg_default
export RCACHE_CONFIG=/data/rcached.conf

creds() {
	export AWS_ACCESS_KEY_ID=$AK AWS_SECRET_ACCESS_KEY=$SK AWS_ENDPOINT_URL=$PROXY AWS_REGION=$REGION
	unset AWS_SESSION_TOKEN AWS_PROFILE AWS_WEB_IDENTITY_TOKEN_FILE AWS_ROLE_ARN AWS_ENDPOINT_URL_STS
	unset AWS_DEFAULT_REGION AWS_NO_SIGN_REQUEST AWS_CA_BUNDLE
}
creds

# put KEY FILE: upload straight to s3rver (it checks no signature); KEY as
# it goes in a URL
put() {
	curl -sf -X PUT --data-binary @"$2" "http://127.0.0.1:$S3RVER_PORT/bkt/$1" -o /dev/null
}

proxy_config() {
	curl -sf -X POST -d "$1" $PROXY/__proxy/config -o /dev/null || die "proxy config $1 refused"
}

proxy_reset() {
	curl -sf -X POST $PROXY/__proxy/reset -o /dev/null
	proxy_config '{"fail_rate": 0, "fail_count": 0, "fail_range": null, "ttfb_ms": 0, "bandwidth_bps": 0,
		"fail_kinds": ["503","slowdown","500","502","504","reset","truncate","overlong","stall"],
		"fail_methods": ["GET"], "reset_mode": "random", "overlong_mode": "random", "stall_ms": 60000,
		"replace_etag_412": false, "allow_anonymous": false, "strip_headers": []}'
}

# stat EXPR: a value from the proxy's stats, e.g. stat "s['gets']"
stat() {
	curl -sf "$PROXY/__proxy/stats?recent=1000" | python3 -c "import json,sys; s=json.load(sys.stdin); print($1)"
}

# max_overlap MARK: the most GETs the proxy served at once, from the lines of
# its request log after line MARK.  Each GET's [t, t_done] (request read,
# last write begun) lies within the client's view of it, unless the client
# gave up on it (those end in an error, and are left out).
max_overlap() {
	tail -n +$(($1 + 1)) "$LOGS/proxy.log" | python3 -c '
import json, sys
ev = []
for line in sys.stdin:
    r = json.loads(line)
    if r["method"] == "GET" and "t_done" in r and not r.get("error"):
        ev += [(r["t"], 1), (r["t_done"], -1)]
n = peak = 0
for _, d in sorted(ev):
    n += d
    peak = max(peak, n)
print(peak)'
}

# blocks_sha DEV FIRST COUNT BLOCK / file_sha FILE FIRST COUNT BLOCK: sha256
# of COUNT blocks from block FIRST
blocks_sha() {
	dd if="$1" bs="$4" skip="$2" count="$3" iflag=direct status=none | sha256sum | cut -d' ' -f1
}
file_sha() {
	dd if="$1" bs="$4" skip="$2" count="$3" status=none | sha256sum | cut -d' ' -f1
}

wipe() {
	dd if=/dev/zero of="$1" bs=1M count=8 oflag=direct status=none
}

t_after() {
	wipe $C0
	wipe $C1
	proxy_reset
	cfg_default
	creds
}

OBJ_SIZE=$((20 * MiB + 12345))
make_origin /data/obj $OBJ_SIZE 21
put obj /data/obj
OBJ_SHA=$(sha_file /data/obj)
load_module

test_sha_cold_warm_concurrent() {
	start_daemon
	rcachectl create s1 --origin s3://bkt/obj --cache $C0 --block-size 256K
	rcachectl table s1 | grep -q "identity size=$OBJ_SIZE,etag=" || die "no ETag recorded in the table"
	rangecheck /dev/mapper/s1 /data/obj 16 40 600000 5 direct
	assert_eq "$(sha_dev /dev/mapper/s1 $OBJ_SIZE)" "$OBJ_SHA" "cold sha256"
	local gets misses
	gets=$(stat "s['gets']")
	misses=$(field s1 read_misses)
	drop_caches
	assert_eq "$(sha_dev /dev/mapper/s1 $OBJ_SIZE)" "$OBJ_SHA" "warm sha256"
	# 16 readers of the whole device at once, O_DIRECT, warm
	assert_eq "$(sha_readers /dev/mapper/s1 $OBJ_SIZE 16 | sort | uniq -c | awk '{print $1, $2}')" \
		"16 $OBJ_SHA" "warm sha256 of 16 concurrent readers"
	assert_eq "$(field s1 read_misses)" "$misses" "misses in the warm passes"
	assert_eq "$(stat "s['gets']")" "$gets" "GETs in the warm passes"
	# every request carried If-Match and a good SigV4 signature
	assert_eq "$(stat "sum(1 for r in s['recent'] if r['method'] == 'GET' and not r['if_match'])")" 0 "GETs without If-Match"
	assert_eq "$(stat "sum(s['sigv4']['rejected'].values())")" 0 "requests whose signature botocore rejected"
	assert_ge "$(stat "s['sigv4']['ok']")" 10 "signatures botocore checked"
	assert_eq "$(stat "s['by_method'].get('HEAD', 0)")" 1 "HEADs (one, at create)"
	rcachectl remove s1
}

test_coalescing_and_parallelism() {
	# no GET is given up for a slow one here (a loaded host can take seconds
	# per GET): the log then holds only GETs the daemon had in flight
	local stall="http_stall_timeout = 120"
	cfg_default "$stall"
	start_daemon
	# demand misses only: the GETs counted are the reads' own
	rcachectl create s2 --origin s3://bkt/obj --cache $C0 --block-size 256K --no-prefetch
	# 4 MiB O_DIRECT reads arrive as 16 block misses at once: few GETs each
	dd if=/dev/mapper/s2 of=/dev/null bs=4M count=4 iflag=direct status=none
	local gets
	gets=$(stat "s['gets']")
	echo "16 MiB in 4 MiB reads: $gets GETs for 64 blocks"
	assert_le "$gets" 16 "GETs for 64 blocks read 16 at a time"
	assert_ge "$(stat "max(int(r['range'].split('-')[1]) - int(r['range'].split('=')[1].split('-')[0]) + 1 for r in s['recent'] if r['method'] == 'GET')")" $((1 * MiB)) "largest GET"
	# the upper limit: coalesce = 1M, below coalesce_min (2M), binds
	rcachectl remove s2
	stop_daemon
	cfg_default "$stall" "coalesce = 1M"
	start_daemon
	wipe $C0
	rcachectl create s2 --origin s3://bkt/obj --cache $C0 --block-size 256K --no-prefetch
	curl -sf -X POST $PROXY/__proxy/reset -o /dev/null
	dd if=/dev/mapper/s2 of=/dev/null bs=4M count=4 iflag=direct status=none
	echo "with coalesce = 1M: $(stat "s['gets']") GETs"
	assert_eq "$(stat "max(int(r['range'].split('-')[1]) - int(r['range'].split('=')[1].split('-')[0]) + 1 for r in s['recent'] if r['method'] == 'GET')")" $((1 * MiB)) "largest GET with coalesce = 1M"
	assert_ge "$(stat "s['gets']")" 16 "GETs for 16 MiB with coalesce = 1M"
	rcachectl remove s2
	# slow first bytes: many GETs in flight at once, over reused connections
	proxy_config '{"ttfb_ms": 300}'
	wipe $C0
	rcachectl create s2 --origin s3://bkt/obj --cache $C0 --block-size 64K
	curl -sf -X POST $PROXY/__proxy/reset -o /dev/null
	local mark peak=0 n
	mark=$(wc -l <"$LOGS/proxy.log")
	rangecheck /dev/mapper/s2 /data/obj 16 6 60000 9 direct &
	local reader=$!
	while kill -0 $reader 2>/dev/null; do
		n=$(stat "s['active_connections']")
		[ "$n" -gt "$peak" ] && peak=$n
		sleep 0.1
	done
	wait $reader
	echo "peak connections with GETs in flight: $peak; connections opened: $(stat "s['connections']"); GETs: $(stat "s['gets']"); most GETs at once (log): $(max_overlap "$mark")"
	assert_ge "$peak" 8 "GETs in flight at once"
	assert_ge "$(max_overlap "$mark")" 8 "GETs at once in the proxy's log"
	assert_le "$(max_overlap "$mark")" 16 "GETs at once in the proxy's log (http_parallel 16)"
	# reuse: far fewer connections than GETs (a loaded host may let a few
	# more open than GETs run at once, as the server lags closing them)
	assert_le "$(stat "s['connections']")" $(($(stat "s['gets']") / 2)) "connections opened (reused)"
	assert_le "$(stat "s['connections']")" 48 "connections opened (at most 3 x http_parallel)"
	rcachectl remove s2
	# http_parallel bounds the GETs in flight
	stop_daemon
	cfg_default "$stall" "http_parallel = 4"
	start_daemon
	wipe $C0
	rcachectl create s2 --origin s3://bkt/obj --cache $C0 --block-size 64K
	mark=$(wc -l <"$LOGS/proxy.log")
	rangecheck /dev/mapper/s2 /data/obj 16 4 60000 10 direct
	echo "http_parallel = 4: most GETs at once (log): $(max_overlap "$mark")"
	assert_le "$(max_overlap "$mark")" 4 "GETs at once with http_parallel = 4"
	assert_ge "$(max_overlap "$mark")" 3 "GETs at once with http_parallel = 4 (16 readers waiting)"
	rcachectl remove s2
}

test_slow_request_does_not_stall_others() {
	start_daemon
	rcachectl create s3 --origin s3://bkt/obj --cache $C0 --block-size 64K
	# the GET for block 100 stalls for 20 s (retried after http_stall_timeout,
	# 10 s); others go on: held up by it, they would take 10 s or more (the
	# bound leaves room for a slow guest on a loaded host)
	proxy_config "{\"fail_count\": 1, \"fail_kinds\": [\"stall\"], \"stall_ms\": 20000, \"fail_range\": [$((100 * 65536)), $((100 * 65536))]}"
	dd if=/dev/mapper/s3 of=/dev/null bs=64K skip=100 count=1 iflag=direct status=none &
	local slow=$! t0 t1
	sleep 0.5
	t0=$(date +%s%N)
	dd if=/dev/mapper/s3 of=/dev/null bs=64K skip=200 count=8 iflag=direct status=none
	t1=$(date +%s%N)
	assert_le $(((t1 - t0) / 1000000)) 5000 "ms to read other blocks while one GET stalls"
	kill -0 $slow 2>/dev/null || die "the stalled read finished too early"
	wait $slow || die "the stalled block was not retried"
	assert_eq "$(stat "s['faults'].get('stall', 0)")" 1 "stalls injected"
	rcachectl remove s3
}

# The range GET of one block is accepted and then nothing comes (stall):
# its reader gets EIO at fill_timeout (4 s), long before the daemon gives
# up on the GET (http_stall_timeout, 12 s here); a suspend begun meanwhile
# returns then.  The daemon's answer after its retry is late: ignored and
# counted, and the block is read right afterwards.
test_fill_timeout_stalled_get() {
	local t0 ms reader late0 i err
	cfg_default "http_stall_timeout = 12"
	start_daemon
	rcachectl create ft --origin s3://bkt/obj --cache $C0 --block-size 64K --no-prefetch --fill-timeout 4
	late0=$(field ft late_replies)
	proxy_config "{\"fail_count\": 1, \"fail_kinds\": [\"stall\"], \"stall_ms\": 30000, \"fail_range\": [$((100 * 65536)), $((100 * 65536))]}"
	python3 - /dev/mapper/ft $((100 * 65536)) /data/ft.out <<'PY' &
import mmap, os, sys, time
fd = os.open(sys.argv[1], os.O_RDONLY | os.O_DIRECT)
buf = mmap.mmap(-1, 65536)
err, start = 0, time.time()
try:
    os.preadv(fd, [buf], int(sys.argv[2]))
except OSError as e:
    err = e.errno
with open(sys.argv[3], "w") as f:
    f.write("%d %d\n" % (err, (time.time() - start) * 1000))
PY
	reader=$!
	# the read waits for its fill (dmsetup status field 10: fills in flight)
	for i in $(seq 1 300); do
		[ "$(dmsetup status ft | cut -d' ' -f10)" -ge 1 ] && break
		sleep 0.1
	done
	assert_ge "$(dmsetup status ft | cut -d' ' -f10)" 1 "fills in flight"
	t0=$(date +%s%N)
	timeout 30 dmsetup suspend ft || die "suspend did not return"
	ms=$((($(date +%s%N) - t0) / 1000000))
	echo "suspend with a stalled GET returned after $ms ms"
	assert_le $ms 8000 "ms for suspend with a stalled GET"
	dmsetup resume ft
	wait $reader
	read -r err ms </data/ft.out
	echo "reader: errno $err after $ms ms"
	assert_eq "$err" 5 "errno of a read whose GET stalled (EIO)"
	assert_ge $ms 3900 "ms before EIO (fill_timeout 4)"
	assert_le $ms 8000 "ms before EIO (fill_timeout 4)"
	assert_eq "$(field ft fill_timeouts)" 1 "fill timeouts"
	assert_eq "$(stat "s['faults'].get('stall', 0)")" 1 "stalls injected"
	for i in $(seq 1 300); do
		[ "$(field ft late_replies)" -gt "$late0" ] && break
		sleep 0.1
	done
	assert_eq "$(field ft late_replies)" $((late0 + 1)) "late replies (the daemon's retry)"
	assert_eq "$(field ft cached_blocks)" 0 "blocks cached by a late reply"
	assert_eq "$(blocks_sha /dev/mapper/ft 100 1 65536)" "$(file_sha /data/obj 100 1 65536)" \
		"the block read again"
	rcachectl remove ft
}

# fault_run KIND[:MODE]: 30% of GETs get KIND (reset and overlong: in the
# variant MODE, and only that one); every byte must still be right
fault_run() {
	local kind=${1%%:*} mode= json n
	[[ $1 == *:* ]] && mode=${1#*:}
	json="\"fail_rate\": 0.3, \"fail_kinds\": [\"$kind\"], \"stall_ms\": 5000, \"seed\": 7"
	case $kind in
	reset) json+=", \"reset_mode\": \"$mode\"" ;;
	overlong) json+=", \"overlong_mode\": \"$mode\"" ;;
	esac
	wipe $C0
	proxy_config "{$json}"
	rcachectl create sf --origin s3://bkt/obj --cache $C0 --block-size 256K
	rangecheck /dev/mapper/sf /data/obj 8 12 400000 3 direct
	assert_eq "$(sha_dev /dev/mapper/sf $OBJ_SIZE)" "$OBJ_SHA" "sha256 with 30% $1"
	assert_eq "$(field sf fetch_errors)" 0 "fetch errors with 30% $1"
	n=$(stat "s['faults'].get('$kind', 0)")
	echo "$1: $n faults injected, $(stat "s['gets']") GETs"
	assert_ge "$n" 3 "$1 faults injected"
	if [ -n "$mode" ]; then
		assert_eq "$(stat "sorted(set('mid' if r['fault_detail'].startswith('after') else r['fault_detail'] for r in s['recent'] if r['fault'] == '$kind'))")" \
			"['$mode']" "variants of $kind injected"
	fi
	rcachectl remove sf
	curl -sf -X POST $PROXY/__proxy/reset -o /dev/null
}

test_faults_30_percent() {
	# (a stall ends with a reset after 5 s; retry_budget_every_fault has the
	# client's stall timeout end them)
	start_daemon
	local k
	for k in 503 slowdown 500 502 504 reset:before reset:mid truncate overlong:body overlong:tail \
		overlong:range stall; do
		fault_run $k
	done
}

test_retry_budget_exhausted() {
	cfg_default "http_retries = 2"
	start_daemon
	# demand fetches only, so that every GET below is one the test asked for
	rcachectl create sb --origin s3://bkt/obj --cache $C0 --block-size 128K --no-prefetch
	local b40=$((40 * 131072)) m0
	# every GET touching block 40 fails: EIO for that block only
	proxy_config "{\"fail_rate\": 1.0, \"fail_kinds\": [\"503\"], \"fail_range\": [$b40, $((b40 + 10))]}"
	assert_fails "read of the failing block" dd if=/dev/mapper/sb of=/dev/null bs=128K skip=40 count=1 iflag=direct
	assert_ge "$(field sb fetch_errors)" 1 "fetch errors"
	assert_eq "$(stat "sum(1 for r in s['recent'] if r['method'] == 'GET' and r['range'] == 'bytes=%d-%d' % ($b40, $b40 + 131071))")" 3 "attempts (1 + http_retries 2)"
	grep -q "origin s3://bkt/obj: range 5242880-5373951 failed after 3 attempts: HTTP 503" "$LOGS/rcached.log" ||
		die "no clear log line for the exhausted budget"
	# one bio over blocks 36-44: their misses go out coalesced (how many per
	# GET depends on how they reach the daemon), the GET over block 40
	# fails; its blocks are then fetched one by one and only block 40 fails
	assert_fails "read of blocks 36-44 in one bio" \
		dd if=/dev/mapper/sb of=/dev/null bs=1152K skip=4 count=1 iflag=direct
	assert_ge "$(stat "sum(1 for r in s['recent'] if r['method'] == 'GET' and (lambda a, b: a <= $b40 < b and b - a > 131072)(*[int(x) for x in r['range'][6:].split('-')]))")" 1 "coalesced GETs over block 40"
	grep -qE "retrying [0-9]+ blocks of bytes [0-9]+-[0-9]+ one by one" "$LOGS/rcached.log" ||
		die "the failed coalesced GET was not split"
	m0=$(field sb read_misses)
	assert_eq "$(dd if=/dev/mapper/sb bs=128K skip=36 count=4 iflag=direct status=none | sha256sum | cut -d' ' -f1)" \
		"$(tail -c +$((36 * 131072 + 1)) /data/obj | head -c $((4 * 131072)) | sha256sum | cut -d' ' -f1)" "blocks 36-39"
	assert_eq "$(dd if=/dev/mapper/sb bs=128K skip=41 count=4 iflag=direct status=none | sha256sum | cut -d' ' -f1)" \
		"$(tail -c +$((41 * 131072 + 1)) /data/obj | head -c $((4 * 131072)) | sha256sum | cut -d' ' -f1)" "blocks 41-44"
	assert_eq "$(($(field sb read_misses) - m0))" 0 "misses: blocks 36-39 and 41-44 were filled by the split"
	assert_eq "$(dd if=/dev/mapper/sb bs=128K count=40 iflag=direct status=none | sha256sum | cut -d' ' -f1)" \
		"$(head -c $b40 /data/obj | sha256sum | cut -d' ' -f1)" "blocks before"
	assert_eq "$(dd if=/dev/mapper/sb bs=128K skip=41 iflag=direct status=none |
		head -c $((OBJ_SIZE - 41 * 131072)) | sha256sum | cut -d' ' -f1)" \
		"$(tail -c +$((41 * 131072 + 1)) /data/obj | sha256sum | cut -d' ' -f1)" "blocks after"
	rcachectl remove sb
}

# The retry budget runs out the same way for every fault the proxy injects:
# EIO for the block asked for, after 1 + http_retries attempts, with a log
# line naming the last error; the blocks on either side read right.
test_retry_budget_every_fault() {
	cfg_default "http_retries = 2"
	start_daemon
	# demand fetches only, one block per GET
	rcachectl create se --origin s3://bkt/obj --cache $C0 --block-size 128K --no-prefetch
	local v kind mode want b=2 lo json n=0 a
	while IFS='|' read -r kind mode want; do
		[ -n "$kind" ] || continue
		if [ "$kind" = stall ]; then
			# a stall is the client's to end: a short stall timeout, for
			# this one only (a loaded host can be slow to send)
			stop_daemon
			cfg_default "http_retries = 2" "http_stall_timeout = 3"
			start_daemon
		fi
		b=$((b + 4))
		n=$((n + 1))
		lo=$((b * 131072))
		json="\"fail_rate\": 1.0, \"fail_kinds\": [\"$kind\"], \"fail_range\": [$lo, $((lo + 10))], \"stall_ms\": 20000"
		case $kind in
		reset) json+=", \"reset_mode\": \"$mode\"" ;;
		overlong) json+=", \"overlong_mode\": \"$mode\"" ;;
		esac
		curl -sf -X POST $PROXY/__proxy/reset -o /dev/null
		proxy_config "{$json}"
		v="$kind${mode:+ $mode}"
		if [ "$want" = ok ]; then
			# bytes after a complete body are not data: the block reads right
			assert_eq "$(blocks_sha /dev/mapper/se $b 1 128K)" "$(file_sha /data/obj $b 1 131072)" "$v: block $b"
			assert_ge "$(stat "s['faults'].get('$kind', 0)")" 1 "$v faults injected"
			continue
		fi
		assert_fails "$v: read of block $b" dd if=/dev/mapper/se of=/dev/null bs=128K skip=$b count=1 iflag=direct
		# (libcurl itself sends a request again, once, when a reused
		# connection is reset before any answer: the proxy may count more)
		a=$(stat "sum(1 for r in s['recent'] if r['method'] == 'GET' and r['range'] == 'bytes=$lo-$((lo + 131071))')")
		if [ "$v" = "reset before" ]; then
			assert_ge "$a" 3 "$v: GETs"
			assert_le "$a" 6 "$v: GETs"
		else
			assert_eq "$a" 3 "$v: attempts (1 + http_retries 2)"
		fi
		assert_eq "$(stat "s['faults'].get('$kind', 0)")" "$a" "$v: faults injected"
		if [ -n "$mode" ]; then
			assert_eq "$(stat "sorted(set('mid' if r['fault_detail'].startswith('after') else r['fault_detail'] for r in s['recent'] if r['fault']))")" \
				"['$mode']" "$v: variants injected"
		fi
		grep -E "origin s3://bkt/obj: range $lo-$((lo + 131071)) failed after 3 attempts: .*($want)" \
			"$LOGS/rcached.log" >/dev/null || die "$v: no log line naming the last error ($want)"
		# the neighbours, with the fault still armed for block b
		assert_eq "$(blocks_sha /dev/mapper/se $((b - 1)) 1 128K)" "$(file_sha /data/obj $((b - 1)) 1 131072)" "$v: block $((b - 1))"
		assert_eq "$(blocks_sha /dev/mapper/se $((b + 1)) 1 128K)" "$(file_sha /data/obj $((b + 1)) 1 131072)" "$v: block $((b + 1))"
		echo "$v: block $b EIO after 3 attempts, blocks $((b - 1)) and $((b + 1)) right"
	done <<'EOF'
503||HTTP 503 ServiceUnavailable
slowdown||HTTP 503 SlowDown
500||HTTP 500 InternalError
502||HTTP 502 BadGateway
504||HTTP 504 GatewayTimeout
reset|before|Connection reset by peer|Recv failure|Empty reply
reset|mid|Connection reset by peer|Recv failure|transfer closed
truncate||transfer closed with [0-9]+ bytes remaining
overlong|body|body longer than the 131072 bytes asked for
overlong|range|Content-Range [0-9]+-[0-9]+ does not match the range asked
overlong|tail|ok
stall||Operation too slow
EOF
	assert_ge "$(field se fetch_errors)" 11 "fetch errors (one per failing block)"
	rcachectl remove se
}

# rcachectl create's HEAD rides out faults as the range GETs do
test_create_head_retried() {
	cfg_default "http_stall_timeout = 5"
	start_daemon
	local kind out
	for kind in 503 slowdown 500 reset stall; do
		curl -sf -X POST $PROXY/__proxy/reset -o /dev/null
		proxy_config "{\"fail_count\": 2, \"fail_kinds\": [\"$kind\"], \"fail_methods\": [\"HEAD\"], \"stall_ms\": 20000}"
		rcachectl create sh --origin s3://bkt/obj --cache $C0 --block-size 1M ||
			die "create failed after 2 HEADs with $kind"
		assert_eq "$(stat "s['by_method'].get('HEAD', 0)")" 3 "HEADs with 2 $kind faults"
		assert_eq "$(stat "s['faults'].get('$kind', 0)")" 2 "$kind faults on HEAD"
		rcachectl table sh | grep -q "identity size=$OBJ_SIZE,etag=" || die "no identity after $kind"
		rcachectl remove sh
	done
	# more faults than the budget (http_retries 6: 7 attempts): a clear error
	curl -sf -X POST $PROXY/__proxy/reset -o /dev/null
	proxy_config '{"fail_count": 100, "fail_kinds": ["slowdown"], "fail_methods": ["HEAD"]}'
	if out=$(rcachectl create sh --origin s3://bkt/obj --cache $C0 2>&1); then
		die "created although every HEAD failed"
	fi
	echo "$out"
	echo "$out" | grep -q "origin s3://bkt/obj: HEAD failed after 7 attempts: HTTP 503" || die "unclear: $out"
	assert_eq "$(stat "s['by_method'].get('HEAD', 0)")" 7 "HEADs (1 + http_retries 6)"
	dmsetup info sh >/dev/null 2>&1 && die "device left behind"
	return 0
}

# A server that ignores If-Match (s3rver) still never mixes two versions:
# the ETag, the Last-Modified date (no ETag), or the size in Content-Range
# (neither) of every reply is checked.
test_http_origin_replaced_without_if_match() {
	make_origin /data/v1 $OBJ_SIZE 41
	make_origin /data/v2 $OBJ_SIZE 42
	make_origin /data/v3 $((OBJ_SIZE + 4096)) 43
	start_daemon
	local key how url
	for how in etag mtime size; do
		key=rep-$how
		case $how in
		etag) url=http://127.0.0.1:$S3RVER_PORT/bkt/$key ;;	# straight to s3rver
		mtime)
			url=$PROXY/bkt/$key
			proxy_config '{"allow_anonymous": true, "strip_headers": ["ETag"]}' ;;
		size)
			url=$PROXY/bkt/$key
			proxy_config '{"allow_anonymous": true, "strip_headers": ["ETag", "Last-Modified"]}' ;;
		esac
		put $key /data/v1
		wipe $C0
		rcachectl create sv --origin "$url" --cache $C0 --block-size 256K --no-prefetch
		case $how in
		etag) rcachectl table sv | grep -qE "identity size=$OBJ_SIZE,etag=[0-9a-f]+( |$)" || die "$how: identity" ;;
		mtime) rcachectl table sv | grep -qE "identity size=$OBJ_SIZE,etag=,mtime=[0-9]+( |$)" || die "$how: identity" ;;
		size) rcachectl table sv | grep -qE "identity size=$OBJ_SIZE,etag=( |$)" || die "$how: identity" ;;
		esac
		assert_eq "$(blocks_sha /dev/mapper/sv 0 10 256K)" "$(file_sha /data/v1 0 10 262144)" "$how: blocks 0-9"
		sleep 1.1	# Last-Modified counts whole seconds
		if [ $how = size ]; then put $key /data/v3; else put $key /data/v2; fi
		assert_fails "$how: a miss after the object was replaced" \
			dd if=/dev/mapper/sv of=/dev/null bs=256K skip=40 count=1 iflag=direct
		assert_eq "$(field sv mode)" stale "$how: mode"
		field sv reason
		case $how in
		etag) field sv reason | grep -q "origin $url replaced: ETag" || die "$how: unclear reason" ;;
		mtime) field sv reason | grep -q "origin $url replaced: Last-Modified" || die "$how: unclear reason" ;;
		size) field sv reason | grep -q "origin $url replaced: Content-Range says $((OBJ_SIZE + 4096)) bytes" ||
			die "$how: unclear reason" ;;
		esac
		assert_eq "$(blocks_sha /dev/mapper/sv 0 10 256K)" "$(file_sha /data/v1 0 10 262144)" "$how: cached blocks after the fence"
		assert_fails "$how: misses stay fenced" dd if=/dev/mapper/sv of=/dev/null bs=256K skip=60 count=1 iflag=direct
		rcachectl remove sv
	done
	# without an ETag there is nothing to put in If-Match
	assert_eq "$(stat "sum(1 for r in s['recent'] if r['method'] == 'GET' and r['if_match'])")" 0 "GETs with If-Match (no ETag)"
}

test_403_404_fail_fast() {
	local out
	# wrong secret: rcachectl's HEAD is refused, nothing is created
	if out=$(AWS_SECRET_ACCESS_KEY=wrong rcachectl create bad --origin s3://bkt/obj --cache $C0 2>&1); then
		die "created with a wrong secret"
	fi
	echo "$out"
	echo "$out" | grep -q "origin s3://bkt/obj: HTTP 403 SignatureDoesNotMatch" || die "unclear message: $out"
	dmsetup info bad >/dev/null 2>&1 && die "device left behind"
	out=$(rcachectl create bad --origin s3://bkt/nothere --cache $C0 2>&1) && die "created a missing object"
	echo "$out" | grep -q "HTTP 404" || die "unclear message: $out"
	# the object goes away under a device: 404, no retries
	cp /data/obj /data/gone
	put gone /data/gone
	start_daemon
	rcachectl create s4 --origin s3://bkt/gone --cache $C0 --block-size 128K
	curl -sf -X DELETE "http://127.0.0.1:$S3RVER_PORT/bkt/gone" -o /dev/null
	assert_fails "read of a deleted object" dd if=/dev/mapper/s4 of=/dev/null bs=128K count=1 iflag=direct
	assert_eq "$(stat "sum(1 for r in s['recent'] if r['path'] == '/bkt/gone' and r['method'] == 'GET')")" 1 "GETs (no retry on 404)"
	grep -q "origin s3://bkt/gone: HTTP 404 NoSuchKey" "$LOGS/rcached.log" || die "no clear 404 log line"
	rcachectl remove s4
	stop_daemon
	wipe $C0	# another origin: a fresh cache
	# the key is revoked under a device: 403, no retries
	start_daemon
	rcachectl create s4 --origin s3://bkt/obj --cache $C0 --block-size 128K
	curl -sf -X POST -d "{\"$AK\": null}" $PROXY/__proxy/keys -o /dev/null
	assert_fails "read with a revoked key" dd if=/dev/mapper/s4 of=/dev/null bs=128K count=1 iflag=direct
	grep -q "origin s3://bkt/obj: HTTP 403 InvalidAccessKeyId" "$LOGS/rcached.log" || die "no clear 403 log line"
	curl -sf -X POST -d "{\"$AK\": {\"secret\": \"$SK\"}}" $PROXY/__proxy/keys -o /dev/null
	rcachectl remove s4
}

test_object_replaced_412() {
	cp /data/obj /data/rep
	put rep /data/rep
	start_daemon
	# no prefetch: exactly blocks 0-19 are cached before the replacement
	rcachectl create s5 --origin s3://bkt/rep --cache $C0 --block-size 256K --no-prefetch
	dd if=/dev/mapper/s5 of=/data/rep.head bs=256K count=20 iflag=direct status=none
	# a new version of the object replaces it
	make_origin /data/rep2 $OBJ_SIZE 99
	put rep /data/rep2
	assert_fails "read of an uncached block after the replacement" \
		dd if=/dev/mapper/s5 of=/dev/null bs=256K skip=40 count=1 iflag=direct
	assert_eq "$(field s5 mode)" stale "mode"
	field s5 reason | grep -q "origin s3://bkt/rep replaced: HTTP 412" || die "no clear reason: $(field s5 reason)"
	assert_ge "$(stat "s['precondition_failed']")" 1 "412 answers"
	# what was cached belongs to the old version, and is served; nothing mixes
	assert_eq "$(dd if=/dev/mapper/s5 bs=256K count=20 iflag=direct status=none | sha256sum | cut -d' ' -f1)" \
		"$(sha_file /data/rep.head)" "cached blocks after the fence"
	cmp -s /data/rep.head <(head -c $((20 * 262144)) /data/rep) || die "cached blocks are not the old version"
	assert_fails "misses stay fenced" dd if=/dev/mapper/s5 of=/dev/null bs=256K skip=60 count=1 iflag=direct
	rcachectl remove s5
}

test_session_token_profile_config() {
	# session token
	export AWS_ACCESS_KEY_ID=AKTOKEN AWS_SECRET_ACCESS_KEY=$SK AWS_SESSION_TOKEN=SESSION-TOKEN-42
	start_daemon
	rcachectl create s6 --origin s3://bkt/obj --cache $C0 --block-size 1M
	assert_eq "$(blocks_sha /dev/mapper/s6 0 4 1M)" "$(file_sha /data/obj 0 4 $MiB)" "reads with a session token"
	assert_ge "$(stat "sum(1 for r in s['recent'] if r['token'] and r['akid'] == 'AKTOKEN' and r['status'] == 206)")" 1 "requests with x-amz-security-token"
	rcachectl remove s6
	stop_daemon
	# a profile in ~/.aws/credentials and ~/.aws/config, its region too
	creds
	unset AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_ENDPOINT_URL AWS_REGION
	mkdir -p /data/home/.aws
	printf '[default]\naws_access_key_id = nope\naws_secret_access_key = nope\n[ds]\naws_access_key_id = %s\naws_secret_access_key = %s\n' \
		"$AK" "$SK" >/data/home/.aws/credentials
	printf '[default]\nregion = us-west-1\n[profile ds]\nregion = %s\nendpoint_url = %s\n' "$REGION" "$PROXY" \
		>/data/home/.aws/config
	HOME=/data/home AWS_PROFILE=ds start_daemon
	HOME=/data/home AWS_PROFILE=ds rcachectl create s6 --origin s3://bkt/obj --cache $C0 --reset
	assert_eq "$(blocks_sha /dev/mapper/s6 0 4 1M)" "$(file_sha /data/obj 0 4 $MiB)" "reads with profile credentials"
	grep -q "S3: region $REGION, endpoint $PROXY, credentials from profile ds" "$LOGS/rcached.log" ||
		die "daemon did not use the profile"
	rcachectl remove s6
	stop_daemon
	# the same settings from rcached.conf's [s3] section, nothing in the environment
	cat >>/data/rcached.conf <<EOF
[s3]
endpoint_url = $PROXY
region = $REGION
aws_access_key_id = $AK
aws_secret_access_key = $SK
EOF
	chmod 600 /data/rcached.conf
	HOME=/nonexistent start_daemon
	HOME=/nonexistent rcachectl create s6 --origin s3://bkt/obj --cache $C0 --reset
	assert_eq "$(blocks_sha /dev/mapper/s6 0 4 1M)" "$(file_sha /data/obj 0 4 $MiB)" "reads with rcached.conf credentials"
	grep -q "credentials from rcached.conf" "$LOGS/rcached.log" || die "daemon did not use rcached.conf"
	rcachectl remove s6
}

# AWS_REGION, then AWS_DEFAULT_REGION (the profile and [s3] are above); the
# proxy takes only eu-west-3, so a lookup that fell through to the default
# would fail
test_region() {
	unset AWS_REGION
	export AWS_DEFAULT_REGION=$REGION
	start_daemon
	rcachectl create sr --origin s3://bkt/obj --cache $C0 --block-size 1M
	assert_eq "$(blocks_sha /dev/mapper/sr 0 4 1M)" "$(file_sha /data/obj 0 4 $MiB)" "reads with AWS_DEFAULT_REGION"
	grep -q "S3: region $REGION," "$LOGS/rcached.log" || die "the daemon did not take AWS_DEFAULT_REGION"
	rcachectl remove sr
	stop_daemon
	export AWS_REGION=$REGION AWS_DEFAULT_REGION=us-west-2	# AWS_REGION wins
	rcachectl create sr --origin s3://bkt/obj --cache $C0 --block-size 1M
	rcachectl remove sr
	# a wrong region: a clear error, no device
	local out
	export AWS_REGION=us-west-2
	if out=$(rcachectl create sr --origin s3://bkt/obj --cache $C0 2>&1); then
		die "created with the wrong region"
	fi
	echo "$out"
	echo "$out" | grep -q "origin s3://bkt/obj: HTTP 400 AuthorizationHeaderMalformed: the region 'us-west-2' is wrong; expecting '$REGION'" ||
		die "unclear: $out"
	dmsetup info sr >/dev/null 2>&1 && die "device left behind"
	assert_eq "$(stat "s['by_method'].get('HEAD', 0)")" 3 "HEADs (a 400 is not retried)"
}

# Anonymous access: AWS_NO_SIGN_REQUEST, or anonymous = true in [s3]; the
# requests go unsigned (the proxy lets them through only when told to)
test_anonymous_access() {
	proxy_config '{"allow_anonymous": true}'
	unset AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY
	export AWS_NO_SIGN_REQUEST=true
	start_daemon
	rcachectl create sa --origin s3://bkt/obj --cache $C0 --block-size 1M
	assert_eq "$(blocks_sha /dev/mapper/sa 0 4 1M)" "$(file_sha /data/obj 0 4 $MiB)" "reads with AWS_NO_SIGN_REQUEST"
	grep -q "credentials from anonymous" "$LOGS/rcached.log" || die "the daemon did not go anonymous"
	rcachectl remove sa
	stop_daemon
	unset AWS_NO_SIGN_REQUEST
	printf '[s3]\nanonymous = true\n' >>/data/rcached.conf
	start_daemon
	wipe $C0
	rcachectl create sa --origin s3://bkt/obj --cache $C0 --block-size 1M
	assert_eq "$(blocks_sha /dev/mapper/sa 4 4 1M)" "$(file_sha /data/obj 4 4 $MiB)" "reads with anonymous = true"
	rcachectl remove sa
	assert_ge "$(stat "sum(1 for r in s['recent'] if r['method'] == 'GET' and r['status'] == 206)")" 2 "anonymous GETs served"
	assert_eq "$(stat "sum(1 for r in s['recent'] if r['signed'])")" 0 "signed requests"
	# unsigned really: a server that wants signatures refuses them
	proxy_config '{"allow_anonymous": false}'
	local out
	if out=$(rcachectl create sa --origin s3://bkt/obj --cache $C0 2>&1); then
		die "created unsigned against a server that wants signatures"
	fi
	echo "$out" | grep -q "HTTP 403 AccessDenied" || die "unclear: $out"
}

# A key that needs encoding: '/', space, '+', '=', '%' and non-ASCII, signed
# as S3 (and botocore) expect
test_encoded_key() {
	local enc='dir/sub%20dir/a%20b%2Bc%3Dd%25%C3%A9%E4%B8%AD.img'
	# as a table holds it: %XX for space, '%' and non-ASCII; '+' and '=' as they are
	local origin='s3://bkt/dir/sub%20dir/a%20b+c=d%25%C3%A9%E4%B8%AD.img'
	put "$enc" /data/obj
	start_daemon
	rcachectl create sk --origin "$origin" --cache $C0 --block-size 512K
	rangecheck /dev/mapper/sk /data/obj 8 10 700000 11 direct
	assert_eq "$(sha_dev /dev/mapper/sk $OBJ_SIZE)" "$OBJ_SHA" "sha256 of the object with an encoded key"
	assert_eq "$(stat "sorted(set(r['path'] for r in s['recent']))")" "['/bkt/$enc']" "paths requested"
	assert_eq "$(stat "sum(s['sigv4']['rejected'].values())")" 0 "signatures botocore rejected"
	assert_ge "$(stat "s['sigv4']['ok']")" 5 "signatures botocore accepted"
	rcachectl remove sk
}

test_web_identity() {
	unset AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY
	export AWS_WEB_IDENTITY_TOKEN_FILE=/data/token AWS_ROLE_ARN=arn:aws:iam::123456789012:role/dataset-reader
	export AWS_ENDPOINT_URL_STS=$PROXY
	start_daemon
	# no prefetch: every read below needs a GET, so credentials are used
	# (and refreshed) throughout
	rcachectl create s7 --origin s3://bkt/obj --cache $C0 --block-size 128K --no-prefetch
	local i
	# credentials live 12 s: read on for 30 s; the token file changes midway
	for i in $(seq 0 29); do
		dd if=/dev/mapper/s7 of=/dev/null bs=128K skip=$((i * 5)) count=5 iflag=direct status=none ||
			die "read $i failed with web identity credentials"
		[ $i = 15 ] && echo "web-identity-token-2" >/data/token
		sleep 1
	done
	assert_eq "$(sha_dev /dev/mapper/s7 $OBJ_SIZE)" "$OBJ_SHA" "sha256 with web identity"
	local calls
	calls=$(stat "s['sts']['issued']")
	echo "STS credentials issued: $calls; tokens seen: $(stat "sorted(set(t['token'] for t in s['sts']['tokens']))")"
	assert_ge "$calls" 3 "STS refreshes (12 s credentials over 30 s)"
	assert_eq "$(stat "'web-identity-token-2' in [t['token'] for t in s['sts']['tokens'] if t['ok']]")" True "token file re-read"
	# (a request signed in time may still arrive late on a loaded host)
	echo "ExpiredToken answers: $(stat "s['sigv4']['rejected'].get('ExpiredToken', 0)"), to requests signed after the expiry: $(stat "s['sigv4']['signed_expired']")"
	assert_eq "$(stat "s['sigv4']['signed_expired']")" 0 "requests signed with expired credentials"
	rcachectl remove s7
	unset AWS_WEB_IDENTITY_TOKEN_FILE AWS_ROLE_ARN AWS_ENDPOINT_URL_STS
}

# sts_loop_readers SECONDS S3 FIRST: new-block (miss) reads for SECONDS: of
# f9 from block FIRST every 0.1 s, timed, and of s9 from block 0 every 0.2 s
# when S3 is 1; prints the worst file miss (ms), the S3 reads, the file
# reads, the mean file miss (ms)
sts_loop_readers() {
	python3 - "$@" <<'PY'
import mmap, os, sys, threading, time
secs, s3, first = float(sys.argv[1]), sys.argv[2] == "1", int(sys.argv[3])
t_end = time.monotonic() + secs
worst, total, reads = [0.0], [0.0], {"s3": 0, "file": 0}

def reader(dev, key, pause, timed, b):
    fd = os.open(dev, os.O_RDONLY | os.O_DIRECT)
    buf = mmap.mmap(-1, 65536)
    while time.monotonic() < t_end:
        t = time.monotonic()
        os.preadv(fd, [buf], b * 65536)       # a new block: a miss each time
        if timed:
            worst[0] = max(worst[0], time.monotonic() - t)
            total[0] += time.monotonic() - t
        reads[key] += 1
        b += 1
        time.sleep(pause)

ts = [threading.Thread(target=reader, args=("/dev/mapper/f9", "file", 0.1, True, first))]
if s3:  # S3 reads keep requests (and refreshes) coming
    ts.append(threading.Thread(target=reader, args=("/dev/mapper/s9", "s3", 0.2, False, 0)))
for t in ts:
    t.start()
for t in ts:
    t.join()
print("%d %d %d %d" % (worst[0] * 1000, reads["s3"], reads["file"],
                       total[0] * 1000 / max(reads["file"], 1)))
PY
}

test_sts_refresh_off_the_loop() {
	unset AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY
	export AWS_WEB_IDENTITY_TOKEN_FILE=/data/token AWS_ROLE_ARN=arn:aws:iam::123456789012:role/dataset-reader
	export AWS_ENDPOINT_URL_STS=$PROXY
	echo "web-identity-token-1" >/data/token
	start_daemon
	rcachectl create s9 --origin s3://bkt/obj --cache $C0 --block-size 64K --no-prefetch
	rcachectl create f9 --origin file:///data/obj --cache $C1 --block-size 64K --no-prefetch
	# how long file-device misses take on this host, with no STS call about
	# (blocks 0-59 at most; the run below reads from block 100, 320 in all)
	local base
	base=$(sts_loop_readers 6 0 0) || die "a read failed"
	set -- $base
	echo "file-device misses alone: worst $1 ms, mean $4 ms ($3 reads)"
	local worst0=$1 mean0=$4
	# STS now takes 2.5 s to answer; credentials live 12 s, refreshed 3 s
	# before they expire: a refresh made in the event loop would hold up
	# every fill, of the file device too, for 2.5 s
	proxy_config '{"sts_delay_ms": 2500}'
	local issued0 out
	issued0=$(stat "s['sts']['issued']")
	out=$(sts_loop_readers 20 1 100) || die "a read failed during the refresh"
	set -- $out
	echo "worst file-device miss while STS answered slowly: $1 ms ($2 S3 reads, $3 file reads)"
	assert_ge "$(($(stat "s['sts']['issued']") - issued0))" 1 "STS refreshes during the run"
	# held up by an STS call, a miss would take 2.4 s more than without
	assert_le "$1" $((worst0 + 1500)) "ms for a file-device miss while an STS call is in flight (alone: $worst0 ms)"
	# one S3 read every 0.2 s plus its miss time, at least half of them
	assert_ge "$2" $((20000 / (200 + mean0 * 2) / 2)) "S3 reads in 20 s (none held up by STS)"
	proxy_config '{"sts_delay_ms": 0}'
	rcachectl remove s9
	rcachectl remove f9
}

# check_secrets_hidden DEV SECRET...: no SECRET shows anywhere a user or
# another program can look: any process's argv, the dm table and status,
# rcachectl status (text and JSON) and table, the superblock, rcached's log,
# dmesg, devices.json, /metrics and the NFD features file.  Each place must
# hold something (the device's name, where it names devices), so that an
# empty place does not pass for a clean one.
check_secrets_hidden() {
	local dev=$1 place text s i
	shift
	for i in $(seq 1 50); do	# the report files follow within report_interval (2 s)
		[ -s /run/rcached/devices.json ] && grep -q "$dev" /run/rcached/devices.json &&
			grep -q "dataset.$dev=" /data/nfd/features 2>/dev/null && break
		sleep 0.2
	done
	for place in argv dm-table dm-status status status-json table superblock log dmesg \
		devices.json metrics nfd; do
		case $place in
		argv) text=$(for f in /proc/[0-9]*/cmdline; do tr '\0' ' ' <"$f"; echo; done 2>/dev/null) ;;
		dm-table) text=$(dmsetup table) ;;
		dm-status) text=$(dmsetup status) ;;
		status) text=$(rcachectl status) ;;
		status-json) text=$(rcachectl status --json) ;;
		table) text=$(rcachectl table "$dev") ;;
		superblock) text=$(rcachectl inspect $C0) ;;
		log) text=$(cat "$LOGS/rcached.log") ;;
		dmesg) text=$(dmesg) ;;
		devices.json) text=$(cat /run/rcached/devices.json) ;;
		metrics) text=$(curl -sf "http://$METRICS/metrics") ;;
		nfd) text=$(cat /data/nfd/features) ;;
		esac
		[ -n "$text" ] || die "nothing in $place to look at"
		case $place in
		dm-table | dm-status | status | status-json | devices.json | metrics | nfd)
			[[ $text == *"$dev"* ]] || die "$place does not name the device $dev" ;;
		esac
		for s in "$@"; do
			[ ${#s} -ge 8 ] || die "a secret of ${#s} characters: the test is wrong"
			[[ $text != *"$s"* ]] || die "a secret (${s:0:4}...) shows in $place"
		done
	done
	echo "checked for $# secrets: argv, dm table and status, status (text, JSON), table, superblock, log, dmesg, devices.json, /metrics, NFD features"
}

test_secrets_never_shown() {
	local args=(--metrics-listen $METRICS --nfd-features-file /data/nfd/features)
	mkdir -p /data/nfd
	# static keys with a session token, in use
	export AWS_ACCESS_KEY_ID=AKTOKEN AWS_SECRET_ACCESS_KEY=$SK AWS_SESSION_TOKEN=SESSION-TOKEN-42
	start_daemon "${args[@]}"
	rcachectl create s8 --origin s3://bkt/obj --cache $C0
	assert_eq "$(sha_dev /dev/mapper/s8 $OBJ_SIZE)" "$OBJ_SHA" "sha256 with a session token"
	assert_ge "$(stat "sum(1 for r in s['recent'] if r['token'] and r['akid'] == 'AKTOKEN' and r['status'] == 206)")" 1 \
		"GETs that carried the session token"
	check_secrets_hidden s8 "$SK" SESSION-TOKEN-42
	rcachectl remove s8
	stop_daemon
	# web identity: the token, and the keys STS handed out
	unset AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_SESSION_TOKEN
	export AWS_WEB_IDENTITY_TOKEN_FILE=/data/token AWS_ROLE_ARN=arn:aws:iam::123456789012:role/dataset-reader
	export AWS_ENDPOINT_URL_STS=$PROXY
	echo "web-identity-token-1" >/data/token
	wipe $C0
	curl -sf -X POST $PROXY/__proxy/reset -o /dev/null
	start_daemon "${args[@]}"
	rcachectl create s8 --origin s3://bkt/obj --cache $C0
	assert_eq "$(sha_dev /dev/mapper/s8 $OBJ_SIZE)" "$OBJ_SHA" "sha256 with web identity"
	local issued secrets
	issued=$(curl -sf "$PROXY/__proxy/keys?secrets=1" | python3 -c '
import json, sys
for ak, v in json.load(sys.stdin).items():
    if ak.startswith("ASIA"):
        print(ak, v["secret"], v["token"])')
	[ -n "$issued" ] || die "STS issued no keys"
	assert_ge "$(stat "sum(1 for r in s['recent'] if (r['akid'] or '').startswith('ASIA') and r['token'] and r['status'] == 206)")" 1 \
		"GETs signed with STS keys"
	secrets=$(awk '{print $2; print $3}' <<<"$issued")
	# shellcheck disable=SC2086
	check_secrets_hidden s8 web-identity-token-1 $secrets
	rcachectl remove s8
}

test_http_url() {
	# a public object over plain HTTP (s3rver answers unsigned GETs)
	start_daemon
	rcachectl create s9 --origin http://127.0.0.1:$S3RVER_PORT/bkt/obj --cache $C0 --block-size 512K
	rangecheck /dev/mapper/s9 /data/obj 8 20 700000 4 direct
	assert_eq "$(sha_dev /dev/mapper/s9 $OBJ_SIZE)" "$OBJ_SHA" "sha256 over http://"
	rcachectl remove s9
}

# HTTPS with a self-signed certificate: trusted through AWS_CA_BUNDLE, or
# ca_bundle in [s3], for s3:// and https:// origins alike
test_https_self_signed() {
	openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=127.0.0.1 \
		-addext subjectAltName=IP:127.0.0.1 -keyout /data/tls.key -out /data/tls.crt 2>/dev/null
	/usr/bin/python3 "$S3DIR/s3proxy.py" --upstream http://127.0.0.1:$S3RVER_PORT --port $TLS_PORT \
		--quiet --verify-keys /data/keys.json --region $REGION --allow-anonymous \
		--tls-cert /data/tls.crt --tls-key /data/tls.key --log "$LOGS/proxy-tls.log" \
		>"$LOGS/proxy-tls.out" 2>&1 &
	local tls=$! out i
	for i in $(seq 1 100); do
		curl -sf --cacert /data/tls.crt -o /dev/null https://127.0.0.1:$TLS_PORT/__proxy/health && break
		sleep 0.1
	done
	export AWS_ENDPOINT_URL=https://127.0.0.1:$TLS_PORT
	# not trusted without the CA: a clear error at once, no device
	if out=$(rcachectl create st --origin s3://bkt/obj --cache $C0 2>&1); then
		die "created over HTTPS with an untrusted certificate"
	fi
	echo "$out"
	echo "$out" | grep -q "origin s3://bkt/obj: HEAD failed: SSL certificate problem" || die "unclear: $out"
	dmsetup info st >/dev/null 2>&1 && die "device left behind"
	export AWS_CA_BUNDLE=/data/tls.crt
	start_daemon
	rcachectl create st --origin s3://bkt/obj --cache $C0 --block-size 512K
	rangecheck /dev/mapper/st /data/obj 8 10 700000 12 direct
	assert_eq "$(sha_dev /dev/mapper/st $OBJ_SIZE)" "$OBJ_SHA" "sha256 of s3:// over HTTPS"
	assert_ge "$(wc -l <"$LOGS/proxy-tls.log")" 10 "requests through the TLS proxy"
	rcachectl remove st
	stop_daemon
	# an https:// origin, the CA from rcached.conf
	unset AWS_CA_BUNDLE
	printf '[s3]\nca_bundle = /data/tls.crt\n' >>/data/rcached.conf
	start_daemon
	wipe $C0
	rcachectl create st --origin https://127.0.0.1:$TLS_PORT/bkt/obj --cache $C0 --block-size 512K
	assert_eq "$(sha_dev /dev/mapper/st $OBJ_SIZE)" "$OBJ_SHA" "sha256 of an https:// origin"
	rcachectl remove st
	kill $tls
	wait $tls || true
}

TESTS=(
	sha_cold_warm_concurrent test_sha_cold_warm_concurrent
	coalescing_and_parallelism test_coalescing_and_parallelism
	slow_request_does_not_stall_others test_slow_request_does_not_stall_others
	fill_timeout_stalled_get test_fill_timeout_stalled_get
	faults_30_percent test_faults_30_percent
	retry_budget_exhausted test_retry_budget_exhausted
	retry_budget_every_fault test_retry_budget_every_fault
	create_head_retried test_create_head_retried
	fail_fast_403_404 test_403_404_fail_fast
	object_replaced_412 test_object_replaced_412
	http_origin_replaced_without_if_match test_http_origin_replaced_without_if_match
	session_token_profile_config test_session_token_profile_config
	region test_region
	anonymous_access test_anonymous_access
	encoded_key test_encoded_key
	web_identity_sts test_web_identity
	sts_refresh_off_the_loop test_sts_refresh_off_the_loop
	secrets_never_shown test_secrets_never_shown
	http_url test_http_url
	https_self_signed test_https_self_signed
)
t_run_all "$@"
cleanup_devices
exit 0
