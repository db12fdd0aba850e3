#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-only
"""Prints the committed state of an rcache cache device as JSON.

    mdstate.py DEV

{"format_id": N, "pages": {"<index>": [seq, [entry, ...]], ...}} where each
page is its current copy (docs/on-disk-format.md: the valid copy, or the one
with the higher seq); pages with no valid copy are left out.  Entries are as
on disk: 0 for an empty slot, else block + 1.  The crash test compares these
before and after a kill: a page whose seq did not move must hold the same
entries, and no page may go back to an older seq.
"""
import json
import mmap
import os
import struct
import sys

SB_MAGIC = 0x52434143
MD_MAGIC = 0x52434D44
PAGE = 4096
ENTRIES = (PAGE - 32) // 4


def crc32c(data, crc=0xFFFFFFFF):
    """The kernel's crc32c(~0, ...): no final inversion."""
    table = crc32c.table
    for b in data:
        crc = table[(crc ^ b) & 0xFF] ^ (crc >> 8)
    return crc


crc32c.table = []
for _i in range(256):
    _c = _i
    for _ in range(8):
        _c = (_c >> 1) ^ 0x82F63B78 if _c & 1 else _c >> 1
    crc32c.table.append(_c)


def read_direct(fd, offset, length):
    buf = mmap.mmap(-1, length)
    os.preadv(fd, [buf], offset)
    return bytes(buf)


def state(dev):
    fd = os.open(dev, os.O_RDONLY | os.O_DIRECT)
    try:
        sb = read_direct(fd, 0, PAGE)
        csum, magic, version, _bs, format_id, _slots, md_pages = struct.unpack_from("<IIIIQQQ", sb)
        if magic != SB_MAGIC or csum != crc32c(sb[4:]):
            raise SystemExit("%s: no valid rcache superblock" % dev)
        both = [read_direct(fd, PAGE + c * md_pages * PAGE, md_pages * PAGE) for c in (0, 1)]
    finally:
        os.close(fd)
    pages = {}
    for i in range(md_pages):
        best = None
        for c in (0, 1):
            page = both[c][i * PAGE:(i + 1) * PAGE]
            csum, magic, fid, seq, index = struct.unpack_from("<IIQQI", page)
            if magic != MD_MAGIC or csum != crc32c(page[4:]) or fid != format_id or index != i:
                continue
            if best is None or seq > best[0]:
                best = (seq, list(struct.unpack_from("<%dI" % ENTRIES, page, 32)))
        if best is not None:
            pages[str(i)] = best
    return {"format_id": format_id, "pages": pages}


if __name__ == "__main__":
    if len(sys.argv) != 2:
        raise SystemExit("usage: mdstate.py DEV")
    json.dump(state(sys.argv[1]), sys.stdout)
    print()
