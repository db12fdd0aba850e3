#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# Runs the dm-rcache KUnit suites (kmod/*_kunit.c, listed in
# kmod/Kbuild.kunit) in a UML kernel built from Debian's linux-source-6.1
# with tools/testing/kunit/kunit.py, and prints one result line per case:
#
#   PASS: kunit/<suite>/<case>
#   FAIL: kunit/<suite>/<case>: <why>
#
# Exit status 0 when every case passed.  The UML build directory is kept
# between runs (build/kunit, or $RCACHE_KUNIT_CACHE): a rebuild after an edit
# takes seconds, a build from scratch a few minutes.
#
#   selftests/kunit/run.sh [FILTER_GLOB]     e.g. 'rcache_args.*'
#
# Our sources go into the kernel tree as drivers/md/rcache-kunit/ (copies of
# kmod/ and uapi/, refreshed only when they differ so that make rebuilds only
# what changed), with one "source" line added to drivers/md/Kconfig and one
# "obj-" line to drivers/md/Makefile.
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
build=${RCACHE_KUNIT_CACHE:-$top/build/kunit}
out=$build/results
jobs=$(nproc)

ksrc=$("$top/selftests/ksrc.sh") || { echo "FAIL: kunit/setup: no linux-source-6.1 tree"; exit 1; }
mkdir -p "$build" "$out"
# One kunit run at a time per build directory.
exec 9>"$build/.lock"
flock 9

# sync_file SRC DST: copy when the contents differ (keeps make's view stable)
sync_file() {
	if ! cmp -s "$1" "$2"; then
		mkdir -p "$(dirname "$2")"
		cp "$1" "$2"
	fi
}

dest=$ksrc/drivers/md/rcache-kunit
mkdir -p "$dest/kmod" "$dest/uapi/linux"
for f in "$top"/kmod/*.c "$top"/kmod/*.h "$top/kmod/Kconfig" "$top/kmod/Kbuild.kunit"; do
	sync_file "$f" "$dest/kmod/${f##*/}"
done
# sources deleted from kmod/ go from the copy too
for f in "$dest"/kmod/*; do
	[ -e "$top/kmod/${f##*/}" ] || rm -f "$f"
done
sync_file "$top/uapi/linux/dm-rcache.h" "$dest/uapi/linux/dm-rcache.h"
sync_file "$top/VERSION" "$dest/VERSION"

makefile=$(mktemp)
cat >"$makefile" <<'EOF'
# SPDX-License-Identifier: GPL-2.0-only
# Written by rcache's selftests/kunit/run.sh: the dm-rcache KUnit suites.
include $(srctree)/$(src)/kmod/Kbuild.kunit

RCACHE_VERSION := $(shell cat $(srctree)/$(src)/VERSION)
rcache-version-parts := $(subst ., ,$(RCACHE_VERSION))
ccflags-y += -DRCACHE_VERSION=\"$(RCACHE_VERSION)\" \
	     -DRCACHE_VERSION_MAJOR=$(word 1,$(rcache-version-parts)) \
	     -DRCACHE_VERSION_MINOR=$(word 2,$(rcache-version-parts)) \
	     -DRCACHE_VERSION_PATCH=$(word 3,$(rcache-version-parts))

obj-$(CONFIG_DM_RCACHE_KUNIT_TEST) += $(addprefix kmod/,$(sort $(rcache-kunit-objs)))
EOF
sync_file "$makefile" "$dest/Makefile"
rm -f "$makefile"

kconfig_line='source "drivers/md/rcache-kunit/kmod/Kconfig"'
grep -qxF "$kconfig_line" "$ksrc/drivers/md/Kconfig" || echo "$kconfig_line" >>"$ksrc/drivers/md/Kconfig"
make_line='obj-$(CONFIG_DM_RCACHE_KUNIT_TEST) += rcache-kunit/'
grep -qxF "$make_line" "$ksrc/drivers/md/Makefile" || echo "$make_line" >>"$ksrc/drivers/md/Makefile"

# the suites that must show up in the results
mapfile -t suites < <(sed -n 's/^[[:space:]]*\.name = "\([a-z0-9_]*\)",.*/\1/p' "$top"/kmod/*_kunit.c)
[ $# -eq 0 ] || suites=()	# a filter runs only some of them

rm -f "$out/results.json"
set +e
(cd "$ksrc" && python3 tools/testing/kunit/kunit.py run --build_dir="$build" \
	--kunitconfig="$top/selftests/kunit/.kunitconfig" --jobs="$jobs" --timeout=300 \
	--json="$out/results.json" "$@") >"$out/kunit.log" 2>&1
rc=$?
set -e
if [ ! -s "$out/results.json" ]; then
	grep -E 'error:|Error|ERROR' "$out/kunit.log" | head -n 20 >&2
	echo "FAIL: kunit/build: kunit.py exited $rc without results (see $out/kunit.log)"
	exit 1
fi
status=0
python3 "$top/selftests/kunit/results.py" "$out/results.json" "${suites[@]}" || status=1

# sparse over the suites and what they build (the module's own sparse run in
# run-check's static group does not see the *_kunit.c files)
if (cd "$ksrc" && make -s ARCH=um O="$build" C=2 CHECK="sparse -Wsparse-error" \
	drivers/md/rcache-kunit/) >"$out/sparse.log" 2>&1 &&
	! grep -qE ': (warning|error):' "$out/sparse.log"; then
	echo "PASS: kunit/sparse"
else
	grep -E ': (warning|error):' "$out/sparse.log" | head -n 10 >&2
	echo "FAIL: kunit/sparse: see $out/sparse.log"
	status=1
fi
exit $status
