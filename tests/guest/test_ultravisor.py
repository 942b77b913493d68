# SPDX-License-Identifier: MIT
"""A guest partition whose descriptor and memory come from the ultravisor's resource database
(claims 1-7, 10, 29-32): the monitor confines QEMU to the grant's memory object, reports state as
transactions, and neither the guest nor the monitor notices an ultravisor kill -9 and restart."""
import json
import os
import signal
import subprocess
import time

import harness
from harness import check, pid_alive, wait_for, workspace

UVD = os.path.join(harness.BUILD, "bin", "ultravisor")
UVCTL = os.path.join(harness.BUILD, "bin", "uvctl")


class Ultravisor:
    def __init__(self, w, *extra):
        self.w = w
        self.extra = list(extra)
        self.state = os.path.join(w.dir, "uv-state")
        self.run = w.dir
        self.sock = os.path.join(w.dir, "ultravisor.sock")
        self.log = os.path.join(w.dir, "ultravisor.log")
        self.proc = None
        harness.on_cleanup(self.kill)

    def start(self):
        if os.path.exists(self.sock):
            os.unlink(self.sock)  # left by a killed daemon: wait for the new one's
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen([UVD, "--state-dir", self.state, "--run-dir", self.run,
                                          "--pool-mib", "2048", *self.extra], stdout=log,
                                         stderr=log,
                                         start_new_session=True)
        wait_for(lambda: os.path.exists(self.sock) or self.proc.poll() is not None, 30,
                 "the ultravisor's socket")
        check(self.proc.poll() is None, "ultravisor exited: " + open(self.log).read())
        return self

    def ctl(self, *args, ok=True):
        r = subprocess.run([UVCTL, "-s", self.sock, *args], capture_output=True, text=True,
                           timeout=30)
        if ok:
            check(r.returncode == 0, f"uvctl {' '.join(args)}: {r.stderr}")
        return r

    def show(self, pid):
        return json.loads(self.ctl("show", str(pid)).stdout)

    def kill(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        if os.path.exists(self.sock):
            os.unlink(self.sock)


def test_partition_from_resource_database_survives_ultravisor_restart():
    w = workspace()
    uv = Ultravisor(w).start()
    uv.ctl("boot-command")
    p = w.partition("uvg", memory_mib=160)
    uv.ctl("create", "12", p.def_file())
    rec = uv.show(12)
    check(rec["granted_mib"] == 160 and rec["state"] == "defined", f"after create: {rec}")

    p.start_monitor("--ultravisor", uv.sock, "--partition", "12")
    p.wait_boot()
    qemu = p.qemu_pid()
    # Guest RAM is the ultravisor's memory object for the grant, nothing the monitor made.
    ram = os.readlink(f"/proc/{qemu}/fd/3")
    check(ram.startswith("/memfd:uv-mem-p12-"), f"QEMU's RAM is {ram}")
    top = int(p.out("for d in /sys/firmware/memmap/*; do [ \"$(cat $d/type)\" = 'System RAM' ] "
                    "&& cat $d/end; done | sort | tail -1").strip(), 16) + 1
    check(top == 160 << 20, f"guest RAM ends at {top:#x}")
    wait_for(lambda: uv.show(12)["state"] == "running", 10, "the monitor's running report")

    # The ultravisor dies and comes back: the guest never notices, the database is as committed.
    # Renamed into place: a reader never sees the file empty between truncation and write.
    p.out("(i=0; while true; do i=$((i+1)); echo $i > /tmp/count.n; mv /tmp/count.n /tmp/count; "
          "sleep 0.02; done) &")
    uv.proc.send_signal(signal.SIGKILL)
    uv.proc.wait()
    c1 = int(p.out("cat /tmp/count"))
    time.sleep(0.5)
    check(int(p.out("cat /tmp/count")) > c1, "the guest stopped while the ultravisor was dead")
    uv.start()
    rec = uv.show(12)
    check(rec["state"] == "running" and rec["granted_mib"] == 160, f"after restart: {rec}")
    check(pid_alive(qemu) and p.monitor.poll() is None, "guest or monitor died with the ultravisor")

    # Recovery made the grant's memory object afresh; the monitor sees its control socket hang
    # up (checked twice a second) and hands the live one back, with no state change needed, so
    # what the ultravisor gives out is the guest's real memory again.
    live = os.stat(f"/proc/{qemu}/fd/3").st_ino

    def objects():
        return [int(line.split()[0]) for line in uv.ctl("memory", "12").stdout.splitlines()]

    wait_for(lambda: objects() == [live], 10, "the monitor to hand the live memory object back")
    c = p.ctl()
    check("return" in c.call("pause") and "return" in c.call("resume"), "pause/resume refused")

    # State reports reach the restarted ultravisor.
    c = p.ctl()
    check("return" in c.call("stop", timeout=60), "stop refused")
    p.monitor.wait(60)
    wait_for(lambda: uv.show(12)["state"] == "stopped", 10, "the stopped state in the database")


def test_monitor_refuses_partition_not_in_database():
    w = workspace()
    uv = Ultravisor(w).start()
    p = w.partition("nope")
    p.start_monitor("--ultravisor", uv.sock, "--partition", "33")
    rc = p.monitor.wait(30)
    check(rc != 0, "a monitor started a partition the database does not have")
    check("not in the resource database" in p.monitor_output(), p.monitor_output())


def hugepages():
    with open("/proc/meminfo") as f:
        m = dict(l.split(":", 1) for l in f)
    return int(m["HugePages_Total"]), int(m["HugePages_Free"])


def set_hugepages(n):
    with open("/proc/sys/vm/nr_hugepages", "w") as f:
        f.write(str(n))


def test_hugetlb_grant_backs_guest_ram_or_is_refused():
    """--hugetlb: a grant is backed by 2 MiB pages taken when it commits; one the pool of huge
    pages cannot back is refused with NO_SPACE and leaves nothing behind."""
    w = workspace()
    old_total, _ = hugepages()
    harness.on_cleanup(lambda: set_hugepages(old_total))
    set_hugepages(old_total + 80)  # 160 MiB of huge pages
    total, free0 = hugepages()
    check(total >= old_total + 80, f"the host gave only {total} huge pages")
    uv = Ultravisor(w, "--hugetlb").start()
    uv.ctl("boot-command")
    big = w.partition("hbig", memory_mib=256)
    r = uv.ctl("create", "14", big.def_file(), ok=False)
    check(r.returncode != 0 and "NO_SPACE" in r.stderr, f"256 MiB grant: {r.stderr}")
    check(hugepages()[1] == free0, "a refused grant kept huge pages")
    p = w.partition("huge", memory_mib=128)
    uv.ctl("create", "15", p.def_file())
    check(free0 - hugepages()[1] == 64, f"huge pages taken: {free0 - hugepages()[1]}, want 64")
    p.start_monitor("--ultravisor", uv.sock, "--partition", "15")
    p.wait_boot()
    check(p.out("echo ok").strip() == "ok", "hugetlb guest does not answer")
    with open(f"/proc/{p.qemu_pid()}/smaps") as f:
        smaps = f.read()
    check("KernelPageSize:     2048 kB" in smaps, "QEMU maps no 2 MiB pages")
    p.kill_all()
    uv.kill()


def test_cpu_share_transaction_takes_effect_in_the_running_guest():
    """SET_CPU_SHARE is a transaction like any other; the partition's monitor reads it from the
    database and puts it in force with the scheduler's bandwidth control (claims 26-28)."""
    from test_cpu_share import forget_groups, quota_share
    w = workspace()
    uv = Ultravisor(w).start()
    uv.ctl("boot-command")
    p = w.partition("uvcpu", memory_mib=128, cpu_share=0.5)
    forget_groups("uvcpu")
    uv.ctl("create", "16", p.def_file())
    p.start_monitor("--ultravisor", uv.sock, "--partition", "16")
    p.wait_boot()
    qemu = p.qemu_pid()
    check(abs(quota_share(qemu) - 0.5) < 1e-6, f"quota {quota_share(qemu)} for a 0.5 share")
    uv.ctl("cpu", "16", "250")
    check(uv.show(16)["cpu_share_milli"] == 250, "the database does not hold the new share")
    wait_for(lambda: abs(quota_share(qemu) - 0.25) < 1e-6, 10, "the new quota in force")

    # A restarted ultravisor has a database of its own: the monitor must follow that one, not
    # the dead instance's frozen copy.
    uv.proc.kill()
    uv.proc.wait()
    uv.start()
    uv.ctl("cpu", "16", "750")
    wait_for(lambda: abs(quota_share(qemu) - 0.75) < 1e-6, 10,
             "a share set after an ultravisor restart in force")
    wait_for(lambda: p.state().get("cpu_share") == 0.75, 5, "state.json to show the new share")
