#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# S3 origin tests (issue 3) against s3rver (npm) behind our fault-injecting,
# SigV4-checking proxy (selftests/s3/s3proxy.py), in one VM boot:
#   vm-run --disk c0:128 --disk c1:128 s3.sh
# The radosgw and CephFS tests are in s3-ceph.sh.
source "$RCACHE_TOP/selftests/lib.sh"

S3DIR=$T/selftests/s3
C0=$(disk 0)
C1=$(disk 1)
MiB=$((1024 * 1024))
S3RVER_PORT=45100
PROXY_PORT=45200
PROXY=http://127.0.0.1:$PROXY_PORT
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
	--quiet --verify-keys /data/keys.json --sts-token-file /data/token --sts-duration 12 \
	--log "$LOGS/proxy.log" >"$LOGS/proxy.out" 2>&1 &
for _ in $(seq 1 100); do
	curl -sf -o /dev/null $PROXY/__proxy/health && break
	sleep 0.1
done

export AWS_ENDPOINT_URL=$PROXY AWS_REGION=us-east-1
cfg_default() {
	cat >/data/rcached.conf <<EOF
[daemon]
http_retries = 6
http_backoff_ms = 20
http_backoff_max_ms = 200
http_stall_timeout = 2
EOF
}
cfg_default
export RCACHE_CONFIG=/data/rcached.conf

creds() {
	export AWS_ACCESS_KEY_ID=$AK AWS_SECRET_ACCESS_KEY=$SK
	unset AWS_SESSION_TOKEN AWS_PROFILE AWS_WEB_IDENTITY_TOKEN_FILE AWS_ROLE_ARN
}
creds

# put KEY FILE: upload straight to s3rver (it checks no signature)
put() {
	curl -sf -X PUT --data-binary @"$2" "http://127.0.0.1:$S3RVER_PORT/bkt/$1" -o /dev/null
}

proxy_config() {
	curl -sf -X POST -d "$1" $PROXY/__proxy/config -o /dev/null || die "proxy config $1 refused"
}

proxy_reset() {
	curl -sf -X POST $PROXY/__proxy/reset -o /dev/null
	proxy_config '{"fail_rate": 0, "fail_count": 0, "fail_range": null, "ttfb_ms": 0, "bandwidth_bps": 0, "fail_kinds": ["503","slowdown","500","502","504","reset","truncate","overlong","stall"], "stall_ms": 60000, "replace_etag_412": false}'
}

# stat EXPR: a value from the proxy's stats, e.g. stat "s['gets']"
stat() {
	curl -sf "$PROXY/__proxy/stats?recent=1000" | python3 -c "import json,sys; s=json.load(sys.stdin); print($1)"
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
	assert_eq "$(field s1 read_misses)" "$misses" "misses in the warm pass"
	assert_eq "$(stat "s['gets']")" "$gets" "GETs in the warm pass"
	# every request carried If-Match and a good SigV4 signature
	assert_eq "$(stat "sum(1 for r in s['recent'] if r['method'] == 'GET' and not r['if_match'])")" 0 "GETs without If-Match"
	assert_eq "$(stat "sum(s['sigv4']['rejected'].values())")" 0 "requests whose signature botocore rejected"
	assert_ge "$(stat "s['sigv4']['ok']")" 10 "signatures botocore checked"
	rcachectl remove s1
}

test_coalescing_and_parallelism() {
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
	# slow first bytes: many GETs in flight at once, over reused connections
	proxy_config '{"ttfb_ms": 300}'
	rcachectl remove s2
	wipe $C0
	rcachectl create s2 --origin s3://bkt/obj --cache $C0 --block-size 64K
	curl -sf -X POST $PROXY/__proxy/reset -o /dev/null
	rangecheck /dev/mapper/s2 /data/obj 16 6 60000 9 direct &
	local reader=$! peak=0 n
	while kill -0 $reader 2>/dev/null; do
		n=$(stat "s['active_connections']")
		[ "$n" -gt "$peak" ] && peak=$n
		sleep 0.1
	done
	wait $reader
	echo "peak connections with GETs in flight: $peak; connections opened: $(stat "s['connections']"); GETs: $(stat "s['gets']")"
	assert_ge "$peak" 8 "GETs in flight at once"
	# reuse: far fewer connections than GETs (a loaded host may let a few
	# more open than GETs run at once, as the server lags closing them)
	assert_le "$(stat "s['connections']")" $(($(stat "s['gets']") / 2)) "connections opened (reused)"
	assert_le "$(stat "s['connections']")" 48 "connections opened (at most 3 x http_parallel)"
	rcachectl remove s2
}

test_slow_request_does_not_stall_others() {
	start_daemon
	rcachectl create s3 --origin s3://bkt/obj --cache $C0 --block-size 64K
	# the GET for block 100 stalls for 20 s; others go on
	proxy_config "{\"fail_count\": 1, \"fail_kinds\": [\"stall\"], \"stall_ms\": 20000, \"fail_range\": [$((100 * 65536)), $((100 * 65536))]}"
	dd if=/dev/mapper/s3 of=/dev/null bs=64K skip=100 count=1 iflag=direct status=none &
	local slow=$! t0 t1
	sleep 0.5
	t0=$(date +%s%N)
	dd if=/dev/mapper/s3 of=/dev/null bs=64K skip=200 count=8 iflag=direct status=none
	t1=$(date +%s%N)
	assert_le $(((t1 - t0) / 1000000)) 1500 "ms to read other blocks while one GET stalls"
	kill -0 $slow 2>/dev/null || die "the stalled read finished too early"
	wait $slow || die "the stalled block was not retried"
	assert_eq "$(stat "s['faults'].get('stall', 0)")" 1 "stalls injected"
	rcachectl remove s3
}

# fault_run KIND: 30% of GETs get KIND; every byte must still be right
fault_run() {
	local kind=$1
	wipe $C0
	proxy_config "{\"fail_rate\": 0.3, \"fail_kinds\": [\"$kind\"], \"stall_ms\": 5000, \"seed\": 7}"
	rcachectl create sf --origin s3://bkt/obj --cache $C0 --block-size 128K
	rangecheck /dev/mapper/sf /data/obj 8 30 400000 3 direct
	assert_eq "$(sha_dev /dev/mapper/sf $OBJ_SIZE)" "$OBJ_SHA" "sha256 with 30% $kind"
	assert_eq "$(field sf fetch_errors)" 0 "fetch errors with 30% $kind"
	local n
	n=$(stat "s['faults'].get('$kind', 0)")
	echo "$kind: $n faults injected, $(stat "s['gets']") GETs"
	assert_ge "$n" 3 "$kind faults injected"
	rcachectl remove sf
	curl -sf -X POST $PROXY/__proxy/reset -o /dev/null
}

test_faults_30_percent() {
	start_daemon
	local k
	for k in 503 slowdown 500 502 504 reset truncate overlong stall; do
		fault_run $k
	done
}

test_retry_budget_exhausted() {
	cat >>/data/rcached.conf <<EOF
http_retries = 2
EOF
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
	assert_eq "$(dd if=/dev/mapper/s6 bs=1M count=4 iflag=direct status=none | sha256sum | cut -d' ' -f1)" \
		"$(head -c $((4 * MiB)) /data/obj | sha256sum | cut -d' ' -f1)" "reads with a session token"
	assert_ge "$(stat "sum(1 for r in s['recent'] if r['token'] and r['akid'] == 'AKTOKEN' and r['status'] == 206)")" 1 "requests with x-amz-security-token"
	rcachectl remove s6
	stop_daemon
	# a profile in ~/.aws/credentials and ~/.aws/config
	creds
	unset AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_ENDPOINT_URL AWS_REGION
	mkdir -p /data/home/.aws
	printf '[default]\naws_access_key_id = nope\naws_secret_access_key = nope\n[ds]\naws_access_key_id = %s\naws_secret_access_key = %s\n' \
		"$AK" "$SK" >/data/home/.aws/credentials
	printf '[profile ds]\nregion = us-east-1\nendpoint_url = %s\n' "$PROXY" >/data/home/.aws/config
	HOME=/data/home AWS_PROFILE=ds start_daemon
	HOME=/data/home AWS_PROFILE=ds rcachectl create s6 --origin s3://bkt/obj --cache $C0 --reset
	assert_eq "$(dd if=/dev/mapper/s6 bs=1M count=4 iflag=direct status=none | sha256sum | cut -d' ' -f1)" \
		"$(head -c $((4 * MiB)) /data/obj | sha256sum | cut -d' ' -f1)" "reads with profile credentials"
	grep -q "credentials from profile ds" "$LOGS/rcached.log" || die "daemon did not use the profile"
	rcachectl remove s6
	stop_daemon
	# the same settings from rcached.conf's [s3] section, nothing in the environment
	cat >>/data/rcached.conf <<EOF
[s3]
endpoint_url = $PROXY
region = us-east-1
aws_access_key_id = $AK
aws_secret_access_key = $SK
EOF
	chmod 600 /data/rcached.conf
	HOME=/nonexistent start_daemon
	HOME=/nonexistent rcachectl create s6 --origin s3://bkt/obj --cache $C0 --reset
	assert_eq "$(dd if=/dev/mapper/s6 bs=1M count=4 iflag=direct status=none | sha256sum | cut -d' ' -f1)" \
		"$(head -c $((4 * MiB)) /data/obj | sha256sum | cut -d' ' -f1)" "reads with rcached.conf credentials"
	grep -q "credentials from rcached.conf" "$LOGS/rcached.log" || die "daemon did not use rcached.conf"
	rcachectl remove s6
	export AWS_ENDPOINT_URL=$PROXY AWS_REGION=us-east-1
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
	assert_eq "$(stat "s['sigv4']['rejected'].get('ExpiredToken', 0)")" 0 "requests made with expired credentials"
	rcachectl remove s7
	unset AWS_WEB_IDENTITY_TOKEN_FILE AWS_ROLE_ARN AWS_ENDPOINT_URL_STS
}

test_sts_refresh_off_the_loop() {
	unset AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY
	export AWS_WEB_IDENTITY_TOKEN_FILE=/data/token AWS_ROLE_ARN=arn:aws:iam::123456789012:role/dataset-reader
	export AWS_ENDPOINT_URL_STS=$PROXY
	echo "web-identity-token-1" >/data/token
	start_daemon
	rcachectl create s9 --origin s3://bkt/obj --cache $C0 --block-size 64K --no-prefetch
	rcachectl create f9 --origin file:///data/obj --cache $C1 --block-size 64K --no-prefetch
	# STS now takes 2.5 s to answer; credentials live 12 s, refreshed 3 s
	# before they expire: a refresh made in the event loop would hold up
	# every fill, of the file device too, for 2.5 s
	proxy_config '{"sts_delay_ms": 2500}'
	local issued0 out
	issued0=$(stat "s['sts']['issued']")
	out=$(python3 - <<'PY'
import mmap, os, threading, time
t_end = time.monotonic() + 20
worst, reads = [0.0], {"s3": 0, "file": 0}

def reader(dev, key, pause, timed):
    fd = os.open(dev, os.O_RDONLY | os.O_DIRECT)
    buf = mmap.mmap(-1, 65536)
    b = 0
    while time.monotonic() < t_end:
        t = time.monotonic()
        os.preadv(fd, [buf], b * 65536)       # a new block: a miss each time
        if timed:
            worst[0] = max(worst[0], time.monotonic() - t)
        reads[key] += 1
        b += 1
        time.sleep(pause)

# S3 reads keep requests (and refreshes) coming; file misses are timed
ts = [threading.Thread(target=reader, args=("/dev/mapper/s9", "s3", 0.2, False)),
      threading.Thread(target=reader, args=("/dev/mapper/f9", "file", 0.1, True))]
for t in ts:
    t.start()
for t in ts:
    t.join()
print("%d %d %d" % (worst[0] * 1000, reads["s3"], reads["file"]))
PY
) || die "a read failed during the refresh"
	set -- $out
	echo "worst file-device miss while STS answered slowly: $1 ms ($2 S3 reads, $3 file reads)"
	assert_ge "$(($(stat "s['sts']['issued']") - issued0))" 1 "STS refreshes during the run"
	assert_le "$1" 1500 "ms for a file-device miss while an STS call is in flight"
	assert_ge "$2" 30 "S3 reads in 20 s (one every 0.2 s, none held up by STS)"
	proxy_config '{"sts_delay_ms": 0}'
	rcachectl remove s9
	rcachectl remove f9
}

test_secrets_never_shown() {
	start_daemon
	rcachectl create s8 --origin s3://bkt/obj --cache $C0
	cat /dev/mapper/s8 >/dev/null
	local where
	for where in "$(dmsetup table)" "$(dmsetup status)" "$(rcachectl status --json)" \
		"$(cat $LOGS/rcached.log)" "$(ps -eo args)" "$(cat /proc/$DAEMON_PID/cmdline | tr '\0' ' ')"; do
		case "$where" in
		*"$SK"* | *SESSION-TOKEN-42*) die "a secret is visible: $where" ;;
		esac
	done
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

TESTS=(
	sha_cold_warm_concurrent test_sha_cold_warm_concurrent
	coalescing_and_parallelism test_coalescing_and_parallelism
	slow_request_does_not_stall_others test_slow_request_does_not_stall_others
	faults_30_percent test_faults_30_percent
	retry_budget_exhausted test_retry_budget_exhausted
	fail_fast_403_404 test_403_404_fail_fast
	object_replaced_412 test_object_replaced_412
	session_token_profile_config test_session_token_profile_config
	web_identity_sts test_web_identity
	sts_refresh_off_the_loop test_sts_refresh_off_the_loop
	secrets_never_shown test_secrets_never_shown
	http_url test_http_url
)
t_run_all "$@"
cleanup_devices
exit 0
