# SPDX-License-Identifier: MIT
"""Per-disk I/O limits (claims 19, 22; docs/definitions.md "limits", docs/io-partition.md): one
guest's disk must not take a shared disk from the others. Under ultra-boot with the command and
I/O partitions, guest A has a vhost-user disk limited to 1 MiB/s and 50 requests a second and an
unlimited one; guest B, served by the same ultra-io, has an unlimited disk. In A, dd with
O_DIRECT reads the limited disk at no more than 1.5 times the limit, in bytes and in requests,
while its unlimited disk is clearly faster; B reads its disk at full speed while A's limited read
is held back (ultra-io delays A's requests in its event loop without blocking anyone else).
A direct disk (the fast path) with a limit is held to it by the kernel (the engine's io/blkio
cgroup) where the host has the controller; where it cannot be enforced, define (when the host
can tell already) or start is refused with the reason: shown here with an image on tmpfs, which
has no block device to limit."""
import os
import re

import harness
from harness import check, workspace
from test_defs import DefsSystem, kill_guests, write_def
from test_fastpath import disk_of

LIMIT_BPS = 1 << 20
LIMIT_IOPS = 50
LIMITED_MIB, FREE_MIB, OTHER_MIB, DIRECT_MIB = 24, 20, 28, 32
BAND = 1.5  # measured at most this many times the limit


def make_image(path, mib, data=False):
    """A raw image; data: written through, so reading it really goes to the host's disk (a hole
    reads as zeroes without any I/O for the kernel to limit)."""
    with open(path, "wb") as f:
        if data:
            chunk = os.urandom(1 << 20)
            for _ in range(mib):
                f.write(chunk)
            f.flush()
            os.fsync(f.fileno())
        else:
            f.truncate(mib << 20)


def timed_dd(p, dev, bs, count, skip=0):
    """Reads count blocks of bs bytes from dev with O_DIRECT in guest p; the seconds it took by
    the guest's clock."""
    text = p.out("a=$(cut -d' ' -f1 /proc/uptime); "
                 f"dd if={dev} of=/dev/null bs={bs} count={count} skip={skip} iflag=direct "
                 "2>/dev/null; b=$(cut -d' ' -f1 /proc/uptime); echo took $a $b", timeout=120)
    a, b = map(float, re.search(r"took ([\d.]+) ([\d.]+)", text).groups())
    return max(b - a, 0.01)


def rate_check(what, amount, unit, seconds, limit):
    rate = amount / seconds
    print(f"{what}: {amount} {unit} in {seconds:.2f} s = {rate:.0f} {unit}/s "
          f"(limit {limit}, {rate / limit:.2f}x)")
    check(rate <= BAND * limit, f"{what}: {rate:.0f} {unit}/s, over {BAND}x the limit {limit}")
    return rate


def test_vhost_user_disk_limited_and_others_not_slowed():
    w = workspace()
    for leaf, mib in (("ila.img", LIMITED_MIB), ("ilf.img", FREE_MIB), ("ilb.img", OTHER_MIB)):
        make_image(os.path.join(w.dir, leaf), mib)
    sysp = DefsSystem(w, None).start()
    harness.on_cleanup(lambda: kill_guests(w.dir))

    # A limit is checked like every other field.
    for limits, want in (({"iops": 0}, "disks[0].limits.iops: must be positive"),
                         ({"bytes_per_sec": "1M"}, "disks[0].limits.bytes_per_sec: expected an"),
                         ({"total_iops_sec": 5}, "disks[0].limits.total_iops_sec: unknown key")):
        r = sysp.ultra("define", write_def(w, "ilbad", disks=[{"image": "ila.img",
                                                              "limits": limits}]), ok=False)
        check(r.returncode == 1 and want in r.stderr, f"define with {limits}: {r.stderr}")

    sysp.ultra("define", write_def(w, "ila", disks=[
        {"image": "ila.img", "limits": {"iops": LIMIT_IOPS, "bytes_per_sec": LIMIT_BPS}},
        {"image": "ilf.img"}]))
    sysp.ultra("define", write_def(w, "ilb", disks=[{"image": "ilb.img"}]))
    sysp.ultra("start", "ila")
    sysp.ultra("start", "ilb")
    a = harness.Partition(w.dir, w.definition("ila")).wait_boot()
    b = harness.Partition(w.dir, w.definition("ilb")).wait_boot()
    limited, free = disk_of(a, LIMITED_MIB), disk_of(a, FREE_MIB)
    other = disk_of(b, OTHER_MIB)

    # Bytes bind: 4 MiB in requests of 64 KiB (64 requests, well under 50 a second).
    t = timed_dd(a, limited, 65536, 64)
    rate_check("limited disk, 64 KiB reads", 4 << 20, "B", t, LIMIT_BPS)
    check(t >= 2.0, f"4 MiB at 1 MiB/s took only {t:.2f} s")
    # Requests bind: 200 reads of 4 KiB (800 KiB, under the byte limit).
    t = timed_dd(a, limited, 4096, 200, skip=2048)
    rate_check("limited disk, 4 KiB reads", 200, "requests", t, LIMIT_IOPS)
    check(t >= 2.5, f"200 requests at 50 a second took only {t:.2f} s")

    # The same guest's unlimited disk and the other guest's disk are not held to it.
    t_free = timed_dd(a, free, 65536, 64)
    free_rate = (4 << 20) / t_free
    print(f"unlimited disk of the same guest: {free_rate / 2**20:.1f} MiB/s")
    check(free_rate > 2 * BAND * LIMIT_BPS,
          f"the unlimited disk reads at {free_rate / 2**20:.2f} MiB/s: not clearly faster")
    t_solo = timed_dd(b, other, 65536, 256)
    solo = (16 << 20) / t_solo

    # B reads while A's limited read is held back: B goes at its own pace, A stays limited.
    a.out(f"(dd if={limited} of=/dev/null bs=65536 count=96 skip=64 iflag=direct 2>/dev/null; "
          "echo done > /tmp/lim) &")
    t_busy = timed_dd(b, other, 65536, 256, skip=128)
    busy = (16 << 20) / t_busy
    a_done = "done" in a.out("cat /tmp/lim 2>/dev/null; echo .")
    print(f"other guest: {solo / 2**20:.1f} MiB/s alone, {busy / 2**20:.1f} MiB/s beside the "
          f"limited disk ({busy / solo:.2f}x)")
    check(not a_done, "the limited read (6 MiB at 1 MiB/s) ended before the other guest's")
    check(busy > 2 * BAND * LIMIT_BPS,
          f"the other guest read at {busy / 2**20:.2f} MiB/s beside the limited disk")
    # Tolerant: this 2-core machine is shared, and a TCG guest's reads cost CPU time.
    check(busy >= 0.3 * solo, f"the other guest slowed from {solo / 2**20:.1f} to "
          f"{busy / 2**20:.1f} MiB/s beside the limited disk")
    # Delayed, never failed: the held-back read ends with every byte.
    harness.wait_for(lambda: "done" in a.out("cat /tmp/lim 2>/dev/null; echo ."), 60,
                     "the limited read to finish")
    err = a.out("dmesg | grep -ci 'i/o error' || true").strip()
    check(err == "0", f"the guest logged I/O errors: {err}")


def io_controller():
    """Where the host has the io controller: ("io", root) for cgroup v2 listing io, ("blkio",
    root) for v1; (None, None) without."""
    found = (None, None)
    with open("/proc/mounts") as f:
        for line in f:
            dev, mnt, fstype, opts = line.split()[:4]
            if fstype == "cgroup" and "blkio" in opts.split(",") and not found[0]:
                found = ("blkio", mnt)
            if fstype == "cgroup2":
                try:
                    with open(os.path.join(mnt, "cgroup.controllers")) as c:
                        if "io" in c.read().split():
                            return ("io", mnt)
                except OSError:
                    pass
    return found


def cgroup_limit(ctl, root, name, way="read"):
    """The byte limit (way: read or write) the partition's io cgroup holds, as its file says it
    (v2: io.max, both ways)."""
    d = os.path.join(root, "ultravisor", name)
    leaf = "io.max" if ctl == "io" else f"blkio.throttle.{way}_bps_device"
    with open(os.path.join(d, leaf)) as f:
        return d, f.read().strip()


def test_direct_disk_limited_by_the_kernel_or_refused():
    w = workspace()
    make_image(os.path.join(w.dir, "ild.img"), DIRECT_MIB, data=True)
    make_image(os.path.join(w.dir, "ilv.img"), FREE_MIB)
    sysp = DefsSystem(w, None).start()
    harness.on_cleanup(lambda: kill_guests(w.dir))
    ctl, root = io_controller()
    print(f"io controller: {ctl or 'none'}; {w.dir} is on device "
          f"{os.major(os.stat(w.dir).st_dev)}:{os.minor(os.stat(w.dir).st_dev)}")

    # On tmpfs there is no block device to hold to a limit: define says so (the host can tell
    # already), nothing is recorded, nothing runs.
    shm = w.shm_path("ilt.img")
    make_image(shm, 8)
    r = sysp.ultra("define", write_def(w, "ilt", disks=[
        {"image": shm, "direct": True, "limits": {"bytes_per_sec": LIMIT_BPS}}]), ok=False)
    want = "no block device of its own" if ctl else "needs the kernel's io controller"
    check(r.returncode == 1 and "disks[0].limits" in r.stderr and want in r.stderr,
          f"a direct disk's limit on tmpfs: {r.returncode} {r.stderr}")
    print(f"refused: {r.stderr.strip()}")
    check(sysp.ultra("info", "ilt", ok=False).returncode != 0, "ilt was recorded")

    sysp.ultra("define", write_def(w, "ild", disks=[
        {"image": "ild.img", "direct": True, "limits": {"bytes_per_sec": LIMIT_BPS}},
        {"image": "ilv.img"}]))
    if not ctl:
        r = sysp.ultra("start", "ild", ok=False)
        check(r.returncode == 1 and "needs the kernel's io controller" in r.stderr,
              f"a direct disk's limit with no io controller: {r.stderr}")
        print("no io controller on this host: the limited direct disk is refused, as it should")
        return
    sysp.ultra("start", "ild")
    d = harness.Partition(w.dir, w.definition("ild")).wait_boot()
    st = os.stat(os.path.join(w.dir, "ild.img"))
    group, text = cgroup_limit(ctl, root, "ild")
    dev = f"{os.major(st.st_dev)}:{os.minor(st.st_dev)}"
    held = (f"{dev} " in text and f"rbps={LIMIT_BPS}" in text) if ctl == "io" else \
        f"{dev} {LIMIT_BPS}" in text.splitlines()
    check(held, f"{group} holds {text!r}, not {LIMIT_BPS} on {dev}")
    with open(os.path.join(group, "cgroup.procs")) as f:
        check(str(d.qemu_pid()) in f.read().split(), f"QEMU is not in {group}")
    vd = disk_of(d, DIRECT_MIB)
    t = timed_dd(d, vd, 65536, 64)
    rate_check("direct disk, 64 KiB reads", 4 << 20, "B", t, LIMIT_BPS)
    check(t >= 2.0, f"4 MiB at 1 MiB/s took only {t:.2f} s on the direct disk")
    t_free = timed_dd(d, disk_of(d, FREE_MIB), 65536, 64)
    check((4 << 20) / t_free > 2 * BAND * LIMIT_BPS,
          f"the unlimited disk beside it reads at {(4 << 20) / t_free / 2**20:.2f} MiB/s")
    sysp.ultra("stop", "--timeout", "20", "ild")
    harness.wait_for(lambda: not os.path.exists(group), 30, f"{group} to be removed")
