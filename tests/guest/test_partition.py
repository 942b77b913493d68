# SPDX-License-Identifier: MIT
"""Guest partitions boot Debian's unmodified kernel and see exactly what their descriptor grants."""
import os
import re
import secrets
import signal
import time

from harness import check, pid_alive, wait_for, workspace, TestFailure


def guest_ram(p):
    """(highest RAM address + 1, total System RAM bytes) from the guest's firmware memory map."""
    out = p.out("for d in /sys/firmware/memmap/*; do echo $(cat $d/start) $(cat $d/end) "
                "$(cat $d/type); done")
    top = total = 0
    for line in out.splitlines():
        f = line.split(None, 2)
        if len(f) == 3 and f[2].strip() == "System RAM":
            s, e = int(f[0], 16), int(f[1], 16)
            total += e - s + 1
            top = max(top, e + 1)
    return top, total


def virtio_devices(p):
    text, rc = p.sh("cat /sys/bus/virtio/devices/*/device 2>/dev/null")
    return sorted(int(x, 16) for x in text.split())


def assert_sees_exactly(p, mib, vcpus, virtio_ids):
    ncpu = int(p.out("grep -c ^processor /proc/cpuinfo").strip())
    check(ncpu == vcpus, f"{p.name}: guest sees {ncpu} CPUs, descriptor grants {vcpus}")
    online = p.out("cat /sys/devices/system/cpu/online").strip()
    want_online = "0" if vcpus == 1 else f"0-{vcpus - 1}"
    check(online == want_online, f"{p.name}: cpus online {online}, want {want_online}")
    top, total = guest_ram(p)
    check(top == mib << 20, f"{p.name}: guest RAM ends at {top:#x}, descriptor grants {mib} MiB")
    # Only the legacy BIOS hole below 1 MiB is carved out of the grant.
    check((mib << 20) - (1 << 20) <= total <= mib << 20,
          f"{p.name}: guest has {total} bytes of RAM for a {mib} MiB grant")
    ids = virtio_devices(p)
    check(ids == sorted(virtio_ids), f"{p.name}: virtio devices {ids}, granted {virtio_ids}")
    # No disks, NICs or PCI devices were granted.
    blk = p.out("ls /sys/block").split()
    check(not [b for b in blk if not b.startswith(("loop", "ram"))],
          f"{p.name}: unexpected block devices {blk}")
    nics = p.out("ls /sys/class/net").split()
    check(nics == ["lo"], f"{p.name}: unexpected network interfaces {nics}")
    pci, _ = p.sh("ls /sys/bus/pci/devices 2>/dev/null")
    check(pci.split() == [], f"{p.name}: unexpected PCI devices {pci}")


def test_boot_one_vcpu_sees_exactly_its_grant():
    w = workspace()
    p = w.partition("one", memory_mib=192, vcpus=1).start().wait_boot()
    check(p.state()["state"] == "running", f"state {p.state()}")
    check(p.state()["accel"] == "tcg", "TCG was forced by the definition")
    assert_sees_exactly(p, 192, 1, [])


def test_boot_two_vcpus_with_rng_sees_exactly_its_grant():
    w = workspace()
    p = w.partition("two", memory_mib=256, vcpus=2, devices=[{"kind": "rng"}]).start().wait_boot()
    assert_sees_exactly(p, 256, 2, [4])  # 4 = virtio entropy
    # The granted device works.
    n = p.out("head -c 64 /dev/hwrng | wc -c").strip()
    check(n == "64", f"reading the granted virtio-rng gave {n} bytes")


def test_engine_is_confined():
    w = workspace()
    p = w.partition("conf", memory_mib=128).start().wait_boot()
    pid = p.qemu_pid()
    with open(f"/proc/{pid}/cmdline", "rb") as f:
        argv = f.read().split(b"\0")
    args = b" ".join(argv).decode()
    for must in ("-nodefaults", "-no-user-config", "-sandbox on,obsolete=deny,"
                 "elevateprivileges=deny,spawn=deny,resourcecontrol=deny", "mem-path=/proc/self/fd/3"):
        check(must in args, f"QEMU command line lacks {must!r}: {args}")
    for never in ("-netdev user", "-nic", "hostfwd", "-usb"):
        check(never not in args, f"QEMU command line has {never!r}")
    with open(f"/proc/{pid}/status") as f:
        status = f.read()
    check(re.search(r"^Seccomp:\s+2", status, re.M), "QEMU is not under a seccomp filter")
    # Its guest RAM is the sealed memory object, sized exactly to the grant.
    ram = os.readlink(f"/proc/{pid}/fd/3")
    check(ram.startswith("/memfd:uv-ram-conf"), f"fd 3 is {ram}, not the partition's memfd")
    check(os.stat(f"/proc/{pid}/fd/3").st_size == 128 << 20, "memfd size differs from the grant")
    # QEMU's open files: only its RAM, its logs, sockets and anonymous kernel objects.
    for fd in os.listdir(f"/proc/{pid}/fd"):
        t = os.readlink(f"/proc/{pid}/fd/{fd}")
        ok = (t.startswith(("socket:", "anon_inode:", "pipe:", "/memfd:uv-ram-conf", "/dev/null",
                            "/dev/urandom", "/dev/net/tun"))
              or t.startswith(p.dir) or t in (p.definition["kernel"], p.definition["initrd"]))
        check(ok and not t.startswith("/dev/net"), f"QEMU holds unexpected file {t}")


def test_two_partitions_cannot_see_each_others_memory():
    w = workspace()
    a = w.partition("iso-a", memory_mib=160).start()
    b = w.partition("iso-b", memory_mib=160).start()
    a.wait_boot()
    b.wait_boot()
    secret_a = "UVSECRET" + secrets.token_hex(12)
    secret_b = "UVSECRET" + secrets.token_hex(12)
    # Needles travel hex-encoded, so the plain secret exists only where memscan plants it and
    # never in a command line, tty buffer or the scanner's own argv.
    hexa = lambda s: "hex:" + s.encode().hex()
    for p, s in ((a, secret_a), (b, secret_b)):
        p.out(f"(memscan plant {hexa(s)} > /tmp/plant.log 2>&1 &)")
        wait_for(lambda p=p: "PLANTED" in p.out("cat /tmp/plant.log"), 30, f"{p.name} to plant")

    def scan(p, s):
        out = p.out(f"memscan find {hexa(s)}", timeout=180)
        m = re.search(r"scanned (\d+)", out)
        check(m and int(m.group(1)) >= (150 << 20),
              f"{p.name}: memscan did not cover its RAM: {out!r}")
        return "FOUND" in out.replace("NOTFOUND", "")

    # From each QEMU's view of guest physical memory. This comes first: an in-guest scan puts
    # the other secret (decoded from hex) into the scanner's own page.
    for p, own, other in ((a, secret_a, secret_b), (b, secret_b, secret_a)):
        dump = os.path.join(w.dir, f"{p.name}.ram")
        r = p.ctl().call("dump-memory", path=dump)
        check("return" in r, f"dump-memory: {r}")
        with open(dump, "rb") as f:
            ram = f.read()
        os.unlink(dump)
        check(len(ram) == 160 << 20, f"dump of {p.name} is {len(ram)} bytes")
        check(own.encode() in ram, f"{p.name}'s own secret missing from its QEMU's view")
        check(other.encode() not in ram, f"{p.name}'s QEMU can see the other partition's secret")
    # Positive control: each finds its own secret, so a "not found" below means something.
    check(scan(a, secret_a), "A cannot find its own secret: the scan is blind")
    check(not scan(b, secret_a), "B found A's secret in its memory")
    check(scan(b, secret_b), "B cannot find its own secret")
    check(not scan(a, secret_b), "A found B's secret in its memory")


def test_monitor_kill9_leaves_guest_running_and_reattaches():
    w = workspace()
    p = w.partition("survivor", memory_mib=128).start().wait_boot()
    qemu = p.qemu_pid()
    p.out("(i=0; while true; do i=$((i+1)); echo $i > /tmp/count.n; mv /tmp/count.n /tmp/count; "
          "sleep 0.05; done) &")
    p.monitor.send_signal(signal.SIGKILL)
    p.monitor.wait()
    check(pid_alive(qemu), "QEMU died with its monitor")
    c1 = int(p.out("cat /tmp/count"))
    time.sleep(1)
    c2 = int(p.out("cat /tmp/count"))
    check(c2 > c1, f"guest stopped counting without its monitor ({c1} -> {c2})")
    # A new monitor finds the running engine and takes over.
    p.start_monitor("--attach", "survivor")
    wait_for(lambda: p.state().get("reason") == "re-attached", 30, "the re-attach")
    st = p.ctl().call("status")["return"]
    check(st["state"] == "running" and st["qemu_pid"] == qemu, f"after re-attach: {st}")
    check(p.out("echo alive").strip() == "alive", "guest console dead after re-attach")
    # And it still controls the engine.
    c = p.ctl()
    c.call("watch")
    check("return" in c.call("destroy"), "destroy after re-attach refused")
    wait_for(lambda: not pid_alive(qemu), 30, "QEMU to be destroyed")
    p.monitor.wait(30)
    check(p.state()["state"] == "stopped", f"final state {p.state()}")


def test_attach_refuses_when_nothing_runs():
    w = workspace()
    p = w.partition("ghost")
    p.start_monitor("--attach", "ghost")
    rc = p.monitor.wait(30)
    check(rc != 0, "attach to a partition that never ran succeeded")


def test_engine_crash_is_reported_with_reason():
    w = workspace()
    p = w.partition("crashy", memory_mib=128).start().wait_boot()
    c = p.ctl()
    c.call("watch")
    os.kill(p.qemu_pid(), signal.SIGKILL)
    ev = c.next_event()
    check(ev["data"]["state"] == "crashed", f"event after QEMU was killed: {ev}")
    check("signal 9" in ev["data"]["reason"], f"crash reason: {ev['data']['reason']}")
    rc = p.monitor.wait(30)
    check(rc == 1, f"monitor exit status {rc} after a crash")
    check(p.state()["state"] == "crashed", "state file does not say crashed")


def test_pause_resume_and_graceful_stop():
    w = workspace()
    p = w.partition("pr", memory_mib=128).start().wait_boot()
    c = p.ctl()
    c.call("watch")
    p.out("(i=0; while true; do i=$((i+1)); echo $i > /tmp/count.n; mv /tmp/count.n /tmp/count; "
          "sleep 0.05; done) &")
    check("return" in c.call("pause"), "pause refused")
    check(c.next_event()["data"]["state"] == "paused", "no paused event")
    before = open(p.path("console.log"), "rb").read()
    p.console.sendall(b"cat /tmp/count\n")
    time.sleep(1.0)
    check(open(p.path("console.log"), "rb").read() == before, "a paused guest produced output")
    check("return" in c.call("resume"), "resume refused")
    check(c.next_event()["data"]["state"] == "running", "no running event")
    check(p.out("echo back").strip() == "back", "guest console dead after resume")
    # Graceful: the guest sees the ACPI power button and powers off by itself.
    check("return" in c.call("stop", timeout=60), "stop refused")
    states = []
    while not states or states[-1]["state"] not in ("stopped", "crashed"):
        states.append(c.next_event()["data"])
    check(states[-1]["state"] == "stopped" and states[-1]["reason"] == "guest-shutdown",
          f"graceful stop ended as {states[-1]}")
    check(p.monitor.wait(30) == 0, "monitor exit status after a clean stop")


def test_bad_descriptor_is_refused_with_clear_message():
    w = workspace()
    cases = [
        (dict(kernel="/nonexistent/vmlinux"), "kernel: /nonexistent/vmlinux"),
        (dict(memory_mib=0), "memory"),
        (dict(vcpus=100000), "vcpus"),
        (dict(vcpus=0), "vcpus"),
        (dict(devices=[{"kind": "blk", "path": "/nonexistent.img"}]), "devices[0].path"),
        (dict(colour="blue"), "colour: unknown key"),
    ]
    for i, (kw, needle) in enumerate(cases):
        p = w.partition(f"bad{i}", **kw)
        p.start_monitor("--definition", p.def_file())
        rc = p.monitor.wait(30)
        out = p.monitor_output()
        check(rc != 0, f"{kw} was accepted")
        check(needle in out, f"{kw}: message {out!r} does not name {needle!r}")
        check(not os.path.exists(p.path("qemu.pid")), f"{kw}: an engine was started")
