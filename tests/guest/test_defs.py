# SPDX-License-Identifier: MIT
"""Definitions with disks, NICs and channels, wired end to end (issue 6 item 1; claims 15-19,
53-56): under ultra-boot with the command and I/O partitions, `ultra define` a guest with a disk
image and a NIC and a second guest with a NIC and a channel to the first; `ultra start` both.
The command partition places the disk and NICs on ultra-io through its control socket and
grants the vhost-user devices, and grants the channel. The first guest makes a file system on
its disk and writes and reads it, the two ping each other and exchange messages over the
channel. kill -9 of ultra-io: its exports come back and the disk still works; kill -9 of the
command partition changes nothing. `ultra stop` removes the exports, grants and channel."""
import json
import os
import re
import signal
import socket
import struct
import subprocess

import harness
from harness import check, pid_alive, wait_for, workspace
from test_io_blk import find_disk, image_md5, guest_md5
from test_io_net import bring_up, ping
from test_recovery import System

BIN = os.path.join(harness.BUILD, "bin")
DISK_MIB = 64
N_MSG = 300


class DefsSystem(System):
    """The ultravisor, ultra-command and an ultra-io with no exports of its own, under ultra-boot."""

    def io_serves(self):
        self.io_ctl = os.path.join(self.run, "io", "control.sock")
        return f"--control {self.io_ctl}", self.io_ctl

    def io_exports(self):
        """The socket paths of ultra-io's exports, from its control socket (io_ctl.h LIST);
        None while it does not answer."""
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET) as s:
                s.settimeout(5)
                s.connect(self.io_ctl)
                # io control version 4, a 224-byte export (include/ultra/io_ctl.h)
                s.send(struct.pack("<IHHIiII", 0x4c544349, 4, 24, 1, 0, 0, 0))
                reply = s.recv(65536)
        except OSError:
            return None
        magic, _, _, op, status, count, _ = struct.unpack_from("<IHHIiII", reply)
        check(magic == 0x4c544349 and op == 1 and status == 0 and len(reply) == 24 + 224 * count,
              f"a bad LIST reply from ultra-io: {reply[:24]!r}")
        return {reply[24 + 224 * i + 64:24 + 224 * i + 176].rstrip(b"\0").decode()
                for i in range(count)}

    def io_sock(self, leaf):
        return os.path.join(self.run, "io", leaf)

    def info(self, name):
        return json.loads(self.ultra("--json", "info", name).stdout)

    def restart(self, victim):
        old = self.pid(victim)
        check(old and pid_alive(old), f"{victim} is not running: {self.status()}")
        os.kill(old, signal.SIGKILL)
        wait_for(lambda: self.pid(victim) not in (0, old) and pid_alive(self.pid(victim)), 30,
                 f"{victim} to be restarted")


def write_def(w, name, **kw):
    path = os.path.join(w.dir, f"{name}.json")
    with open(path, "w") as f:
        json.dump(w.definition(name, **kw), f)
    return path


def ext4_pattern(p, vd, image):
    """Debian's mke2fs on p's disk vd, a random 4 MiB file /mnt/d/pattern, sync, unmounted;
    checks the image holds what the guest wrote and returns the file's md5."""
    p.out(f"/usr/sbin/mke2fs -q -F -t ext4 {vd} && mkdir -p /mnt/d && mount -t ext4 {vd} /mnt/d",
          timeout=120)
    p.out("dd if=/dev/urandom of=/mnt/d/pattern bs=1M count=4 2>/dev/null && sync", timeout=120)
    want = p.out("md5sum /mnt/d/pattern").split()[0]
    p.out("umount /mnt/d && echo 3 > /proc/sys/vm/drop_caches")
    check(image_md5(image, 8) == guest_md5(p, vd, 8), "the image does not hold what the guest wrote")
    return want


def kill_guests(run_dir):
    from test_command import kill_monitors
    kill_monitors(run_dir)


def test_disks_nics_and_channels_from_definitions():
    w = workspace()
    with open(os.path.join(w.dir, "dfa.img"), "wb") as f:
        f.truncate(DISK_MIB << 20)
    sysp = DefsSystem(w, None).start()
    harness.on_cleanup(lambda: kill_guests(w.dir))

    # Errors name the field; nothing is recorded.
    bad = sysp.ultra("define", write_def(w, "dfbad", disks=[{"image": "dfa.img", "size": 1}]),
                     ok=False)
    check(bad.returncode == 1 and "disks[0].size: unknown key" in bad.stderr,
          f"a bad disk entry: {bad.returncode} {bad.stderr}")
    sysp.ultra("define", write_def(w, "dfa", memory_mib=256, disks=[{"image": "dfa.img"}],
                                   nics=[{"switch": "default"}]))
    sysp.ultra("define", write_def(w, "dfb", memory_mib=160, nics=[{}],
                                   channels=[{"peer": "dfa", "size_kib": 64}]))
    # An image is one partition's disk.
    taken = sysp.ultra("define", write_def(w, "dfc", disks=[{"image": "dfa.img"}]), ok=False)
    check(taken.returncode == 1 and "disks[0].image" in taken.stderr and
          "is a disk of partition dfa" in taken.stderr, f"a shared image: {taken.stderr}")
    check(not os.path.exists(sysp.io_sock("dfa.disk0.sock")), "exported before start")

    sysp.ultra("start", "dfa")
    sysp.ultra("start", "dfb")
    for leaf in ("dfa.disk0.sock", "dfa.nic0.sock", "dfb.nic0.sock"):
        check(os.path.exists(sysp.io_sock(leaf)), f"no export {leaf}")
    ia, ib = sysp.info("dfa"), sysp.info("dfb")
    check(ia["devices"] == 2 and ia["disks"] == 1 and ia["nics"] == 1 and ia["channels"] == 1,
          f"dfa: {ia}")
    check(ib["devices"] == 1 and ib["channels"] == 1, f"dfb: {ib}")
    a = harness.Partition(w.dir, w.definition("dfa")).wait_boot()
    b = harness.Partition(w.dir, w.definition("dfb")).wait_boot()

    # The disk: Debian's mke2fs, a random file, sync; the image holds what the guest wrote.
    vd = find_disk(a)
    size = int(a.out(f"cat /sys/block/{vd[5:]}/size").strip())
    check(size == (DISK_MIB << 20) // 512, f"dfa sees {size} sectors")
    want = ext4_pattern(a, vd, os.path.join(w.dir, "dfa.img"))

    # The NICs: one switch, the two guests ping each other.
    check(bring_up(a, "10.99.1.1") != bring_up(b, "10.99.1.2"), "the two NICs share a MAC")
    ping(a, "10.99.1.2")
    ping(b, "10.99.1.1")

    # The channel: side A is the lower partition number. Both directions at once.
    lo, hi = sorted([(ia["id"], a), (ib["id"], b)], key=lambda x: x[0])
    lo[1].out(f"(chanmsg a {lo[0]} {hi[0]} xchg {N_MSG} 150 > /tmp/ch.log 2>&1 &)")
    out = hi[1].out(f"chanmsg b {hi[0]} {lo[0]} xchg {N_MSG} 150", timeout=180)
    ok = re.compile(r"CHANMSG OK sent=(\d+) received=(\d+)")
    m = ok.search(out)
    check(m and int(m.group(1)) == N_MSG == int(m.group(2)), f"{hi[1].name}: {out!r}")
    wait_for(lambda: "CHANMSG " in lo[1].out("cat /tmp/ch.log"), 60, "the other side to end")
    m = ok.search(lo[1].out("cat /tmp/ch.log"))
    check(m and int(m.group(1)) == N_MSG == int(m.group(2)), f"{lo[1].name}: no exchange")

    # kill -9 of the I/O partition while the disk is idle: the boot partition restarts it, the
    # command partition sends it the exports again, QEMU reconnects and the disk still works.
    socks = {sysp.io_sock(x) for x in ("dfa.disk0.sock", "dfa.nic0.sock", "dfb.nic0.sock")}
    check(sysp.io_exports() == socks, f"ultra-io exports {sysp.io_exports()}")
    sysp.restart("io0")
    wait_for(lambda: sysp.io_exports() == socks, 30, "the exports to come back")
    a.out(f"mount -t ext4 {vd} /mnt/d", timeout=120)
    got = a.out("md5sum /mnt/d/pattern", timeout=120).split()[0]
    check(got == want, f"after ultra-io's restart the file reads {got}, was written {want}")
    a.out("echo after-restart > /mnt/d/note && sync && cat /mnt/d/note", timeout=120)
    a.out("umount /mnt/d")
    ping(b, "10.99.1.1")

    # kill -9 of the command partition: the new one rebuilds its view and changes nothing.
    sysp.restart("command")
    wait_for(lambda: sysp.ultra("list", ok=False).returncode == 0, 30, "ultra-command back")
    check(sysp.info("dfa")["devices"] == 2, "the grants changed after ultra-command restarted")
    for p in (a, b):
        p.console.close()
        p.console = None

    # Stop: exports, grants and the channel are taken back.
    sysp.ultra("stop", "--timeout", "20", "dfa")
    sysp.ultra("stop", "--timeout", "20", "dfb")
    wait_for(lambda: sysp.io_exports() == set() and
             not any(os.path.exists(s) for s in socks), 15, "the exports to be removed")
    wait_for(lambda: sysp.info("dfa")["devices"] == 0 and sysp.info("dfb")["devices"] == 0 and
             sysp.info("dfa")["channels"] == 0, 15, "the grants and channel to be taken back")
    fsck = subprocess.run(["e2fsck", "-fn", os.path.join(w.dir, "dfa.img")], capture_output=True,
                          text=True)
    check(fsck.returncode == 0, f"e2fsck on the image: {fsck.stdout}{fsck.stderr}")
    # Started again, the same disk comes back; then both go for good.
    sysp.ultra("start", "dfa")
    check(os.path.exists(sysp.io_sock("dfa.disk0.sock")), "not exported at the second start")
    sysp.ultra("destroy", "dfa")
    wait_for(lambda: sysp.info("dfa")["state"] in ("stopped", "crashed") and
             not os.path.exists(sysp.io_sock("dfa.disk0.sock")), 30, "dfa to end")
    for name in ("dfa", "dfb"):
        sysp.ultra("undefine", name)
    check(sysp.io_exports() == set(), f"exports left behind: {sysp.io_exports()}")
