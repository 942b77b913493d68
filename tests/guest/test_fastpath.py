# SPDX-License-Identifier: MIT
"""The fast path (issue 5 item 7; claims 22, 23, 68, 69; docs/io-partition.md): a disk defined
with "direct": true is done by the guest's own engine, O_DIRECT through io_uring on an image the
monitor opened, with no I/O partition on its data path; the setup still goes through the system
partitions. Under ultra-boot with the command and I/O partitions: the guest makes ext4 on its
direct disk, writes a random file, and the image holds it; QEMU's command line has
cache.direct=on and io_uring on an fd set, not the image's path; ultra-io lists the direct disk;
while ultra-io is stopped (SIGSTOP) the direct disk keeps working and the guest's vhost-user disk
does not; a second partition with the same image is refused at define, and one reaching it by
another name is refused by ultra-io at start; stop takes grant and record back."""
import os
import signal
import subprocess
import time

import harness
from harness import check, wait_for, workspace
from test_defs import DefsSystem, ext4_pattern, kill_guests, write_def

DIRECT_MIB = 32
VHU_MIB = 16


def disk_of(p, mib):
    """The guest's virtio disk of mib MiB."""
    def find():
        for b in p.sh("ls /sys/block")[0].split():
            if b.startswith("vd") and p.sh(f"cat /sys/block/{b}/size")[0].strip() == \
                    str((mib << 20) // 512):
                return "/dev/" + b
        return None
    return wait_for(find, 30, f"{p.name}: a disk of {mib} MiB")


def cont(pid):
    try:
        os.kill(pid, signal.SIGCONT)
    except ProcessLookupError:
        pass


def qemu_holds_direct(pid, image):
    """Whether QEMU pid holds image open with O_DIRECT (fdinfo flags, octal)."""
    fd_dir = f"/proc/{pid}/fd"
    for fd in os.listdir(fd_dir):
        try:
            if os.path.realpath(os.path.join(fd_dir, fd)) != os.path.realpath(image):
                continue
            with open(f"/proc/{pid}/fdinfo/{fd}") as f:
                flags = next(int(x.split()[1], 8) for x in f if x.startswith("flags:"))
        except (OSError, StopIteration):
            continue
        if flags & os.O_DIRECT:
            return True
    return False


def test_direct_disk_bypasses_the_io_partition():
    w = workspace()
    for leaf, mib in (("fpa.img", DIRECT_MIB), ("fpv.img", VHU_MIB)):
        with open(os.path.join(w.dir, leaf), "wb") as f:
            f.truncate(mib << 20)
    with open(os.path.join(w.dir, "odd.img"), "wb") as f:
        f.write(b"x" * 1000)
    os.symlink("fpa.img", os.path.join(w.dir, "alias.img"))
    sysp = DefsSystem(w, None).start()
    harness.on_cleanup(lambda: kill_guests(w.dir))

    # Definition errors name the field, and the engine's grant cannot be named directly.
    for disks, devices, want in (
            ([{"image": "fpa.img", "direct": 1}], None, "disks[0].direct: expected true or false"),
            ([{"image": "odd.img", "direct": True}], None, "512-byte sectors"),
            (None, [{"kind": "direct-blk", "path": "fpa.img"}], "placement only")):
        kw = {"disks": disks} if disks else {"devices": devices}
        r = sysp.ultra("define", write_def(w, "fpbad", **kw), ok=False)
        check(r.returncode == 1 and want in r.stderr, f"define {kw}: {r.stderr}")

    sysp.ultra("define", write_def(w, "fpa", disks=[{"image": "fpa.img", "direct": True},
                                                   {"image": "fpv.img"}]))
    taken = sysp.ultra("define", write_def(w, "fpb", disks=[{"image": "fpa.img"}]), ok=False)
    check(taken.returncode == 1 and "is a disk of partition fpa" in taken.stderr,
          f"the same image twice: {taken.stderr}")
    sysp.ultra("define", write_def(w, "fpc", disks=[{"image": "alias.img", "direct": True}]))

    sysp.ultra("start", "fpa")
    direct = sysp.io_sock("fpa.disk0.direct")
    exports = {direct, sysp.io_sock("fpa.disk1.sock")}
    check(sysp.io_exports() == exports, f"ultra-io lists {sysp.io_exports()}")
    check(not os.path.exists(direct), "a direct disk has no socket")
    check(sysp.info("fpa")["devices"] == 2, f"fpa: {sysp.info('fpa')}")
    # The same image by another name: the I/O partition knows it is taken and says no.
    busy = sysp.ultra("start", "fpc", ok=False)
    check(busy.returncode == 1 and "busy" in busy.stderr, f"fpc started: {busy.stderr}")
    check(sysp.io_exports() == exports, f"fpc left {sysp.io_exports()}")

    a = harness.Partition(w.dir, w.definition("fpa")).wait_boot()
    with open(f"/proc/{a.qemu_pid()}/cmdline", "rb") as f:
        argv = f.read().decode().split("\0")
    blockdev = [x for x in argv if "filename=/dev/fdset/" in x]
    check(len(blockdev) == 1 and "cache.direct=on" in blockdev[0] and
          "aio=io_uring" in blockdev[0], f"QEMU's direct disk: {blockdev}")
    check(not any("fpa.img" in x for x in argv), "QEMU was given the image's path")
    check(qemu_holds_direct(a.qemu_pid(), os.path.join(w.dir, "fpa.img")),
          "QEMU does not hold the image with O_DIRECT")

    vd, vhu = disk_of(a, DIRECT_MIB), disk_of(a, VHU_MIB)
    want = ext4_pattern(a, vd, os.path.join(w.dir, "fpa.img"))

    # ultra-io stopped: the direct disk does not notice, the vhost-user disk waits for it.
    io = sysp.pid("io0")
    os.kill(io, signal.SIGSTOP)
    harness.on_cleanup(lambda: cont(io))
    try:
        a.out(f"(dd if={vhu} of=/dev/null bs=4096 count=1 skip=7 iflag=direct 2>/dev/null && "
              "echo done > /tmp/vhu) &")
        t0 = time.monotonic()
        a.out(f"mount -t ext4 {vd} /mnt/d && "
              "dd if=/dev/urandom of=/mnt/d/more bs=1M count=2 2>/dev/null && sync", timeout=60)
        got = a.out("md5sum /mnt/d/pattern", timeout=60).split()[0]
        check(got == want, f"with ultra-io stopped the file reads {got}, was written {want}")
        elapsed = time.monotonic() - t0
        time.sleep(2)  # ample for the vhost-user read, were anyone serving it
        stalled = a.out("cat /tmp/vhu 2>/dev/null; echo .").strip()
        check(stalled == ".", f"the vhost-user disk answered without ultra-io: {stalled!r}")
    finally:
        cont(io)
    wait_for(lambda: "done" in a.out("cat /tmp/vhu 2>/dev/null; echo ."), 60,
             "the vhost-user disk to answer again")
    print(f"direct disk worked for {elapsed:.1f} s with ultra-io stopped")
    a.out("umount /mnt/d")

    # kill -9 of ultra-io: the command partition records the direct disk there again.
    sysp.restart("io0")
    wait_for(lambda: sysp.io_exports() == exports, 30, "ultra-io's list to come back")
    a.console.close()
    a.console = None

    # Stop: the grant and the record go; the file system is whole.
    sysp.ultra("stop", "--timeout", "20", "fpa")
    wait_for(lambda: sysp.io_exports() == set() and sysp.info("fpa")["devices"] == 0, 15,
             "the direct disk to be taken back")
    fsck = subprocess.run(["e2fsck", "-fn", os.path.join(w.dir, "fpa.img")],
                          capture_output=True, text=True)
    check(fsck.returncode == 0, f"e2fsck on the image: {fsck.stdout}{fsck.stderr}")
    for name in ("fpa", "fpc"):
        sysp.ultra("undefine", name)
