# SPDX-License-Identifier: GPL-2.0-only
# S3 for the benchmarks, inside the VM (sourced after lib.sh): s3rver behind
# our proxy, which adds a time to first byte and a per-connection bandwidth
# cap, so that loopback behaves like a network to object storage.

S3DIR=$T/selftests/s3
S3RVER_PORT=45100
PROXY_PORT=45200
PROXY=http://127.0.0.1:$PROXY_PORT

# s3_up TTFB_MS BANDWIDTH_BPS_PER_CONNECTION
s3_up() {
	"$S3DIR/s3rver.sh" up /data/s3rver $S3RVER_PORT bkt >/dev/null || return 1
	/usr/bin/python3 "$S3DIR/s3proxy.py" --upstream http://127.0.0.1:$S3RVER_PORT \
		--port $PROXY_PORT --quiet --ttfb-ms "$1" --bandwidth-bps "$2" \
		>"$LOGS/proxy.out" 2>&1 &
	local i
	for i in $(seq 1 100); do
		curl -sf -o /dev/null $PROXY/__proxy/health && break
		sleep 0.1
	done
	export AWS_ENDPOINT_URL=$PROXY AWS_REGION=us-east-1 AWS_ACCESS_KEY_ID=BENCH
	export AWS_SECRET_ACCESS_KEY=bench-secret
}

s3_put() {	# s3_put KEY FILE, straight to s3rver
	curl -sSf -X PUT -T "$2" "http://127.0.0.1:$S3RVER_PORT/bkt/$1" -o /dev/null ||
		echo "s3_put $1: upload of $2 failed" >&2
}

s3_shape() {	# s3_shape TTFB_MS BANDWIDTH_BPS
	curl -sf -X POST -d "{\"ttfb_ms\": $1, \"bandwidth_bps\": $2}" $PROXY/__proxy/config -o /dev/null
}

# mb_per_s BYTES START_NS END_NS
mb_per_s() {
	python3 -c "print('%.1f' % ($1 / (($3 - $2) / 1e9) / 1e6))"
}

# curl_get KEY BYTES: one GET of the whole object; prints MB/s
curl_get() {
	local t0 t1
	t0=$(date +%s%N)
	curl -sf "$PROXY/bkt/$1" -o /dev/null
	t1=$(date +%s%N)
	mb_per_s "$2" "$t0" "$t1"
}

# curl_get8 KEY BYTES: 8 parallel range GETs covering the object; prints MB/s
curl_get8() {
	local key=$1 size=$2 part t0 t1 i pids=()
	part=$(((size + 7) / 8))
	t0=$(date +%s%N)
	for i in 0 1 2 3 4 5 6 7; do
		curl -sf -r $((i * part))-$(((i + 1) * part - 1)) "$PROXY/bkt/$key" -o /dev/null &
		pids+=($!)
	done
	for i in "${pids[@]}"; do wait "$i"; done
	t1=$(date +%s%N)
	mb_per_s "$size" "$t0" "$t1"
}

# fresh_device NAME ORIGIN CACHE [CREATE-ARGS...]: a cold device
fresh_device() {
	local name=$1 origin=$2 cache=$3
	shift 3
	rcachectl remove "$name" >/dev/null 2>&1
	dd if=/dev/zero of="$cache" bs=1M count=8 oflag=direct status=none
	rcachectl create "$name" --origin "$origin" --cache "$cache" "$@" >/dev/null
}

# read_dev DEV BYTES: O_DIRECT sequential read; prints MB/s
read_dev() {
	local t0 t1
	t0=$(date +%s%N)
	dd if="$1" of=/dev/null bs=1M iflag=direct status=none
	t1=$(date +%s%N)
	mb_per_s "$2" "$t0" "$t1"
}

# read_streams DEV BYTES N [buffered]: N readers of N parts, O_DIRECT unless
# "buffered" (tmpfs has no O_DIRECT); prints MB/s
read_streams() {
	local dev=$1 size=$2 n=$3 part t0 t1 i pids=() flag=(iflag=direct)
	[ "${4:-}" = buffered ] && flag=()
	part=$((size / n / 1048576))
	t0=$(date +%s%N)
	for ((i = 0; i < n; i++)); do
		dd if="$dev" of=/dev/null bs=1M skip=$((i * part)) count=$part "${flag[@]}" status=none &
		pids+=($!)
	done
	for i in "${pids[@]}"; do wait "$i"; done
	t1=$(date +%s%N)
	mb_per_s "$size" "$t0" "$t1"
}
