# SPDX-License-Identifier: MIT
"""A disk's I/O limit changed on a running partition (claims 3, 7, 19, 59; docs/io-partition.md,
"Changing a limit"): `ultra set-disk-limits` commits SET_DISK_LIMITS and the enforcer takes it
at once. A guest reads its disk with dd (O_DIRECT) while the limit goes up, down and is removed;
each time the measured rate follows within the band test_iolimit uses (at most 1.5 times the
limit, and above 1.5 times the limit before when raised). A read in flight when the limit is
raised ends early, with every byte: the client was not disconnected. For a vhost-user disk the
limit is ultra-io's (SET_LIMIT), for a direct disk the engine's io cgroup (the monitor's
set-disk-limits). The limit survives kill -9 of ultra-io and of the command partition, because
the resource database holds it. A write limit (claim 22's read and write limits) holds dd's
writes and leaves its reads free, on both kinds of disk. Malformed requests get a clear error and
change nothing; a direct disk's limit the host cannot enforce is refused at define and at
set-disk-limits.""" 
import json
import os
import re
import socket
import struct
import time

import harness
from harness import check, wait_for, workspace
from test_defs import DefsSystem, kill_guests, write_def
from test_fastpath import disk_of
from test_iolimit import BAND, cgroup_limit, io_controller, make_image, timed_dd

LOW = 512 << 10   # bytes a second
HIGH = 2 << 20
MIB = 48          # the limited disk
OTHER_MIB = 20


def limit_of(sysp, name, disk=0):
    d = sysp.info(name)["disk_limits"][disk]
    return d["iops"], d["bytes_per_sec"]


IOCTL_VERSION = 4  # include/ultra/io_ctl.h
EXPORT = 224       # sizeof(struct uv_ioctl_export); its struct uv_disk_limit at 184
LIMIT = "<QQQIIII"  # bytes_per_sec, read_, write_; iops, read_, write_, reserved


def io_limits(sysp, full=False):
    """ultra-io's exports and their limits (io_ctl.h LIST): {path: (iops, bytes_per_sec)}, or
    with full the whole struct uv_disk_limit's fields in LIMIT's order."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET) as s:
        s.settimeout(5)
        s.connect(sysp.io_ctl)
        s.send(struct.pack("<IHHIiII", 0x4c544349, IOCTL_VERSION, 24, 1, 0, 0, 0))
        reply = s.recv(65536)
    count = struct.unpack_from("<IHHIiII", reply)[5]
    out = {}
    for i in range(count):
        rec = reply[24 + EXPORT * i:24 + EXPORT * (i + 1)]
        lim = struct.unpack_from(LIMIT, rec, 184)
        out[rec[64:176].rstrip(b"\0").decode()] = lim[:6] if full else (lim[3], lim[0])
    return out


def io_set_limit(sysp, path, iops, bps):
    """SET_LIMIT straight to ultra-io's control socket; the reply's status."""
    rec = struct.pack("<IIQQQ32s112sII" + LIMIT[1:], 0, 0, 0, 0, 0, b"", path.encode(), 0, 0,
                      bps, 0, 0, iops, 0, 0, 0)
    with socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET) as s:
        s.settimeout(5)
        s.connect(sysp.io_ctl)
        s.send(struct.pack("<IHHIiII", 0x4c544349, IOCTL_VERSION, 24, 6, 0, 1, 0) + rec)
        return struct.unpack_from("<IHHIiII", s.recv(65536))[4]


def measure(p, dev, limit, mib, skip_mib, what):
    """Reads mib MiB of dev in 64 KiB requests; checks the rate is at most BAND times limit
    (limit 0: none); returns bytes a second."""
    t = timed_dd(p, dev, 65536, mib * 16, skip=skip_mib * 16)
    rate = (mib << 20) / t
    shown = f"{limit / 2**20:.2f} MiB/s" if limit else "none"
    print(f"{what}: {mib} MiB in {t:.2f} s = {rate / 2**20:.2f} MiB/s (limit {shown})")
    if limit:
        check(rate <= BAND * limit, f"{what}: {rate / 2**20:.2f} MiB/s, over {BAND}x the "
              f"limit {limit / 2**20:.2f} MiB/s")
    return rate


def follows(p, dev, sysp, name, disk, old, new, skip_mib, what):
    """Sets disk's byte limit to new (0: none) and checks the rate follows: at most BAND times
    new, and, when it went up, clearly above what old allowed."""
    sysp.ultra("set-disk-limits", name, str(disk), "--bytes-per-sec", str(new))
    check(limit_of(sysp, name, disk) == (0, new), f"info: {limit_of(sysp, name, disk)}")
    # Enough bytes for a few seconds at the limit (the burst is a tenth of a second's worth).
    mib = max(2, (4 * new) >> 20) if new else 12
    rate = measure(p, dev, new, mib, skip_mib, what)
    if not new or new > old:
        check(rate > BAND * old, f"{what}: {rate / 2**20:.2f} MiB/s, not above {BAND}x the old "
              f"limit {old / 2**20:.2f} MiB/s")
    return mib


def timed_write(p, dev, mib, seek_mib):
    """Writes mib MiB of zeroes to dev at seek_mib in 64 KiB O_DIRECT requests; seconds."""
    text = p.out("a=$(cut -d' ' -f1 /proc/uptime); "
                 f"dd if=/dev/zero of={dev} bs=65536 count={mib * 16} seek={seek_mib * 16} "
                 "oflag=direct conv=notrunc 2>/dev/null; b=$(cut -d' ' -f1 /proc/uptime); "
                 "echo took $a $b", timeout=120)
    a, b = map(float, re.search(r"took ([\d.]+) ([\d.]+)", text).groups())
    return max(b - a, 0.01)


def writes_held_reads_free(p, dev, sysp, name, skip_mib, holds):
    """Disk 0 limited in writes only (naming a direction clears the total): dd's writes are
    held to it, its reads are not; holds() says the enforcer has it. Back to LOW in all after."""
    sysp.ultra("set-disk-limits", name, "0", "--write-bytes-per-sec", str(LOW))
    got = sysp.info(name)["disk_limits"][0]
    check((got["bytes_per_sec"], got["write_bytes_per_sec"]) == (0, LOW), f"info: {got}")
    check(holds(), f"{name}: the enforcer does not hold the write limit")
    t = timed_write(p, dev, 2, MIB - 4)
    print(f"{name}: 2 MiB written in {t:.2f} s = {2 / t:.2f} MiB/s (write limit "
          f"{LOW / 2**20:.2f} MiB/s)")
    check((2 << 20) / t <= BAND * LOW, f"{name}: writes at {2 / t:.2f} MiB/s")
    rate = measure(p, dev, 0, 12, skip_mib, f"{name}: reads beside a write limit")
    check(rate > 4 * BAND * LOW, f"{name}: reads held to {rate / 2**20:.2f} MiB/s")
    sysp.ultra("set-disk-limits", name, "0", "--bytes-per-sec", str(LOW))
    return 12


def refused(sysp, want, *args):
    r = sysp.ultra(*args, ok=False)
    check(r.returncode != 0 and want in r.stderr, f"ultra {' '.join(args)}: {r.returncode} "
          f"{r.stderr.strip()}")
    print(f"refused: {r.stderr.strip()}")


def api(sysp, request):
    """One raw request to the command partition's API; the reply object."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(20)
        s.connect(os.path.join(sysp.run, "command.sock"))
        s.sendall((json.dumps(dict(version=1, **request)) + "\n").encode())
        buf = b""
        while not buf.endswith(b"\n"):
            chunk = s.recv(65536)
            if not chunk:
                break
            buf += chunk
    return json.loads(buf)


def malformed_change_nothing(sysp, name, disk):
    before = sysp.info(name)["disk_limits"]
    refused(sysp, "no-such-disk", "set-disk-limits", name, "7", "--iops", "10")
    refused(sysp, "no-such-disk", "set-disk-limits", name, "nope.img", "--iops", "10")
    refused(sysp, "no-such-partition", "set-disk-limits", "nosuch", "0", "--iops", "10")
    refused(sysp, "expected --iops", "set-disk-limits", name, str(disk), "--iops", "-5")
    refused(sysp, "nothing to set", "set-disk-limits", name, str(disk))
    refused(sysp, "bytes_per_sec cannot be given with read_bytes_per_sec", "set-disk-limits",
            name, str(disk), "--bytes-per-sec", "5", "--read-bytes-per-sec", "5")
    for args, want in (({"iops": -1}, "arguments.iops: expected a whole number"),
                       ({"bytes_per_sec": "1M"}, "arguments.bytes_per_sec: expected"),
                       ({"bytes_per_sec": 1 << 51}, "arguments.bytes_per_sec: expected"),
                       ({"write_iops": 1 << 32}, "arguments.write_iops: expected"),
                       ({"iops": 5, "write_iops": 5}, "iops cannot be given with"),
                       ({}, "one or more limits to set"),
                       ({"iops": 5, "total": 1}, "total")):
        r = api(sysp, {"execute": "set-disk-limits",
                       "arguments": dict(name=name, disk=disk, **args)})
        check("error" in r and want in r["error"]["message"], f"{args}: {r}")
    check(sysp.info(name)["disk_limits"] == before, "a refused request changed a limit")


def test_vhost_user_disk_limit_changed_live():
    w = workspace()
    make_image(os.path.join(w.dir, "lla.img"), MIB)
    sysp = DefsSystem(w, None).start()
    harness.on_cleanup(lambda: kill_guests(w.dir))
    sysp.ultra("define", write_def(w, "lla", disks=[
        {"image": "lla.img", "limits": {"bytes_per_sec": LOW}}]))
    # A defined (not running) partition's limit is the database's alone.
    sysp.ultra("set-disk-limits", "lla", "lla.img", "--iops", "500")
    check(limit_of(sysp, "lla") == (500, LOW), f"defined: {limit_of(sysp, 'lla')}")
    sysp.ultra("set-disk-limits", "lla", "0", "--iops", "0")
    sysp.ultra("start", "lla")
    p = harness.Partition(w.dir, w.definition("lla")).wait_boot()
    dev = disk_of(p, MIB)
    sock = sysp.io_sock("lla.disk0.sock")
    check(io_limits(sysp)[sock] == (0, LOW), f"ultra-io holds {io_limits(sysp)}")

    measure(p, dev, LOW, 2, 0, "at the defined limit")
    skip = 2
    for old, new, what in ((LOW, HIGH, "raised"), (HIGH, LOW, "lowered"),
                           (LOW, 0, "removed"), (0, LOW, "limited again")):
        skip += follows(p, dev, sysp, "lla", 0, old, new, skip, what)
        check(io_limits(sysp)[sock] == (0, new), f"{what}: ultra-io holds {io_limits(sysp)}")
    skip += writes_held_reads_free(
        p, dev, sysp, "lla", skip, lambda: io_limits(sysp, True)[sock] == (0, 0, LOW, 0, 0, 0))

    # Raised while a read is held back by the old limit: the read goes on and ends early.
    p.out(f"(dd if={dev} of=/dev/null bs=65536 count=96 skip=0 iflag=direct 2>/dev/null; "
          "echo done > /tmp/lim) &")
    time.sleep(1.5)
    t0 = time.monotonic()
    sysp.ultra("set-disk-limits", "lla", "0", "--bytes-per-sec", str(HIGH))
    wait_for(lambda: "done" in p.out("cat /tmp/lim 2>/dev/null; echo ."), 30,
             "the read in flight to finish")
    took = time.monotonic() - t0
    print(f"6 MiB read at {LOW >> 10} KiB/s, raised after 1.5 s: ended {took:.1f} s later "
          f"(at the old limit it would have needed about {(6 << 20) / LOW - 1.5:.0f} s more)")
    check(took < ((6 << 20) / LOW - 1.5) / 2, f"the read in flight took {took:.1f} s more")
    err = p.out("dmesg | grep -ci 'i/o error' || true").strip()
    check(err == "0", f"the guest logged I/O errors: {err}")

    malformed_change_nothing(sysp, "lla", 0)

    # kill -9 of ultra-io: its exports come back with the database's limit.
    sysp.ultra("set-disk-limits", "lla", "0", "--bytes-per-sec", str(LOW))
    sysp.restart("io0")
    wait_for(lambda: io_limits(sysp).get(sock) == (0, LOW), 30, "the export back at its limit")
    measure(p, dev, LOW, 2, 4, "after ultra-io's restart")
    # kill -9 of the command partition: the limit is the database's, and still in force.
    sysp.ultra("set-disk-limits", "lla", "0", "--bytes-per-sec", str(HIGH))
    sysp.restart("command")
    wait_for(lambda: sysp.ultra("list", ok=False).returncode == 0, 30, "ultra-command back")
    check(limit_of(sysp, "lla") == (0, HIGH), f"after the restart: {limit_of(sysp, 'lla')}")
    check(io_limits(sysp)[sock] == (0, HIGH), f"ultra-io holds {io_limits(sysp)}")
    rate = measure(p, dev, HIGH, 8, 8, "after ultra-command's restart")
    check(rate > BAND * LOW, f"after ultra-command's restart: {rate / 2**20:.2f} MiB/s")
    # Behind the database's back (what a command partition that died between its transaction
    # and telling ultra-io leaves): the placement sync puts the database's limit back in place.
    check(io_set_limit(sysp, sock, 7, 0) == 0, "SET_LIMIT refused")
    wait_for(lambda: io_limits(sysp)[sock] == (0, HIGH), 10, "the database's limit back")
    check(sysp.io_exports() == {sock}, f"the export was replaced: {sysp.io_exports()}")
    p.console.close()
    p.console = None


def test_direct_disk_limit_changed_live():
    w = workspace()
    make_image(os.path.join(w.dir, "lld.img"), MIB, data=True)
    make_image(os.path.join(w.dir, "llv.img"), OTHER_MIB)
    make_image(os.path.join(w.dir, "lle.img"), 4)
    sysp = DefsSystem(w, None).start()
    harness.on_cleanup(lambda: kill_guests(w.dir))
    ctl, root = io_controller()

    # On tmpfs there is no block device to limit: refused at define now, not at start, and a
    # limit set later on such a disk is refused the same way; nothing is recorded.
    shm = w.shm_path("llt.img")
    make_image(shm, 8)
    want = "no block device of its own" if ctl else "needs the kernel's io controller"
    refused(sysp, want, "define", write_def(w, "llt", disks=[
        {"image": shm, "direct": True, "limits": {"bytes_per_sec": LOW}}]))
    check(sysp.ultra("info", "llt", ok=False).returncode != 0, "llt was recorded")
    sysp.ultra("define", write_def(w, "llt", disks=[{"image": shm, "direct": True}]))
    refused(sysp, want, "set-disk-limits", "llt", "0", "--bytes-per-sec", str(LOW))
    check(limit_of(sysp, "llt") == (0, 0), f"llt: {limit_of(sysp, 'llt')}")

    sysp.ultra("define", write_def(w, "lld", disks=[
        {"image": "lld.img", "direct": True, "limits": {"bytes_per_sec": LOW}},
        {"image": "llv.img"}, {"image": "lle.img", "direct": True}]))
    if not ctl:
        print("no io controller on this host: a direct disk's limit cannot be tested live")
        return
    sysp.ultra("start", "lld")
    p = harness.Partition(w.dir, w.definition("lld")).wait_boot()
    dev = disk_of(p, MIB)
    st = os.stat(os.path.join(w.dir, "lld.img"))
    majmin = f"{os.major(st.st_dev)}:{os.minor(st.st_dev)}"

    def held(limit):
        group, text = cgroup_limit(ctl, root, "lld")
        if ctl == "io":
            return (f"rbps={limit}" if limit else "rbps=max") in text or \
                (not limit and majmin not in text)
        return f"{majmin} {limit}" in text.splitlines() if limit else \
            not any(line.startswith(majmin + " ") and not line.endswith(" 0")
                    for line in text.splitlines())

    check(held(LOW), f"the cgroup holds {cgroup_limit(ctl, root, 'lld')}")
    measure(p, dev, LOW, 2, 0, "direct, at the defined limit")
    skip = 2
    for old, new, what in ((LOW, HIGH, "direct, raised"), (HIGH, LOW, "direct, lowered"),
                           (LOW, 0, "direct, removed"), (0, LOW, "direct, limited again")):
        skip += follows(p, dev, sysp, "lld", 0, old, new, skip, what)
        check(held(new), f"{what}: the cgroup holds {cgroup_limit(ctl, root, 'lld')}")

    def write_held():
        group, text = cgroup_limit(ctl, root, "lld", "write")
        return held(0) and (f"wbps={LOW}" in text if ctl == "io" else
                            f"{majmin} {LOW}" in text.splitlines())

    skip += writes_held_reads_free(p, dev, sysp, "lld", skip, write_held)
    malformed_change_nothing(sysp, "lld", 0)
    # A served disk beside it is ultra-io's: its limit goes there, not to the cgroup.
    sysp.ultra("set-disk-limits", "lld", "llv.img", "--iops", "40")
    check(io_limits(sysp)[sysp.io_sock("lld.disk1.sock")] == (40, 0), "disk1 not at ultra-io")

    # The monitor's request refuses what is not one of its direct disks.
    for disk, want in ((1, "not a direct disk"), (7, "expected a disk index")):
        r = p.ctl().call("set-disk-limits", disk=disk, iops=5)
        check(want in r.get("error", ""), f"monitor set-disk-limits disk {disk}: {r}")

    # The enforcer refuses what the host check before the transaction cannot see: a second
    # direct disk on the device of a limited one (the kernel limits a group per device). The
    # transaction is rolled back by a second one; the audit log holds both.
    refused(sysp, "rolled back", "set-disk-limits", "lld", "lle.img", "--iops", "10")
    check(limit_of(sysp, "lld", 2) == (0, 0), f"disk 2: {limit_of(sysp, 'lld', 2)}")
    check(held(LOW), f"the cgroup holds {cgroup_limit(ctl, root, 'lld')}")
    log = sysp.ultra("log", sysp.state).stdout
    pid = sysp.info("lld")["id"]
    for want in (f"set-disk-limits partition={pid} disk=2 iops=10 bytes_per_sec=0",
                 f"set-disk-limits partition={pid} disk=2 iops=0 bytes_per_sec=0"):
        check(want in log, f"the audit log lacks '{want}'")

    # kill -9 of the command partition: the kernel keeps holding the database's limit.
    sysp.ultra("set-disk-limits", "lld", "0", "--bytes-per-sec", str(HIGH))
    sysp.restart("command")
    wait_for(lambda: sysp.ultra("list", ok=False).returncode == 0, 30, "ultra-command back")
    check(limit_of(sysp, "lld") == (0, HIGH), f"after the restart: {limit_of(sysp, 'lld')}")
    check(held(HIGH), f"the cgroup holds {cgroup_limit(ctl, root, 'lld')}")
    rate = measure(p, dev, HIGH, 8, skip, "direct, after ultra-command's restart")
    check(rate > BAND * LOW, f"after ultra-command's restart: {rate / 2**20:.2f} MiB/s")
    # Behind the database's back (the monitor asked directly): it follows its record back.
    r = p.ctl().call("set-disk-limits", disk=0, bytes_per_sec=LOW)
    check("return" in r, f"monitor set-disk-limits: {r}")
    wait_for(lambda: held(HIGH), 10, "the database's limit back in the cgroup")
    p.console.close()
    p.console = None
    sysp.ultra("stop", "--timeout", "20", "lld")
