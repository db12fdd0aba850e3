#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# Prints the path of an unpacked Debian linux-source-6.1 tree (for checkpatch
# and KUnit), unpacking it under build/ksrc the first time.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
dest=${RCACHE_KSRC_CACHE:-$top/build/ksrc}
tarball=$(ls /usr/src/linux-source-6.1.tar.* 2>/dev/null | head -n 1)
[ -n "$tarball" ] || { echo "ksrc: linux-source-6.1 is not installed" >&2; exit 1; }
tree=$dest/linux-source-6.1
if [ ! -f "$tree/.unpacked" ] || [ "$tarball" -nt "$tree/.unpacked" ]; then
	rm -rf "$tree"
	mkdir -p "$dest"
	tar -C "$dest" -xf "$tarball"
	touch "$tree/.unpacked"
fi
echo "$tree"
