# SPDX-License-Identifier: MIT
"""A redundant pair of I/O partitions (claim 24; issue 5 item 6): ultra-boot runs io0 and io1
with the same exports (--io-pair). A Debian guest writes numbered 4 KiB blocks to its
vhost-user-blk disk, each with fsync, printing each block's number once it is acknowledged;
the serving I/O partition is killed with SIGKILL mid-stream, several times. Each time the
standby takes over (QEMU reconnects to it and hands it the inflight region), ultra-boot starts
a new standby, and the guest goes on writing without rebooting. At the end every acknowledged
block reads back intact from the image file and from inside the guest."""
import hashlib
import os
import re
import signal
import time

from harness import check, pid_alive, wait_for
from test_recovery import BIN, System

KILLS = int(os.environ.get("ULTRA_FAILOVER_KILLS", "4"))
BLOCK = 4096
FILL = 4096 - 22  # "BLK%08d" + fill + "END%08d"
WRITER = ("head -c %d /dev/zero | tr '\\0' x > /tmp/fill; rm -f /tmp/stop; "
          "(i=0; while [ ! -e /tmp/stop ]; do "
          "{ printf 'BLK%%08d' $i; cat /tmp/fill; printf 'END%%08d' $i; } > /tmp/b; "
          "if dd if=/tmp/b of=/dev/vda bs=4096 seek=$i count=1 conv=fsync,notrunc 2>/dev/null; "
          "then echo \"ACK $i\"; else echo \"ERR $i\"; fi; i=$((i+1)); done; "
          "echo WRITER-STOPPED) &") % FILL


class PairSystem(System):
    """test_recovery's system, with the I/O partition as a redundant pair."""

    def io_args(self, exports):
        # Each member checks memory tables against the database as its own partition.
        return ["--io-pair", f"4:io0:5:io1={BIN}/ultra-io {exports} "
                "--ultravisor \"$ULTRA_UV_SOCK\" --partition \"$ULTRA_PARTITION\""]

    def active(self):
        """The pid of the I/O partition that serves (the one inside its seccomp filter; the
        standby waits for the pair lock before binding and entering it), or 0."""
        if not (os.path.exists(os.path.join(self.run, "command.sock")) and
                os.path.exists(self.blk)):
            return 0
        for name in ("io0", "io1"):
            pid = self.pid(name)
            if pid and seccomp_mode(pid) == 2:
                return pid
        return 0

    def standby(self):
        """The pid of the member blocked on the pair lock (flock, x86-64 number 73), or 0."""
        pids = [self.pid(n) for n in ("io0", "io1")]
        return next((p for p in pids if p and pid_alive(p) and seccomp_mode(p) == 0 and
                     current_syscall(p) == "73"), 0)


def seccomp_mode(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("Seccomp:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return -1


# x86-64 system calls that move a request's data or flush it: while ultra-io is in one, the
# request it serves has been taken from the ring and is not yet returned (in flight).
DISK_CALLS = {"75", "285", "295", "296", "426"}  # fdatasync fallocate preadv pwritev io_uring_enter


def current_syscall(pid):
    """The number of the system call pid is in ("running" if none), or None if it is gone."""
    try:
        with open(f"/proc/{pid}/syscall") as f:
            return f.read().split(" ", 1)[0]
    except OSError:
        return None


def wait_in_disk_call(pid, timeout=10):
    """Polls /proc/PID/syscall until the process is inside a disk system call."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        nr = current_syscall(pid)
        if nr is None:
            return False
        if nr in DISK_CALLS:
            return True
    return False


def acks(p):
    text = p.console_log().decode(errors="replace")
    errs = re.findall(r"ERR (\d+)\r?\n", text)
    check(not errs, f"writes failed in the guest: blocks {errs[:10]}")
    return [int(n) for n in re.findall(r"ACK (\d+)\r?\n", text)]


def read_boot_id(p):
    """The guest kernel's boot id; the console may carry other lines (the shell's job notices)
    around it, so it is picked out by its form."""
    out = p.out("cat /proc/sys/kernel/random/boot_id")
    ids = re.findall(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", out)
    check(len(ids) == 1, f"no boot id in {out!r}")
    return ids[0]


def block_ok(data, n):
    return (data[:11] == b"BLK%08d" % n and data[-11:] == b"END%08d" % n and
            data[11:-11] == b"x" * FILL)


def test_standby_takes_over_every_client_when_the_active_is_killed():
    w, sysp = PairSystem.with_disk()
    sysp.start()
    image = sysp.image
    wait_for(sysp.active, 30, "the active I/O partition")
    wait_for(sysp.standby, 30, "the standby I/O partition")
    p = w.partition("fo1", memory_mib=160, devices=[{"kind": "vhost-user-blk", "path": sysp.blk}])
    sysp.ultra("define", p.def_file())
    sysp.ultra("start", p.name)
    p.wait_boot()
    boot_id = read_boot_id(p)
    up0 = float(p.out("cut -d' ' -f1 /proc/uptime").split()[-1])
    t0 = time.monotonic()
    p.out(WRITER)
    p.console.close()  # detached, so the guest's console never waits for us (see test_recovery)
    p.console = None

    def progressed(since, k=15):
        wait_for(lambda: len(acks(p)) >= since + k, 90,
                 f"{k} more acknowledged blocks after {since}")

    progressed(0)
    caught = 0
    for k in range(KILLS):
        active, standby = sysp.active(), sysp.standby()
        check(active and standby, f"no active/standby pair before kill {k + 1}: {sysp.status()}")
        # Every other kill lands while a request is in flight (inside fdatasync, pwritev, ...),
        # the others at a different point of the stream each time.
        if k % 2:
            caught += wait_in_disk_call(active)
        else:
            time.sleep(0.05 * k)
        at = len(acks(p))
        os.kill(active, signal.SIGKILL)
        sysp.seen.add(active)
        t_kill = time.monotonic()
        wait_for(lambda: sysp.active() == standby, 30, "the standby to take over")
        wait_for(lambda: sysp.standby() not in (0, active), 30, "ultra-boot to start a new standby")
        progressed(at)
        print(f"  kill {k + 1}: pid {active} at block {at}; writes resumed "
              f"{time.monotonic() - t_kill:.1f} s after the kill")
    progressed(len(acks(p)), 5)  # still writing after the last failover

    # Stop the writer, then compare: the guest did not reboot, its clock kept running.
    p.attach_console()
    p.out("touch /tmp/stop")
    wait_for(lambda: b"WRITER-STOPPED" in p.console_log(), 60, "the writer to stop")
    again = read_boot_id(p)
    check(again == boot_id, f"the guest rebooted: boot id {boot_id} -> {again}")
    up1 = float(p.out("cut -d' ' -f1 /proc/uptime").split()[-1])
    check(up1 - up0 >= 0.5 * (time.monotonic() - t0), f"guest uptime {up0} -> {up1}")

    got = acks(p)
    check(got == list(range(len(got))), "acknowledged block numbers not 0, 1, 2, ...")
    with open(image, "rb") as f:
        disk = f.read(len(got) * BLOCK)
    bad = [n for n in got if not block_ok(disk[n * BLOCK:(n + 1) * BLOCK], n)]
    check(not bad, f"acknowledged blocks not intact in the image: {bad[:20]}")
    # The guest reads the same bytes through the I/O partition now serving (not its cache).
    want = hashlib.md5(disk).hexdigest()
    p.out("sync; echo 3 > /proc/sys/vm/drop_caches")
    have = p.out(f"dd if=/dev/vda bs=4096 count={len(got)} 2>/dev/null | md5sum",
                 timeout=120).split()[0]
    check(have == want, "the guest reads back other bytes than the image holds")
    p.console.close()
    p.console = None

    log = open(sysp.log, errors="replace").read()
    check(log.count("taking over from the active") >= KILLS, "standby take-overs not logged")
    check(log.count("inflight region handed over") >= KILLS + 1,
          "QEMU did not hand the inflight region to every new I/O partition")
    redone = re.findall(r"(\d+) requests left in flight", log)
    print(f"  {len(got)} blocks acknowledged and intact; {caught} kills inside a disk call; "
          f"{len(redone)} take-overs found requests in flight ({sum(map(int, redone))} redone)")
    check(not caught or redone, "killed inside a disk call, yet no request was left in flight")
    check("AddressSanitizer" not in log and "runtime error" not in log, log[-3000:])
