#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-only
"""Prints the committed state of an rcache cache device as JSON.

    mdstate.py DEV
    mdstate.py --watch LOG DEV

{"format_id": N, "pages": {"<index>": [seq, [entry, ...]], ...}} where each
page is its current copy (docs/internals/on-disk-format.md: the valid copy, or the one
with the higher seq); pages with no valid copy are left out.  Entries are as
on disk: 0 for an empty slot, else block + 1.

--watch appends one such line to LOG each time a page changes, polling
every 20 ms until killed, so that the crash test knows every commit it saw
before the VM was killed: after the kill, a page must hold exactly what a
commit it saw with that seq wrote, or come from a later commit, and never
go back to an older seq.
"""
import json
import mmap
import os
import struct
import sys
import time

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


def watch(log, dev):
    """Appends the state each time the metadata bytes change (and hold still
    for a second read, so that a page caught mid-write is not taken)."""
    fd = os.open(dev, os.O_RDONLY | os.O_DIRECT)
    sb = read_direct(fd, 0, PAGE)
    md_pages = struct.unpack_from("<Q", sb, 32)[0]
    last = None
    with open(log, "a") as out:
        while True:
            raw = read_direct(fd, PAGE, 2 * md_pages * PAGE)
            if raw != last and raw == read_direct(fd, PAGE, 2 * md_pages * PAGE):
                last = raw
                out.write(json.dumps(state(dev)) + "\n")
                out.flush()
                os.fsync(out.fileno())
            time.sleep(0.01)


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--watch":
        watch(sys.argv[2], sys.argv[3])
    elif len(sys.argv) == 2:
        json.dump(state(sys.argv[1]), sys.stdout)
        print()
    else:
        raise SystemExit("usage: mdstate.py [--watch LOG] DEV")
