# SPDX-License-Identifier: MIT
"""Inflight I/O tracking (vhost-user INFLIGHT_SHMFD; claim 24) against ultra-io, with a Python
front end and no guest: the region ultra-io hands out has the documented layout; a fresh
ultra-io given a region in which a dead back end left requests in flight redoes exactly those,
oldest first, and not the one it had completed without clearing; hostile regions are refused
and the client is still served."""
import fcntl
import mmap
import os
import socket
import struct

from harness import check, workspace
from test_io_blk import IoPartition
import vhost_client as vc

GET_INFLIGHT_FD, SET_INFLIGHT_FD = 31, 32
P_INFLIGHT = 1 << 12
SECTOR = 512
QHDR = 16       # features, version, desc_num, last_batch_head, used_idx
QBYTES = 192    # 16 + 8 entries of 16 bytes, rounded up to 64 (regions we make)
GOT_BYTES = 16448  # what ultra-io makes for any queue size up to 1024: 16 + 16 * 1024, to 64
SEALS = fcntl.F_SEAL_SHRINK | fcntl.F_SEAL_GROW | fcntl.F_SEAL_SEAL


def inflight_payload(size, offset, nqueues, qsize):
    return struct.pack("<QQHH4x", size, offset, nqueues, qsize)


def negotiate(c):
    feats = c.get_u64(vc.GET_FEATURES)
    c.send(vc.SET_FEATURES, struct.pack("<Q", feats & ~(1 << 28) & ~vc.F_EVENT_IDX))
    proto = c.get_u64(vc.GET_PROTOCOL_FEATURES)
    check(proto & P_INFLIGHT, f"INFLIGHT_SHMFD not offered: {proto:#x}")
    c.send(vc.SET_PROTOCOL_FEATURES,
           struct.pack("<Q", vc.P_MQ | vc.P_REPLY_ACK | vc.P_CONFIG | P_INFLIGHT))
    check(c.acked(vc.SET_OWNER), "SET_OWNER refused")


def get_inflight(c, nqueues=1, qsize=vc.NUM):
    c.send(GET_INFLIGHT_FD, inflight_payload(0, 0, nqueues, qsize))
    msg, fds, _, _ = socket.recv_fds(c.sock, 12 + 24, 4)
    req, flags, size = struct.unpack_from("<III", msg)
    check(req == GET_INFLIGHT_FD and flags & 4 and size == 24 and len(fds) == 1,
          f"GET_INFLIGHT_FD reply {req} {flags:#x} {size} with {len(fds)} fds")
    return struct.unpack_from("<QQHH", msg, 12), fds[0]


def entry(region, q, head):
    """(inflight, counter) of a head in queue q's region."""
    off = q * QBYTES + QHDR + 16 * head
    return region[off], struct.unpack_from("<Q", region, off + 8)[0]


def set_entry(region, head, inflight, counter):
    off = QHDR + 16 * head
    region[off] = inflight
    struct.pack_into("<Q", region, off + 8, counter)


def write_chain(c, head, sector, fill, slot):
    """A write of one sector, two descriptors: header + data (readable), status (writable)."""
    buf = vc.BUFS + slot * 0x1000
    struct.pack_into("<IIQ", c.mem, buf, vc.T_OUT, 0, sector)
    c.mem[buf + 16:buf + 16 + SECTOR] = fill * SECTOR
    c.mem[buf + 0x800] = 0xEE
    c.desc(head, buf, 16 + SECTOR, vc.NEXT, head + 1)
    c.desc(head + 1, buf + 0x800, 1, vc.WRITE, 0)
    return buf + 0x800


def disk():
    """A workspace, a 1 MiB image of "Z" bytes and the socket path to serve it on."""
    w = workspace()
    image = os.path.join(w.dir, "disk.img")
    with open(image, "wb") as f:
        f.write(b"Z" * (1 << 20))
    return w, image, os.path.join(w.dir, "blk.sock")


def sector(image, n):
    with open(image, "rb") as f:
        f.seek(n * SECTOR)
        return f.read(SECTOR)


def test_requests_left_in_flight_are_redone_oldest_first():
    w, image, sock = disk()
    first = IoPartition(w, (sock, image))
    c = vc.Client(sock)
    try:
        negotiate(c)
        (size, offset, nq, qs), rfd = get_inflight(c)
        check((size, offset, nq, qs) == (GOT_BYTES, 0, 1, vc.NUM),
              f"region {size} {offset} {nq} {qs}")
        check(fcntl.fcntl(rfd, fcntl.F_GET_SEALS) & fcntl.F_SEAL_SHRINK, "region not sealed")
        region = mmap.mmap(rfd, size)
        features, version, desc_num, last, used_idx = struct.unpack_from("<QHHHH", region, 0)
        check((version, desc_num) == (1, 1024), f"queue header version {version} num {desc_num}")
        # The first back end dies; the front end keeps the region (as QEMU does).
        first.proc.kill()
        first.proc.wait()
        os.rename(first.log, first.log + ".first")  # the next one's "ready" is its own
    finally:
        c.close()

    # What a back end killed mid-stream leaves behind: avail [6, 0, 3]; head 6 completed (used
    # element published, used->idx 1) but its entry not yet cleared; heads 0 and 3 in flight,
    # 3 taken before 0 (counters 5 and 7) although 0 comes first in the avail ring.
    second = IoPartition(w, (sock, image))
    c = vc.Client(sock)
    try:
        negotiate(c)
        check(c.acked(SET_INFLIGHT_FD, inflight_payload(GOT_BYTES, 0, 1, vc.NUM), [rfd]),
              "SET_INFLIGHT_FD of the region the last back end made was refused")
        check(c.mem_table([c.region(0, vc.MEM, vc.UVA, 0)]), "memory table refused")
        check(c.ring(), "ring refused")
        status = {h: write_chain(c, h, s, f, i) for i, (h, s, f) in
                  enumerate(((0, 8, b"A"), (3, 12, b"B"), (6, 16, b"C")))}
        for i, h in enumerate((6, 0, 3)):
            struct.pack_into("<H", c.mem, vc.AVAIL + 4 + 2 * i, h)
        struct.pack_into("<H", c.mem, vc.AVAIL + 2, 3)
        struct.pack_into("<II", c.mem, vc.USED + 4, 6, 1)
        struct.pack_into("<H", c.mem, vc.USED + 2, 1)
        c.avail_idx, c.used_seen = 3, 1
        set_entry(region, 6, 1, 1)
        set_entry(region, 3, 1, 5)
        set_entry(region, 0, 1, 7)
        struct.pack_into("<HH", region, 12, 6, 0)  # last_batch_head 6, used_idx 0
        c.start()
        got = [c.used()[0], c.used()[0]]
        check(got == [3, 0], f"redone in the order {got}, want [3, 0] (oldest first)")
        check(c.mem[status[0]] == vc.S_OK and c.mem[status[3]] == vc.S_OK, "redone with errors")
        check(sector(image, 8) == b"A" * SECTOR and sector(image, 12) == b"B" * SECTOR,
              "the redone writes are not in the image")
        check(sector(image, 16) == b"Z" * SECTOR, "the completed request was done again")
        check(c.mem[status[6]] == 0xEE, "the completed request's status was written again")
        check(all(entry(region, 0, h)[0] == 0 for h in range(1024)),
              "entries still marked in flight after completion")
        check(struct.unpack_from("<HH", region, 12)[1] == 3, "region used_idx not 3")
        # The ring goes on after the redone requests: the next one is done once, not the old.
        write_chain(c, 0, 24, b"D", 3)
        c.submit(0)
        check(c.used()[0] == 0 and sector(image, 24) == b"D" * SECTOR, "a new write after")
        check(entry(region, 0, 0)[0] == 0 and entry(region, 0, 0)[1] > 7,
              "the new request was not tracked with a later counter")
        check("2 requests left in flight" in second.output(), second.output())
    finally:
        c.close()
        region.close()
        os.close(rfd)
        second.stop()


def sealed_region(size, qsize=vc.NUM, version=1, seal=True, file_size=None):
    fd = os.memfd_create("inflight", os.MFD_ALLOW_SEALING)
    os.ftruncate(fd, size if file_size is None else file_size)
    with mmap.mmap(fd, size if file_size is None else min(size, file_size)) as m:
        for q in range(max(1, len(m) // QBYTES)):
            struct.pack_into("<QHH", m, q * QBYTES, 0, version, qsize)
    if seal:
        fcntl.fcntl(fd, fcntl.F_ADD_SEALS, SEALS)
    return fd


def test_hostile_inflight_regions_are_refused():
    w, image, sock = disk()
    io = IoPartition(w, (sock, image))
    c = vc.Client(sock)
    fds = []
    try:
        negotiate(c)
        cases = [
            ("unsealed (could shrink under us)", QBYTES, 0, 1, 8, dict(seal=False)),
            ("size not nqueues regions", QBYTES - 64, 0, 1, 8, {}),
            ("size of two regions for one queue", 2 * QBYTES, 0, 1, 8, {}),
            ("queue size above the headers' entries", QBYTES, 0, 1, 16, {}),
            ("queue size not a power of two", 16 + 16 * 6, 0, 1, 6, {}),
            ("queue size 0", 64, 0, 1, 0, {}),
            ("no queues", 0, 0, 0, 8, {}),
            ("more queues than the device", 9 * QBYTES, 0, 9, 8, {}),
            ("file shorter than the region", QBYTES, 0, 1, 8, dict(file_size=64)),
            ("offset past the file", QBYTES, 4096, 1, 8, {}),
            ("offset not page aligned", QBYTES, 64, 1, 8, dict(file_size=4096)),
            ("offset wrapping 2^64", QBYTES, (1 << 64) - 4096, 1, 8, {}),
            ("wrong version", QBYTES, 0, 1, 8, dict(version=2)),
            ("header naming another size", QBYTES, 0, 1, 8, dict(qsize=16)),
        ]
        for what, size, off, nq, qs, kw in cases:
            fd = sealed_region(max(size, 64), **kw)
            fds.append(fd)
            check(not c.acked(SET_INFLIGHT_FD, inflight_payload(size, off, nq, qs), [fd]),
                  f"SET_INFLIGHT_FD accepted a region with {what}")
        check(io.alive(), "ultra-io died: " + io.output())
        # A good region but an entry the front end scribbled on: the ring does not start.
        fd = sealed_region(QBYTES)
        fds.append(fd)
        with mmap.mmap(fd, QBYTES) as m:
            m[QHDR + 16 * 2] = 7
        check(c.acked(SET_INFLIGHT_FD, inflight_payload(QBYTES, 0, 1, 8), [fd]), "good region")
        check(c.mem_table([c.region(0, vc.MEM, vc.UVA, 0)]), "memory table refused")
        check(c.ring(), "ring refused")
        check(c.acked(vc.SET_VRING_CALL, struct.pack("<Q", 0), [c.call]), "call refused")
        check(not c.acked(vc.SET_VRING_KICK, struct.pack("<Q", 0), [c.kick]),
              "a ring started on an inflight entry that is neither 0 nor 1")
        # A region smaller than the ring: the ring does not start either.
        fd = sealed_region(128, qsize=4)
        fds.append(fd)
        check(c.acked(SET_INFLIGHT_FD, inflight_payload(128, 0, 1, 4), [fd]), "4-entry region")
        check(not c.acked(vc.SET_VRING_KICK, struct.pack("<Q", 0), [c.kick]),
              "a ring of 8 started on a region of 4 entries")
        # A fresh region from GET: the same client now runs and is served.
        (size, _, _, _), rfd = get_inflight(c)
        fds.append(rfd)
        check(c.acked(vc.SET_VRING_KICK, struct.pack("<Q", 0), [c.kick]), "kick refused")
        check(c.acked(vc.SET_VRING_ENABLE, struct.pack("<II", 0, 1)), "enable refused")
        st = write_chain(c, 0, 4, b"E", 0)
        c.submit(0)
        check(c.used()[0] == 0 and c.mem[st] == vc.S_OK and sector(image, 4) == b"E" * SECTOR,
              "the client was not served after the refusals")
        check(io.alive() and "AddressSanitizer" not in io.output(), io.output())
    finally:
        c.close()
        for fd in fds:
            os.close(fd)
        io.stop()
