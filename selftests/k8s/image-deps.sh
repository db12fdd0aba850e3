#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# k8s/Containerfile, checked without a container engine: every library the
# built programs link directly comes from a package the runtime stage
# installs (or from the base image's essential set), every one of those
# packages exists in Debian 12, and the build stage installs what
# selftests/deps.sh builds userspace with.  PASS:/FAIL: lines.
#   image-deps.sh BINDIR
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
bin=${1:-$top/build/bin}
cf=$top/k8s/Containerfile

# the package lists of the two "apt-get install" runs, in order
stage_pkgs() {
	awk -v want="$1" '
		/^FROM / { stage++ }
		/apt-get install/ { grab = 1 }
		grab && stage == want {
			line = $0
			sub(/#.*/, "", line)
			n = split(line, w, /[ \t\\]+/)
			for (i = 1; i <= n; i++)
				if (w[i] ~ /^[a-z0-9][a-z0-9.+-]+$/ && w[i] != "apt-get" &&
				    w[i] != "install" && w[i] != "update" && w[i] != "rm" && w[i] != "RUN")
					print w[i]
		}
		grab && $0 !~ /\\[ \t]*$/ { grab = 0 }
	' "$cf" | grep -vxE 'y|no-install-recommends|rf|var|lib|apt|lists' | sort -u
}
build=$(stage_pkgs 1)
runtime=$(stage_pkgs 2)
# packages every debian:12-slim has (Essential: yes, and their libraries)
essential="libc6 libgcc-s1"

fail=0
missing=()
for prog in rcached rcachectl rcache-device-plugin; do
	[ -x "$bin/$prog" ] || { echo "FAIL: k8s/image/runtime-libraries: $bin/$prog not built"; exit 0; }
	for lib in $(readelf -d "$bin/$prog" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'); do
		path=$(ldd "$bin/$prog" | awk -v l="$lib" '$1 == l { print $3 }')
		pkg=$(dpkg -S "$(readlink -f "$path")" 2>/dev/null || dpkg -S "$path" 2>/dev/null)
		pkg=${pkg%%:*}
		if [ -z "$pkg" ]; then
			missing+=("$prog:$lib(no package)")
		elif ! grep -qx "$pkg" <<<"$runtime" && [[ " $essential " != *" $pkg "* ]]; then
			missing+=("$prog:$lib($pkg)")
		fi
	done
done
if [ ${#missing[@]} -eq 0 ]; then
	echo "PASS: k8s/image/runtime-libraries"
else
	echo "FAIL: k8s/image/runtime-libraries: not installed by the runtime stage: ${missing[*]}"
fi

unknown=()
for p in $build $runtime; do
	apt-cache show "$p" >/dev/null 2>&1 || unknown+=("$p")
done
if [ ${#unknown[@]} -eq 0 ] && [ -n "$runtime" ]; then
	echo "PASS: k8s/image/packages-exist"
else
	echo "FAIL: k8s/image/packages-exist: not Debian 12 packages: ${unknown[*]:-(no runtime list)}"
fi

# the build stage: deps.sh's userspace build packages (not the kernel headers)
want=$(sed -n '/^build_pkgs="/,/"$/p' "$here/../deps.sh" | tr -d '"' | sed 's/build_pkgs=//' |
	tr ' \t' '\n\n' | grep -v -e '^$' -e '^linux-headers' | sort -u)
if [ "$want" = "$build" ]; then
	echo "PASS: k8s/image/build-packages"
else
	echo "FAIL: k8s/image/build-packages: differs from deps.sh: $(diff <(echo "$want") <(echo "$build") | grep '^[<>]' | tr '\n' ' ')"
fi
exit 0
