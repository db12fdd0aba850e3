#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-only
"""Replays a dm-log-writes log of an rcache cache device and checks that the
cache is consistent at every point the device could have lost power after.

    logreplay.py LOG SCRATCH COW TABLE ORIGIN [MAX_CHECKS]

LOG is the log device of a dm-log-writes target that sat between rcache and
its cache device; SCRATCH a device of the cache device's size that held the
same bytes when logging began (zeros); COW a spare device for a snapshot;
TABLE a file with the rcache table line that ran (dmsetup table); ORIGIN the
origin file.

dm-log-writes logs a write only once a flush made it durable (FUA writes as
soon as they complete), so the log up to a FLUSH or FUA entry is what the
disk held if power failed right after that point.  The log is applied entry
by entry to SCRATCH; at each such point (up to MAX_CHECKS of them, evenly
spread, always the last) rcache is loaded on a snapshot of SCRATCH (its own
writes go to COW) with fail_fast and no daemon, and every block is read:
a block the metadata calls valid must hold the origin's bytes, the others
must fail.  Prints one line per point with a problem and a summary; exits 1
when a valid block had wrong bytes or rcache refused the metadata.

The log format (Documentation/admin-guide/device-mapper/log-writes.rst,
drivers/md/dm-log-writes.c): a super at byte 0 (magic, version, nr_entries,
sectorsize), then per entry one sectorsize header (sector, nr_sectors, flags,
data_len, all little-endian u64; sector and nr_sectors in sectorsize units)
followed by nr_sectors of data, none for a discard.
"""
import mmap
import os
import struct
import subprocess
import sys

LOG_MAGIC = 0x6A736677736872
FLUSH, FUA, DISCARD, MARK = 1, 2, 4, 8
SB_MAGIC = 0x52434143


def dmsetup(*args, check=True):
    r = subprocess.run(["dmsetup"] + list(args), capture_output=True, text=True)
    if check and r.returncode:
        raise RuntimeError("dmsetup %s: %s" % (" ".join(args), r.stderr.strip()))
    return r


def entries(log_fd):
    super_ = os.pread(log_fd, 32, 0)
    magic, version, nr, sectorsize = struct.unpack_from("<QQQI", super_)
    if magic != LOG_MAGIC or version != 1:
        raise SystemExit("not a dm-log-writes log (magic %x version %d)" % (magic, version))
    pos = sectorsize
    for _ in range(nr):
        sector, nr_sectors, flags, _data_len = struct.unpack("<QQQQ", os.pread(log_fd, 32, pos))
        data = b""
        if not flags & (DISCARD | MARK) and nr_sectors:
            data = os.pread(log_fd, nr_sectors * sectorsize, pos + sectorsize)
        yield sector * sectorsize, nr_sectors * sectorsize, flags, data
        pos += sectorsize
        if not flags & DISCARD:
            pos += nr_sectors * sectorsize


def check_point(table, scratch, cow, origin, block, nblocks, scratch_size):
    """Loads rcache on a snapshot of SCRATCH; returns (valid, wrong, error)."""
    sectors = scratch_size // 512
    dmsetup("create", "lrsnap", "--table", "0 %d snapshot %s %s N 8" % (sectors, scratch, cow))
    try:
        dmsetup("mknodes", "lrsnap")     # no udev in the test VM
        r = dmsetup("create", "lrchk", "--table", table % "/dev/mapper/lrsnap", check=False)
        if r.returncode:
            dmsetup("remove", "lrchk", check=False)
            kmsg = subprocess.run(["dmesg"], capture_output=True, text=True).stdout
            reason = [l for l in kmsg.splitlines() if "rcache:" in l and "table:" in l]
            return 0, 0, reason[-1] if reason else r.stderr.strip().replace("\n", " ")
        try:
            dmsetup("mknodes", "lrchk")
            valid = wrong = 0
            fd = os.open("/dev/mapper/lrchk", os.O_RDONLY | os.O_DIRECT)
            buf = mmap.mmap(-1, block)
            try:
                for b in range(nblocks):
                    try:
                        n = os.preadv(fd, [buf], b * block)
                    except OSError:
                        continue        # not cached: fail_fast, no daemon
                    valid += 1
                    want = os.pread(origin, block, b * block)
                    if bytes(buf[:len(want)]) != want or n < len(want):
                        wrong += 1
                        print("  block %d: wrong bytes" % b)
            finally:
                os.close(fd)
            return valid, wrong, None
        finally:
            dmsetup("remove", "lrchk")
    finally:
        dmsetup("remove", "lrsnap")


def main():
    if len(sys.argv) not in (6, 7):
        raise SystemExit(__doc__)
    log, scratch, cow, table_file, origin_path = sys.argv[1:6]
    max_checks = int(sys.argv[6]) if len(sys.argv) == 7 else 200
    fields = open(table_file).read().split()
    # <start> <len> rcache <cache> <origin> <block_sectors> [<#opt> <opt>...]
    opts = fields[7:7 + int(fields[6])] if len(fields) > 6 else []
    opts = [o for o in opts if o != "reset"]
    if "fail_fast" not in opts:
        opts.append("fail_fast")
    table = " ".join(fields[:3] + ["%s"] + fields[4:6] + [str(len(opts))] + opts)
    block = int(fields[5]) * 512
    size = int(fields[1]) * 512

    log_fd = os.open(log, os.O_RDONLY)
    scratch_fd = os.open(scratch, os.O_RDWR)
    origin = os.open(origin_path, os.O_RDONLY)
    scratch_size = os.lseek(scratch_fd, 0, os.SEEK_END)
    nblocks = (size + block - 1) // block

    log_list = list(entries(log_fd))
    points = [i for i, e in enumerate(log_list) if e[2] & (FLUSH | FUA)]
    if len(points) > max_checks:
        step = len(points) / max_checks
        points = sorted({points[int(k * step)] for k in range(max_checks)} | {points[-1]})
    wanted = set(points)
    print("log: %d entries, %d flush/FUA points, checking %d" %
          (len(log_list), sum(1 for e in log_list if e[2] & (FLUSH | FUA)), len(points)))

    checked = nosb = bad = wrong_total = max_valid = 0
    for i, (off, length, flags, data) in enumerate(log_list):
        if data:
            if off + len(data) > scratch_size:
                raise SystemExit("log entry %d writes past the scratch device" % i)
            os.pwrite(scratch_fd, data, off)
        if i not in wanted:
            continue
        os.fsync(scratch_fd)
        sb = os.pread(scratch_fd, 8, 0)
        if struct.unpack_from("<I", sb, 4)[0] != SB_MAGIC:
            nosb += 1           # not formatted yet: nothing cached
            continue
        valid, wrong, error = check_point(table, scratch, cow, origin, block, nblocks,
                                          scratch_size)
        checked += 1
        max_valid = max(max_valid, valid)
        if error:
            bad += 1
            print("entry %d (%s): rcache refused the metadata: %s" %
                  (i, "FUA" if flags & FUA else "flush", error))
        elif wrong:
            bad += 1
            wrong_total += wrong
            print("entry %d (%s): %d of %d valid blocks have wrong bytes" %
                  (i, "FUA" if flags & FUA else "flush", wrong, valid))
    print("logreplay: %d points checked (%d before the superblock), most blocks valid %d, "
          "%d points bad, %d wrong blocks" % (checked, nosb, max_valid, bad, wrong_total))
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
