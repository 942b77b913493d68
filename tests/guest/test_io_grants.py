# SPDX-License-Identifier: MIT
"""ultra-io checks every memory table against the resource database (claims 20, 21): a client
of export S belongs to the one partition whose descriptor grants a vhost-user device on S, and
may hand over only that partition's memory objects, each region inside its object. Another
partition's object, a memfd that is no grant, a region past the grant, a socket nobody owns:
all refused, the client kept with its state unchanged. The owner's grant works,
across an ultravisor restart, and a real guest's disk works with the check on."""
import os
import signal

from harness import check, wait_for, workspace
from test_io_blk import IoPartition, find_disk
from test_io_hostile import seccomp_mode
from test_ultravisor import Ultravisor
import uv_client
import vhost_client as vc

MIB = 1 << 20
GRANT = 32 * MIB
IO_PARTITION = 4  # an io system partition in the ultravisor's default configuration


def blk(sock):
    return [{"kind": "vhost-user-blk", "path": sock}]


def define(uv, w, pid, name, devices):
    p = w.partition(name, memory_mib=GRANT // MIB, devices=devices)
    uv.ctl("create", str(pid), p.def_file())
    return p


def image(w, name, fill):
    path = os.path.join(w.dir, name)
    with open(path, "wb") as f:
        f.write(bytes([fill]) * MIB)
    return path


def checked_io(w, uv, *exports):
    return IoPartition(w, *exports, extra=["--ultravisor", uv.sock,
                                            "--partition", str(IO_PARTITION)])


def children(pid):
    out = []
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open(f"/proc/{d}/stat") as f:
                    if int(f.read().rsplit(")", 1)[1].split()[1]) == pid:
                        out.append(int(d))
            except (OSError, ValueError, IndexError):
                pass
    return out


def read_ok(c, want):
    _, n = c.request(vc.T_IN, 0, vc.BUFS + 0x1000, 512, vc.BUFS + 0x800, True)
    return n == 513 and c.mem[vc.BUFS + 0x800] == vc.S_OK and \
        bytes(c.mem[vc.BUFS + 0x1000:vc.BUFS + 0x1200]) == bytes([want]) * 512


def test_tables_must_lie_in_the_clients_grants():
    w = workspace()
    uv = Ultravisor(w).start()
    uv.ctl("boot-command")
    a, b = (os.path.join(w.dir, f"{n}.sock") for n in ("a", "b"))
    chan_file = os.path.join(w.dir, "chan.mem")  # a channel device named by path
    with open(chan_file, "wb") as f:
        f.truncate(64 << 10)
    define(uv, w, 12, "owner", blk(a) + [{"kind": "channel", "path": chan_file}])
    define(uv, w, 13, "other", blk(b + ".unserved"))
    define(uv, w, 14, "third", [])
    uv.ctl("channel", "1", "12", "13", "64K")  # 12 is an endpoint
    uv.ctl("channel", "2", "13", "14", "64K")  # 12 is not
    # (A second partition granted the same socket is refused by the database itself,
    # DOUBLE_ALLOC; ultra-io would refuse it too: tests/unit/test_io_grants.c.)
    io = checked_io(w, uv, (a, image(w, "a.img", 0xA1), 12), (b, image(w, "b.img", 0xB2), 13))
    ctl = uv_client.Control(uv.sock)
    fds = []
    try:
        check(seccomp_mode(io.proc.pid) == 2, "ultra-io serves without its seccomp filter")
        # The one process that may still connect is its connector, under a filter of its own.
        kids = children(io.proc.pid)
        check(len(kids) == 1 and seccomp_mode(kids[0]) == 2,
              f"ultra-io's connector: children {kids}")
        own, = ctl.memory(12)
        other, = ctl.memory(13)
        fds += [own, other]
        mine, = ctl.channels(12)
        of13 = ctl.channels(13)
        fds += [mine] + of13
        theirs = [fd for fd in of13 if os.fstat(fd).st_ino != os.fstat(mine).st_ino]
        check(len(of13) == 2 and len(theirs) == 1, "channel 2's object")
        chan_dev = os.open(chan_file, os.O_RDWR)
        fds.append(chan_dev)
        r = vc.Client.region
        whole = [r(0, vc.MEM, vc.UVA, 0)]

        c = vc.Client(a, partition=12)
        c.use_memory(own)
        c.negotiate()
        stray = os.memfd_create("not-a-grant")
        os.ftruncate(stray, GRANT)
        fds.append(stray)
        refusals = {
            "another partition's memory object": (whole, [other]),
            "a memfd that is no grant": (whole, [stray]),
            "a region past the end of the grant": ([r(0, 2 * MIB, vc.UVA, GRANT - MIB)], [own]),
            "a region starting past the grant": ([r(0, 4096, vc.UVA, GRANT)], [own]),
            "the grant and another partition's object":
                ([r(0, vc.MEM, vc.UVA, 0), r(vc.MEM, vc.MEM, vc.UVA + vc.MEM, 0)], [own, other]),
            "a channel between two other partitions":
                ([r(0, vc.MEM, vc.UVA, 0), r(vc.MEM, 64 << 10, vc.UVA + vc.MEM, 0)],
                 [own, theirs[0]]),
        }
        for what, (regions, objs) in refusals.items():
            check(not c.mem_table(regions, fds=objs), f"a table with {what} was accepted")
        log = io.output()
        check("not granted to partition 12" in log and "beyond the object granted to" in log,
              f"refusals not logged with their reason: {log}")
        # The refused client stays, with nothing changed; its own grant is accepted and serves.
        check(c.mem_table(whole, fds=[own]), "the owner's own grant was refused")
        check(c.ring(), "rings refused")
        c.start()
        check(read_ok(c, 0xA1), "a read through the owner's grant failed")
        # A second table with a region deeper inside the grant: accepted too.
        check(c.mem_table([r(0, vc.MEM, vc.UVA, 0), r(4 * MIB, MIB, vc.UVA + 4 * MIB, 4 * MIB)],
                          fds=[own, own]), "a two-region table inside the grant was refused")
        # What QEMU maps into the guest besides RAM is the partition's too: the channels it is
        # an endpoint of (ivshmem BARs) and its channel devices' files.
        check(c.mem_table([r(0, vc.MEM, vc.UVA, 0), r(vc.MEM, 64 << 10, vc.UVA + vc.MEM, 0),
                           r(2 * vc.MEM, 64 << 10, vc.UVA + 2 * vc.MEM, 0)],
                          fds=[own, mine, chan_dev]),
              "a table with the partition's channel and channel device was refused")
        check(not c.mem_table([r(0, vc.MEM, vc.UVA, 0),
                               r(vc.MEM, 128 << 10, vc.UVA + vc.MEM, 0)], fds=[own, chan_dev]),
              "a region past the end of a channel device's file was accepted")
        check(read_ok(c, 0xA1), "reads after the later tables")
        c.close()

        # A socket no partition is granted: nobody's, whatever memory comes with it.
        for mem in (own, other):
            d = vc.Client(b, partition=13)
            d.use_memory(mem)
            d.negotiate()
            check(not d.mem_table(whole, fds=[mem]), "a table on a socket nobody owns accepted")
            d.close()
        check("no partition is granted a vhost-user-blk on " + b in io.output(),
              f"no log of an unowned socket: {io.output()}")
        refused = io.output().count("memory table refused")
        check(refused == len(refusals) + 3, f"{refused} refusals logged: {io.output()}")
        check(f"({refused} refused)" in io.output(), "no running count of refusals")

        # kill -9 of the ultravisor: recovery makes partition 12's object afresh (no monitor
        # here hands the old one back). ultra-io reconnects through its connector from inside
        # its sandbox and follows: the old object is refused, the new one accepted.
        ctl.close()
        uv.proc.send_signal(signal.SIGKILL)
        uv.proc.wait()
        uv.start()
        ctl = uv_client.Control(uv.sock)
        fresh, = ctl.memory(12)
        fds.append(fresh)
        check(os.fstat(fresh).st_ino != os.fstat(own).st_ino, "recovery reused the object")
        e = vc.Client(a, partition=12)
        e.use_memory(fresh)
        e.negotiate()
        check(not e.mem_table(whole, fds=[own]), "a stale object accepted after a restart")
        check(e.mem_table(whole, fds=[fresh]), "the restarted ultravisor's grant was refused")
        check(e.ring(), "rings refused after the restart")
        e.start()
        check(read_ok(e, 0xA1), "a read after the ultravisor's restart failed")
        e.close()
        check(io.alive() and "AddressSanitizer" not in io.output(), "ultra-io: " + io.output())
    finally:
        for fd in fds:
            os.close(fd)
        ctl.close()
        io.stop()
    check("memory tables: 4 within their grants, 10 refused" in io.output(),
          "the closing tally: " + io.output()[-400:])


def test_guest_disk_with_the_check_on():
    """A Debian guest booted from the database uses its vhost-user-blk disk with the check on,
    and again after the ultravisor and then the I/O partition were killed and restarted: its
    table is refused until the monitor hands the live memory object back, then QEMU's retry
    passes."""
    w = workspace()
    uv = Ultravisor(w).start()
    uv.ctl("boot-command")
    sock = os.path.join(w.dir, "blk.sock")
    img = os.path.join(w.dir, "disk.img")
    with open(img, "wb") as f:
        f.truncate(16 * MIB)
    io = checked_io(w, uv, (sock, img, 12))
    try:
        p = w.partition("grantblk", memory_mib=160, devices=blk(sock))
        uv.ctl("create", "12", p.def_file())
        p.start_monitor("--ultravisor", uv.sock, "--partition", "12")
        p.wait_boot()
        vd = find_disk(p)
        out = p.out(f"echo hello-granted > {vd}; sync; head -c 13 {vd}", timeout=60)
        check("hello-granted" in out, f"the guest's disk: {out!r}")
        with open(img, "rb") as f:
            check(f.read(13) == b"hello-granted", "the image does not hold the guest's write")
        check("within partition 12's grants" in io.output(), io.output())

        # The window after an ultravisor restart: its memory objects are fresh until the
        # monitor hands the live one back. Stop the monitor so it cannot, restart the
        # ultravisor and the I/O partition: QEMU's table names memory the database no longer
        # lists, and is refused. Once the monitor runs again it hands the object back (within
        # half a second) and QEMU's next reconnection (reconnect=1) is accepted.
        os.kill(p.monitor.pid, signal.SIGSTOP)
        try:
            uv.proc.send_signal(signal.SIGKILL)
            uv.proc.wait()
            uv.start()
            io.proc.send_signal(signal.SIGKILL)
            io.proc.wait()
            io = checked_io(w, uv, (sock, img, 12))
            wait_for(lambda: "memory table refused" in io.output(), 30,
                     "QEMU's stale table to be refused")
            check("not granted to partition 12" in io.output(), io.output())
        finally:
            os.kill(p.monitor.pid, signal.SIGCONT)
        # (The new instance appends to the same log: look after the refusal.)
        wait_for(lambda: "within partition 12's grants" in
                 io.output().rsplit("memory table refused", 1)[1], 30,
                 "QEMU's retry to be accepted after the hand-back")
        out = p.out(f"echo again-granted > {vd}; sync; head -c 13 {vd}", timeout=90)
        check("again-granted" in out, f"the disk after the restarts: {out!r}; "
              f"ultra-io: {io.output()}")
        check(io.alive(), "ultra-io died: " + io.output())
    finally:
        io.stop()
