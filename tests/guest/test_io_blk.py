# SPDX-License-Identifier: MIT
"""A Debian guest's disk served by ultra-io over vhost-user-blk: mkfs.ext4, write, sync, destroy
the partition, boot a new one, read back (claims 17-21, 63-67)."""
import hashlib
import os
import signal
import subprocess

from harness import BUILD, check, wait_for, workspace, TestFailure

ULTRA_IO = os.path.join(BUILD, "bin", "ultra-io")
DISK_MIB = 64
PATTERN_MIB = 4


class IoPartition:
    """An ultra-io process for one test; stop() always runs (try/finally in the test)."""

    def __init__(self, w, *exports, net=(), tap=(), prefix=(), extra=()):
        self.log = os.path.join(w.dir, "ultra-io.log")
        args = [*prefix, ULTRA_IO]
        for sock, image, *part in exports:  # (socket, image[, the partition it is for])
            args += ["--blk", f"{sock}={image}" + (f",for={part[0]}" if part else "")]
        for spec in net:
            args += ["--net", spec]
        for spec in tap:
            args += ["--tap", spec]
        args += list(extra)
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(args, stdout=log, stderr=log, start_new_session=True)
        wait_for(lambda: b"ready" in self.output().encode() or self.proc.poll() is not None,
                 30, "ultra-io to listen")
        check(self.proc.poll() is None, f"ultra-io exited: {self.output()}")

    def output(self):
        with open(self.log, "rb") as f:
            return f.read().decode(errors="replace")

    def alive(self):
        return self.proc.poll() is None

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def image_md5(path, mib):
    with open(path, "rb") as f:
        return hashlib.md5(f.read(mib << 20)).hexdigest()


def guest_md5(p, dev, mib):
    out = p.out(f"dd if={dev} bs=1M count={mib} 2>/dev/null | md5sum", timeout=120)
    return out.split()[0]


def find_disk(p):
    def disk():
        text, _ = p.sh("ls /sys/block")
        vds = [b for b in text.split() if b.startswith("vd")]
        return vds[0] if vds else None
    return "/dev/" + wait_for(disk, 30, f"{p.name}: a virtio disk")


def test_ext4_written_by_guest_survives_restart():
    w = workspace()
    image = os.path.join(w.dir, "disk.img")
    with open(image, "wb") as f:
        f.truncate(DISK_MIB << 20)
    sock = os.path.join(w.dir, "blk.sock")
    io = IoPartition(w, (sock, image))
    try:
        dev = [{"kind": "vhost-user-blk", "path": sock}]
        p = w.partition("blk1", memory_mib=256, devices=dev).start().wait_boot()
        vd = find_disk(p)
        size = int(p.out(f"cat /sys/block/{vd[5:]}/size").strip())
        check(size == (DISK_MIB << 20) // 512, f"guest sees {size} sectors, image has "
              f"{(DISK_MIB << 20) // 512}")
        # Debian's mke2fs in the guest (not busybox's), a file of random bytes the host did not choose, sync
        # (FLUSH requests: fdatasync on the image), unmount.
        p.out(f"/usr/sbin/mke2fs -q -F -t ext4 {vd} && mkdir -p /mnt/d && mount -t ext4 {vd} /mnt/d",
              timeout=120)
        p.out(f"dd if=/dev/urandom of=/mnt/d/pattern bs=1M count={PATTERN_MIB} 2>/dev/null "
              "&& sync", timeout=120)
        want = p.out("md5sum /mnt/d/pattern").split()[0]
        p.out("umount /mnt/d")
        # What the guest sees on its disk is byte for byte what is in the image file.
        check(image_md5(image, 8) == guest_md5(p, vd, 8),
              "the image file does not hold what the guest wrote and synced")
        # Out of range: the guest's block layer stops it, and our range check backs that up.
        text, rc = p.sh(f"dd if=/dev/zero of={vd} bs=512 seek={(DISK_MIB << 20) // 512} "
                        "count=1 2>&1")
        check(rc != 0, f"a write past the end succeeded: {text}")
        check("return" in p.ctl().call("destroy"), "destroy refused")
        wait_for(lambda: p.monitor.poll() is not None, 30, "the first partition to end")
        check(io.alive(), "ultra-io died with its client: " + io.output())
        # The host's e2fsck finds a clean file system in the image.
        fsck = subprocess.run(["e2fsck", "-fn", image], capture_output=True, text=True)
        check(fsck.returncode == 0, f"e2fsck on the image: {fsck.stdout}{fsck.stderr}")

        q = w.partition("blk2", memory_mib=256, devices=dev).start().wait_boot()
        vd = find_disk(q)
        q.out(f"mkdir -p /mnt/d && mount -t ext4 {vd} /mnt/d")
        got = q.out("md5sum /mnt/d/pattern").split()[0]
        check(got == want, f"after the restart the file reads {got}, was written {want}")
        q.out("umount /mnt/d")
        check(io.alive(), "ultra-io died: " + io.output())
    finally:
        io.stop()
    check(not os.path.exists(sock), "ultra-io left its socket behind")
    if "refused (" in io.output():  # the per-refusal log lines, not the closing tally
        raise TestFailure("a well-behaved guest had requests refused: " + io.output())
