#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# DKMS packaging tests (issue 6), in two halves:
#
#   dkms.sh --host-setup KVER     on the CI machine, as root: the Kconfig
#                                 check, "make dkms-install"/"dkms-uninstall",
#                                 then the README's dkms add/build/install
#                                 sequence, which stays installed for the VM
#   dkms.sh --host-cleanup KVER   removes it again
#   vm-run --disk c0:64 dkms.sh   in the guest: modprobe loads the DKMS copy,
#                                 an end-to-end smoke test on it, and rcached
#                                 and rcachectl loading the module themselves
#
# The guest sees the host's root read-only, so the module must be installed
# on the host before the VM boots: the guest finds it, and the modules.dep
# that names it, under /lib/modules/$KVER.  Both halves print PASS:/FAIL:
# lines.

# ------------------------------------------------------------------ host

host_pass() { echo "PASS: dkms/$1"; }
host_fail() { echo "FAIL: dkms/$1: $2"; }

# host_installed KVER VER: the module is built, installed and signed
host_check_installed() {
	local kver=$1 ver=$2 ko=/lib/modules/$1/updates/dkms/dm-rcache.ko
	$SUDO dkms status "dm-rcache/$ver" -k "$kver" | grep -q ': installed' ||
		{ echo "dkms status: $($SUDO dkms status "dm-rcache/$ver" -k "$kver")"; return 1; }
	[ -f "$ko" ] || { echo "$ko missing"; return 1; }
	[ "$(modinfo -F version "$ko")" = "$ver" ] || { echo "modinfo version of $ko is not $ver"; return 1; }
	modinfo -F vermagic "$ko" | grep -q "^$kver " || { echo "$ko: vermagic is not $kver"; return 1; }
	[ "$(modinfo -k "$kver" -n dm-rcache)" = "$ko" ] ||
		{ echo "modinfo -k $kver -n dm-rcache: $(modinfo -k "$kver" -n dm-rcache 2>&1)"; return 1; }
}

host_check_removed() {
	local kver=$1 ver=$2
	[ -z "$($SUDO dkms status "dm-rcache/$ver")" ] || { echo "still in dkms status"; return 1; }
	[ ! -e "/lib/modules/$kver/updates/dkms/dm-rcache.ko" ] || { echo "module file left"; return 1; }
	[ ! -e "/usr/src/dm-rcache-$ver" ] || { echo "/usr/src/dm-rcache-$ver left"; return 1; }
	! modinfo -k "$kver" -n dm-rcache >/dev/null 2>&1 || { echo "modinfo still finds it"; return 1; }
}

# step NAME LOG CMD...: runs CMD, PASS or FAIL with the log's tail
host_step() {
	local name=$1 log=$2
	shift 2
	if "$@" >>"$log" 2>&1; then
		host_pass "$name"
	else
		host_fail "$name" "$(tail -n 2 "$log" | tr '\n' ' ') (see $log)"
		return 1
	fi
}

host_setup() {
	local kver=$1 ver log=$OUT/dkms.log tmp
	ver=$(cat VERSION)
	: >"$log"

	# The kernel configuration check: dkms/pre-build.sh explains, Kbuild refuses.
	tmp=$(mktemp -d)
	printf 'CONFIG_MD=y\n# CONFIG_BLK_DEV_DM is not set\n' >"$tmp/.config"
	if dkms/pre-build.sh 9.9.9-nodm "$tmp" 2>"$tmp/msg"; then
		host_fail kconfig-check "pre-build.sh accepted a kernel without CONFIG_BLK_DEV_DM"
	elif ! grep -q 'built without device-mapper' "$tmp/msg"; then
		host_fail kconfig-check "pre-build.sh said: $(cat "$tmp/msg")"
	elif ! dkms/pre-build.sh "$kver" "/lib/modules/$kver/build" >/dev/null; then
		host_fail kconfig-check "pre-build.sh refused $kver"
	elif make -s dkms-source DESTDIR="$tmp/stage" >>"$log" 2>&1 &&
		make -C "/lib/modules/$kver/build" M="$tmp/stage/usr/src/dm-rcache-$ver" \
			CONFIG_BLK_DEV_DM= modules >"$tmp/kbuild" 2>&1; then
		host_fail kconfig-check "Kbuild built the module for a kernel without device-mapper"
	elif ! grep -q 'dm-rcache needs a kernel with device-mapper' "$tmp/kbuild"; then
		host_fail kconfig-check "Kbuild failed without saying why: $(tail -n 1 "$tmp/kbuild")"
	else
		host_pass kconfig-check
	fi
	rm -rf "$tmp"

	# The staged source tree: what a dkms package ships in /usr/src.
	tmp=$(mktemp -d)
	if make -s dkms-source DESTDIR="$tmp" >>"$log" 2>&1 &&
		grep -qx "PACKAGE_VERSION=\"$ver\"" "$tmp/usr/src/dm-rcache-$ver/dkms.conf" &&
		[ -x "$tmp/usr/src/dm-rcache-$ver/dkms/pre-build.sh" ] &&
		[ -f "$tmp/usr/src/dm-rcache-$ver/Kbuild" ] &&
		! ls "$tmp/usr/src/dm-rcache-$ver/kmod/" | grep -q '_kunit\.c$'; then
		host_pass dkms-source
	else
		host_fail dkms-source "bad tree under $tmp/usr/src/dm-rcache-$ver"
	fi
	rm -rf "$tmp"

	# make dkms-install / dkms-uninstall
	$SUDO make -s dkms-uninstall >>"$log" 2>&1
	if host_step make-dkms-install "$log" $SUDO make dkms-install KVER="$kver"; then
		if msg=$(host_check_installed "$kver" "$ver"); then
			host_pass make-dkms-install-result
		else
			host_fail make-dkms-install-result "$msg"
		fi
	fi
	if host_step make-dkms-uninstall "$log" $SUDO make dkms-uninstall; then
		if msg=$(host_check_removed "$kver" "$ver"); then
			host_pass make-dkms-uninstall-result
		else
			host_fail make-dkms-uninstall-result "$msg"
		fi
	fi

	# The README's sequence, for the Debian headers' kernel (not the running one)
	host_step source "$log" $SUDO make dkms-source || return 1
	host_step add "$log" $SUDO dkms add "dm-rcache/$ver" || return 1
	host_step build "$log" $SUDO dkms build "dm-rcache/$ver" -k "$kver" || return 1
	host_step install "$log" $SUDO dkms install "dm-rcache/$ver" -k "$kver" || return 1
	if msg=$(host_check_installed "$kver" "$ver"); then
		host_pass installed-for-$kver
	else
		host_fail installed-for-$kver "$msg"
		return 1
	fi
	# Debian's dkms signs what it builds with its MOK key (README: Secure Boot)
	if [ "$(modinfo -F signer "/lib/modules/$kver/updates/dkms/dm-rcache.ko")" = \
		"DKMS module signing key" ]; then
		host_pass module-signed
	else
		host_fail module-signed "not signed by the DKMS key: $(modinfo -F signer \
			"/lib/modules/$kver/updates/dkms/dm-rcache.ko")"
	fi
}

host_cleanup() {
	local kver=$1 ver msg
	ver=$(cat VERSION)
	$SUDO make -s dkms-uninstall >>"$OUT/dkms.log" 2>&1
	if msg=$(host_check_removed "$kver" "$ver"); then
		host_pass remove
	else
		host_fail remove "$msg"
	fi
}

if [ "${1:-}" = --host-setup ] || [ "${1:-}" = --host-cleanup ]; then
	cd "$(dirname "$0")/../.." || exit 1
	OUT=${RCACHE_OUT:-$PWD/build/check}
	mkdir -p "$OUT"
	SUDO=
	[ "$(id -u)" -eq 0 ] || SUDO=sudo
	[ -n "${2:-}" ] || { echo "usage: dkms.sh --host-setup|--host-cleanup KVER" >&2; exit 2; }
	if [ "$1" = --host-setup ]; then
		host_setup "$2"
	else
		host_cleanup "$2"
	fi
	exit 0
fi

# ------------------------------------------------------------------ guest

source "$RCACHE_TOP/selftests/lib.sh"

C0=$(disk 0)
MiB=$((1024 * 1024))
VER=$(cat "$T/VERSION")
DKMS_KO=/lib/modules/$KVER/updates/dkms/dm-rcache.ko
mkdir -p /data
ORIGIN=/data/img
ORIGIN_SIZE=$((24 * MiB + 4096))
make_origin $ORIGIN $ORIGIN_SIZE 6
ORIGIN_SHA=$(sha_file $ORIGIN)
modprobe dm-mod

unload() {
	local i
	stop_daemon
	pkill -x rcached 2>/dev/null || true
	for i in $(seq 1 50); do
		pgrep -x rcached >/dev/null || break
		sleep 0.1
	done
	dmsetup remove_all --force >/dev/null 2>&1 || true
	if lsmod | grep -q '^dm_rcache '; then
		rmmod dm_rcache || die "rmmod dm_rcache failed"
	fi
	rm -f /etc/modprobe.d/rcache-test.conf
}

test_dkms_module_found() {
	unload
	[ -f "$DKMS_KO" ] || die "$DKMS_KO is not there: the host did not dkms install for $KVER"
	assert_eq "$(modinfo -n dm-rcache)" "$DKMS_KO" "modinfo -n dm-rcache"
	# no other copy (make install's, in updates/) that modprobe could pick
	assert_eq "$(find /lib/modules/$KVER -name 'dm-rcache.ko*' | wc -l)" 1 \
		"dm-rcache.ko files under /lib/modules/$KVER"
	assert_eq "$(modinfo -F version dm-rcache)" "$VER" "module version (VERSION)"
	dkms status "dm-rcache/$VER" -k "$KVER" | grep -q ': installed' ||
		die "dkms status: $(dkms status 2>&1)"
}

test_modprobe_loads_dkms_copy() {
	unload
	modprobe dm-rcache
	lsmod | grep -q '^dm_rcache ' || die "modprobe dm-rcache did not load it"
	assert_eq "$(cat /sys/module/dm_rcache/version)" "$VER" "loaded module's version"
	assert_eq "$(cat /sys/module/dm_rcache/srcversion)" "$(modinfo -F srcversion "$DKMS_KO")" \
		"loaded module's srcversion against the dkms copy"
	modprobe -r dm-rcache
	! lsmod | grep -q '^dm_rcache ' || die "modprobe -r left it loaded"
}

test_smoke_on_dkms_module() {
	unload
	modprobe dm-rcache
	start_daemon
	rcachectl create smoke --origin file://$ORIGIN --cache $C0
	assert_eq "$(sha_dev /dev/mapper/smoke $ORIGIN_SIZE)" "$ORIGIN_SHA" "cold sha256"
	drop_caches
	assert_eq "$(sha_dev /dev/mapper/smoke $ORIGIN_SIZE)" "$ORIGIN_SHA" "warm sha256"
	assert_eq "$(field smoke cached_blocks)" 25 "cached blocks"
	assert_eq "$(field smoke fetch_errors)" 0 "fetch errors"
	rcachectl remove smoke
	stop_daemon
	unload
}

test_rcached_loads_module() {
	unload
	start_daemon
	lsmod | grep -q '^dm_rcache ' || die "rcached did not load dm-rcache"
	assert_contains "$LOGS/rcached.log" "loaded dm-rcache from $DKMS_KO" "rcached's log"
	stop_daemon
	unload
}

test_rcachectl_create_loads_module() {
	unload
	rcachectl create auto --origin file://$ORIGIN --cache $C0 --daemon-timeout 5
	lsmod | grep -q '^dm_rcache ' || die "rcachectl create did not load dm-rcache"
	[ -b /dev/mapper/auto ] || die "/dev/mapper/auto missing"
	rcachectl remove auto
	unload
}

# options from modprobe.d apply, as with modprobe
test_modprobe_options_applied() {
	unload
	echo "options dm_rcache max_fetches_sent=7" >/etc/modprobe.d/rcache-test.conf
	start_daemon
	assert_eq "$(cat /sys/module/dm_rcache/parameters/max_fetches_sent)" 7 \
		"max_fetches_sent from modprobe.d"
	stop_daemon
	unload
}

# automatic loading respects the blacklist; modprobe by name still loads it
test_blacklist_respected() {
	local out=$LOGS/blacklist.out rc
	unload
	echo "blacklist dm_rcache" >/etc/modprobe.d/rcache-test.conf
	rc=0
	rcachectl create bl --origin file://$ORIGIN --cache $C0 2>"$out" || rc=$?
	assert_eq "$rc" 1 "rcachectl create exit status"
	assert_eq "$(wc -l <"$out")" 1 "lines of rcachectl's message"
	assert_contains "$out" "dm-rcache is blacklisted" "rcachectl's message"
	rc=0
	timeout 20 rcached 2>"$out" || rc=$?
	assert_eq "$rc" 1 "rcached exit status"
	assert_contains "$out" "dm-rcache is blacklisted" "rcached's message"
	! lsmod | grep -q '^dm_rcache ' || die "a blacklisted dm-rcache was loaded"
	[ ! -e /dev/mapper/bl ] || die "/dev/mapper/bl created"
	modprobe dm-rcache
	unload
}

# the module is not installed for the running kernel: one clear line
test_not_installed_message() {
	local out=$LOGS/notinst.out rc
	unload
	mkdir -p /tmp/hidden
	mv "$DKMS_KO" /tmp/hidden/
	depmod "$KVER"
	rc=0
	rcachectl create ni --origin file://$ORIGIN --cache $C0 2>"$out" || rc=$?
	assert_eq "$rc" 1 "rcachectl create exit status"
	assert_eq "$(wc -l <"$out")" 1 "lines of rcachectl's message"
	assert_contains "$out" "^rcachectl: dm-rcache is not installed for the running kernel $KVER" \
		"rcachectl's message"
	rc=0
	timeout 20 rcached 2>"$out" || rc=$?
	assert_eq "$rc" 1 "rcached exit status"
	assert_contains "$out" "^rcached: dm-rcache is not installed for the running kernel $KVER" \
		"rcached's message"
	[ ! -e /dev/mapper/ni ] || die "/dev/mapper/ni created"
}

restore_module() {
	if [ -f /tmp/hidden/dm-rcache.ko ]; then
		mv /tmp/hidden/dm-rcache.ko "$DKMS_KO"
		depmod "$KVER"
	fi
}

TESTS=(
	dkms_module_found test_dkms_module_found
	modprobe_loads_dkms_copy test_modprobe_loads_dkms_copy
	smoke_sha256_on_dkms_module test_smoke_on_dkms_module
	rcached_loads_module test_rcached_loads_module
	rcachectl_create_loads_module test_rcachectl_create_loads_module
	modprobe_options_applied test_modprobe_options_applied
	blacklist_respected test_blacklist_respected
	not_installed_message test_not_installed_message
)
t_run_all "$@"
restore_module
unload
exit 0
