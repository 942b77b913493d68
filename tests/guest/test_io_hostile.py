# SPDX-License-Identifier: MIT
"""A hostile vhost-user front end and guest against ultra-io (claims 20, 21): bad memory
tables, descriptors outside the table, wrapping 2^64, spanning regions and looping chains are
all refused, nothing outside the client's buffers changes, and other clients keep being
served. No guest boots here: the test is the front end."""
import hashlib
import os
import select
import struct

from harness import check, workspace
from test_io_blk import IoPartition
import vhost_client as vc

DISK = 1 << 20
CANARY = 0xA5


def setup():
    w = workspace()
    image = os.path.join(w.dir, "disk.img")
    with open(image, "wb") as f:
        f.write(bytes(range(256)) * (DISK // 256))
    sock = os.path.join(w.dir, "blk.sock")
    return w, image, sock, IoPartition(w, (sock, image))


def digest(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def healthy(io, sock):
    """A fresh, well-behaved client still gets correct data."""
    c = vc.Client(sock)
    try:
        c.setup()
        _, n = c.request(vc.T_IN, 1, vc.BUFS + 0x1000, 512, vc.BUFS + 0x800, True)
        check(n == 513 and c.mem[vc.BUFS + 0x800] == vc.S_OK, "a good read failed")
        check(bytes(c.mem[vc.BUFS + 0x1000:vc.BUFS + 0x1200]) == bytes(range(256)) * 2,
              "a good read returned the wrong bytes")
    finally:
        c.close()
    check(io.alive(), "ultra-io died: " + io.output())
    check("AddressSanitizer" not in io.output(), io.output())


def seccomp_mode(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("Seccomp:"):
                return int(line.split()[1])
    return -1


def test_bad_memory_tables_are_refused():
    w, image, sock, io = setup()
    try:
        check(seccomp_mode(io.proc.pid) == 2, "ultra-io serves without its seccomp filter")
        c = vc.Client(sock)
        c.negotiate()
        r = vc.Client.region
        bad = {
            "wraps 2^64 (guest)": [r(2**64 - 4096, 8192, vc.UVA, 0)],
            "wraps 2^64 (front end)": [r(0, 8192, 2**64 - 4096, 0)],
            "longer than its memory object": [r(0, 2 * vc.MEM, vc.UVA, 0)],
            "offset past the object": [r(0, 4096, vc.UVA, vc.MEM)],
            "empty": [r(0, 0, vc.UVA, 0)],
            "overlapping": [r(0, 8192, vc.UVA, 0), r(4096, 8192, vc.UVA + 2**20, 0)],
        }
        for what, regions in bad.items():
            check(not c.mem_table(regions), f"a memory table that {what} was accepted")
        # Rings outside the (good) table are refused at SET_VRING_ADDR, with their full size.
        check(c.mem_table([r(0, vc.MEM, vc.UVA, 0)]), "a good table was refused")
        check(not c.ring(desc=vc.UVA + vc.MEM - 64), "a descriptor table past the end accepted")
        check(not c.ring(used=vc.UVA + vc.MEM - 68), "a used ring 2 bytes past the end accepted")
        check(not c.ring(avail=2**64 - 8), "a wrapping avail ring accepted")
        check(not c.ring(desc=vc.DESC), "a guest-physical ring address accepted as virtual")
        check(c.ring(), "good rings refused after bad ones")
        # More fds than regions is a malformed message: the client is dropped...
        try:
            c.mem_table([r(0, vc.MEM, vc.UVA, 0)], nfds=2)
        except vc.Closed:
            pass
        check(c.is_closed(), "a malformed SET_MEM_TABLE did not drop the client")
        c.close()
        # ...and only that client.
        healthy(io, sock)
    finally:
        io.stop()


def expect_refused(c, head, status_addr, what):
    before = bytes(c.mem)
    c.submit(head)
    _, n = c.used()
    after = bytes(c.mem)
    changed = [i for i in range(len(before)) if before[i] != after[i]]
    # What we wrote ourselves (the avail ring) and what the device may write (used ring).
    allowed = set(range(vc.AVAIL, vc.AVAIL + 6 + 2 * vc.NUM))
    allowed |= set(range(vc.USED, vc.USED + 6 + 8 * vc.NUM))
    if status_addr is not None:
        allowed.add(status_addr)
        check(after[status_addr] == vc.S_IOERR, f"{what}: status {after[status_addr]}, not IOERR")
    stray = [hex(i) for i in changed if i not in allowed]
    check(not stray, f"{what}: bytes changed outside the used ring and status: {stray[:8]}")
    check(n == (1 if status_addr is not None else 0), f"{what}: used length {n}")


def test_hostile_descriptors_are_refused_and_touch_nothing():
    w, image, sock, io = setup()
    before = digest(image)
    try:
        c = vc.Client(sock)
        c.negotiate()
        # Two regions, guest-adjacent but 1 MiB apart in the front end's space.
        half = vc.MEM // 2
        check(c.mem_table([vc.Client.region(0, half, vc.UVA, 0),
                           vc.Client.region(half, half, vc.UVA + 2 * vc.MEM, half)]),
              "a good two-region table refused")
        check(c.ring(), "good rings refused")
        c.start()
        c.mem[vc.BUFS:vc.MEM] = bytes([CANARY]) * (vc.MEM - vc.BUFS)
        status = vc.BUFS + 0x800
        struct.pack_into("<IIQ", c.mem, vc.BUFS, vc.T_OUT, 0, 0)  # a write of sector 0
        cases = {
            "outside the table": (vc.MEM, 512),
            "wrapping 2^64": (2**64 - 256, 512),
            "spanning two regions": (half - 256, 512),
            "one byte past the end": (vc.MEM - 511, 512),
            "empty": (vc.BUFS + 0x1000, 0),
        }
        for what, (addr, length) in cases.items():
            c.desc(0, vc.BUFS, 16, vc.NEXT, 1)
            c.desc(1, addr, length, vc.NEXT, 2)
            c.desc(2, status, 1, vc.WRITE, 0)
            c.mem[status] = CANARY
            expect_refused(c, 0, status, what)
        # Bad flags: INDIRECT (this client does not negotiate it) and readable after writable.
        c.desc(0, vc.BUFS, 16, vc.NEXT | vc.INDIRECT, 1)
        c.mem[status] = CANARY
        expect_refused(c, 0, status, "an indirect descriptor")
        c.desc(0, vc.BUFS, 16, vc.NEXT | vc.WRITE, 1)
        c.desc(1, vc.BUFS + 0x1000, 512, vc.NEXT, 2)
        c.mem[status] = CANARY
        expect_refused(c, 0, status, "readable after writable")
        # Loops: no last descriptor, so no status; the chain comes back with length 0.
        c.desc(0, vc.BUFS, 16, vc.NEXT, 1)
        c.desc(1, vc.BUFS + 0x1000, 512, vc.NEXT, 0)
        expect_refused(c, 0, None, "a two-descriptor loop")
        c.desc(3, vc.BUFS, 16, vc.NEXT, 3)
        expect_refused(c, 3, None, "a self loop")
        # A next index beyond the ring.
        c.desc(0, vc.BUFS, 16, vc.NEXT, 200)
        expect_refused(c, 0, None, "next beyond the ring")
        # Sectors past the disk's end are an I/O error too, and write nothing.
        struct.pack_into("<IIQ", c.mem, vc.BUFS, vc.T_OUT, 0, DISK // 512)
        c.desc(0, vc.BUFS, 16, vc.NEXT, 1)
        c.desc(1, vc.BUFS + 0x1000, 512, vc.NEXT, 2)
        c.desc(2, status, 1, vc.WRITE, 0)
        c.mem[status] = CANARY
        expect_refused(c, 0, status, "a write past the disk's end")
        check(digest(image) == before, "a refused request changed the disk image")
        # One kick, three chains: two writes run together (io_uring), a read past the end
        # in between is refused on its own. Its data and status share one descriptor.
        for i, (head, sector) in enumerate(((0, 2), (6, DISK // 512), (3, 3))):
            hdr, data = vc.BUFS + 0x100 * i, vc.BUFS + 0x1000 * (i + 1)
            struct.pack_into("<IIQ", c.mem, hdr, vc.T_IN if head == 6 else vc.T_OUT, 0, sector)
            c.mem[data:data + 512] = bytes([0x40 + i]) * 512
            c.desc(head, hdr, 16, vc.NEXT, head + 1)
            if head == 6:
                c.desc(7, data, 513, vc.WRITE)
                continue
            c.desc(head + 1, data, 512, vc.NEXT, head + 2)
            c.desc(head + 2, vc.BUFS + 0x900 + i, 1, vc.WRITE)
        c.submit(0, 6, 3)
        done = dict(c.used() for _ in range(3))
        check(done == {0: 1, 3: 1, 6: 1}, f"batch completions {done}")
        check(c.mem[vc.BUFS + 0x900] == vc.S_OK and c.mem[vc.BUFS + 0x902] == vc.S_OK,
              "a batched write failed")
        check(c.mem[vc.BUFS + 0x2000 + 512] == vc.S_IOERR, "a read past the end succeeded")
        with open(image, "rb") as f:
            img = f.read()
        check(img[1024:1536] == bytes([0x40]) * 512 and img[1536:2048] == bytes([0x42]) * 512,
              "the batched writes are not in the image")
        check("refused (" in io.output(), "refusals were not logged")
        # The hostile client itself is still served when it behaves.
        _, n = c.request(vc.T_IN, 0, vc.BUFS + 0x1000, 512, status, True)
        check(n == 513 and c.mem[status] == vc.S_OK, "the client's good read failed")
        c.close()
        healthy(io, sock)
    finally:
        io.stop()


def test_many_clients_at_once_and_a_runaway_avail_index():
    w, image, sock, io = setup()
    try:
        clients = [vc.Client(sock) for _ in range(4)]
        for c in clients:
            c.setup()
        # One client publishes an avail index far ahead of the ring: its queue is stopped.
        bad = clients[0]
        struct.pack_into("<H", bad.mem, vc.AVAIL + 2, 200)
        os.eventfd_write(bad.kick, 1)
        for i, c in enumerate(clients[1:], 1):
            struct.pack_into("<B", c.mem, vc.BUFS + 0x1000, 0)
            c.mem[vc.BUFS + 0x1000:vc.BUFS + 0x1200] = bytes([i]) * 512
            _, n = c.request(vc.T_OUT, 8 + i, vc.BUFS + 0x1000, 512, vc.BUFS + 0x800, False)
            check(n == 1 and c.mem[vc.BUFS + 0x800] == vc.S_OK, f"client {i}: write failed")
        for i, c in enumerate(clients[1:], 1):
            _, n = c.request(vc.T_IN, 8 + i, vc.BUFS + 0x2000, 512, vc.BUFS + 0x800, True)
            check(bytes(c.mem[vc.BUFS + 0x2000:vc.BUFS + 0x2200]) == bytes([i]) * 512,
                  f"client {i} read another client's data or none")
        with open(image, "rb") as f:
            data = f.read()
        for i in range(1, 4):
            check(data[(8 + i) * 512:(9 + i) * 512] == bytes([i]) * 512,
                  f"client {i}'s write is not in the image")
        for c in clients:
            c.close()
        healthy(io, sock)
    finally:
        io.stop()


def test_event_idx_and_a_hostile_used_event():
    """VIRTIO_RING_F_EVENT_IDX (virtio 1.2, 2.7.7, 2.7.10): interrupts only when used_event
    asks, avail_event says which request to kick for, and garbage in used_event costs the
    guest at most its own interrupts: the completions are still in its used ring."""
    w, image, sock, io = setup()
    try:
        c = vc.Client(sock, event_idx=True)
        c.setup()
        for i in range(3):  # a driver that asks for every completion gets an interrupt for each
            _, n = c.request(vc.T_IN, i, vc.BUFS + 0x1000, 512, vc.BUFS + 0x800, True)
            check(n == 513 and c.mem[vc.BUFS + 0x800] == vc.S_OK, "a read under EVENT_IDX failed")
        check(c.avail_event() == c.avail_idx,
              f"avail_event {c.avail_event()} does not ask for the next request ({c.avail_idx})")
        # used_event far from the used index: the completion lands, no interrupt follows
        c.event_idx = False
        for ev in (0xFFFF, c.used_seen + 0x8000, c.used_seen - 1, 0x1234):
            c.set_used_event(ev)
            while True:
                try:
                    os.eventfd_read(c.call)
                except BlockingIOError:
                    break
            struct.pack_into("<IIQ", c.mem, vc.BUFS, vc.T_IN, 0, 3)
            c.desc(0, vc.BUFS, 16, vc.NEXT, 1)
            c.desc(1, vc.BUFS + 0x1000, 512, vc.NEXT | vc.WRITE, 2)
            c.desc(2, vc.BUFS + 0x800, 1, vc.WRITE, 0)
            c.submit(0)
            seen = c.used_seen
            for _ in range(500):
                if struct.unpack_from("<H", c.mem, vc.USED + 2)[0] != seen:
                    break
                select.select([], [], [], 0.01)
            check(struct.unpack_from("<H", c.mem, vc.USED + 2)[0] == (seen + 1) & 0xFFFF,
                  f"used_event {ev:#x}: the completion never reached the used ring")
            c.used_seen = (seen + 1) & 0xFFFF
            check(not select.select([c.call], [], [], 0.2)[0],
                  f"used_event {ev:#x}: interrupted although the driver did not ask")
        c.event_idx = True  # a sane used_event again: interrupts come back
        _, n = c.request(vc.T_IN, 5, vc.BUFS + 0x1000, 512, vc.BUFS + 0x800, True)
        check(n == 513 and bytes(c.mem[vc.BUFS + 0x1000:vc.BUFS + 0x1200]) ==
              bytes(range(256)) * 2, "no interrupt once used_event was sane again")
        c.close()
        healthy(io, sock)
    finally:
        io.stop()
