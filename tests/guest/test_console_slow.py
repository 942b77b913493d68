# SPDX-License-Identifier: MIT
"""A console viewer that stops reading must never slow its guest (docs/monitor.md, "console").

Two guests each write LINES numbered lines to ttyS0 from their init (ultra.run) and time it by
their own clock (/proc/uptime): the first with nobody attached to its console, the second with
a viewer that connected to console.sock before the guest started writing and never reads. The
second must take about as long as the first (the guest is not held back), console.log must hold
every line of both, and the viewer, once it reads, finds the monitor's notice that output was
dropped for it rather than a stalled stream."""
import os
import re
import signal
import socket
import time

import harness
from harness import check, wait_for, workspace

LINES = 60000  # about 1.2 MB with the tty's \r\n: far past every socket buffer on the way
DONE = re.compile(rb"CONSOLE-WRITE (\d+\.\d+) (\d+\.\d+)")
STALL_S = 120  # how long a stalled guest is given before the test says so


def writer_cmdline(delay_s=2, lines=LINES):
    """The kernel command line of a guest whose init, delay_s after boot, writes numbered
    lines to ttyS0 and then the time it took by its own clock."""
    script = (f"sleep {delay_s}; read a b < /proc/uptime; seq 1 {lines} | "
              f"sed s/^/console-line-/ > /dev/ttyS0; read c d < /proc/uptime; "
              f"echo CONSOLE-WRITE $a $c")
    return f'console=ttyS0 quiet ultra.run="{script}"'


def writer(w, name):
    return w.partition(name, cmdline=writer_cmdline())


def write_time(p, timeout):
    """The seconds the guest took to write its lines, by its own clock, or None if it did not
    finish within timeout."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        m = DONE.search(p.console_log())
        if m:
            return float(m.group(2)) - float(m.group(1))
        if p.monitor is not None:  # started here rather than by a command partition
            check(p.monitor.poll() is None,
                  f"{p.name}'s monitor exited: {p.monitor_output()}")
        time.sleep(0.2)
    return None


def check_log_complete(p, lines=LINES):
    got = set(int(n) for n in re.findall(rb"console-line-(\d+)\r?\n", p.console_log()))
    missing = lines - len(got & set(range(1, lines + 1)))
    check(missing == 0, f"{p.name}: console.log lacks {missing} of the {lines} lines")


def test_a_viewer_that_does_not_read_never_slows_the_guest():
    w = workspace()
    free = writer(w, "conslow1").start()
    t_free = write_time(free, STALL_S)
    check(t_free is not None, f"with nobody attached the guest did not finish writing within "
          f"{STALL_S} s: {free.console_log()[-300:]!r}")
    check_log_complete(free)
    free.kill_all()

    stuck = writer(w, "conslow2").start()
    wait_for(lambda: os.path.exists(stuck.path("console.sock")), 30, "the console socket")
    viewer = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    viewer.connect(stuck.path("console.sock"))  # and never reads until the end
    wait_for(lambda: harness.MARKER in stuck.console_log(), harness.BOOT_TIMEOUT,
             "conslow2 to reach init")
    t_stuck = write_time(stuck, max(30, 10 * t_free))
    print(f"  {LINES} lines to ttyS0: {t_free:.2f} s with nobody attached, "
          + (f"{t_stuck:.2f} s" if t_stuck is not None else "no end")
          + " with a viewer that does not read")
    check(t_stuck is not None, f"a viewer that does not read stalled the guest: it wrote for "
          f"over {max(30, 10 * t_free):.0f} s (vs {t_free:.2f} s with nobody attached)")
    # Timings on a shared 2-core machine are noisy: a stalled guest is an order of magnitude
    # off, a free one within a few times.
    check(t_stuck < max(4 * t_free, t_free + 5),
          f"a viewer that does not read slowed the guest: {t_stuck:.2f} s vs {t_free:.2f} s")
    check_log_complete(stuck)

    # The viewer, reading at last, is told what it missed, and still gets what comes now.
    viewer.settimeout(0.5)
    seen = b""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and b"[ultra: " not in seen:
        try:
            d = viewer.recv(1 << 20)
        except socket.timeout:
            continue
        check(d, "the console closed on the slow viewer")
        seen += d
    check(re.search(rb"\[ultra: \d+ bytes of console output dropped", seen),
          f"no notice of dropped output for the slow viewer: {seen[-300:]!r}")
    viewer.close()


def test_a_dead_monitor_loses_no_console_output():
    """The console relay is a process of its own: with the monitor killed the guest's output
    still reaches console.log, every line, and the viewer; a new monitor finds it all as it
    was."""
    w = workspace()
    p = w.partition("conmon1").start().wait_boot()
    qemu = p.qemu_pid()
    p.monitor.send_signal(signal.SIGKILL)
    p.monitor.wait()
    n = 20000
    out = p.out(f"seq 1 {n} | sed s/^/no-monitor-/ > /dev/ttyS0; echo wrote-$((n={n}))",
                timeout=120)
    check(f"wrote-{n}" in out, f"the console without a monitor: {out[-300:]!r}")
    got = set(int(x) for x in re.findall(rb"no-monitor-(\d+)\r?\n", p.console_log()))
    check(got == set(range(1, n + 1)),
          f"console.log lacks {n - len(got & set(range(1, n + 1)))} of {n} lines written "
          "while the monitor was dead")
    p.start_monitor("--attach", "conmon1")
    wait_for(lambda: p.state().get("reason") == "re-attached", 30, "the re-attach")
    check(p.out("echo back-$((40+2))").strip() == "back-42", "the console after the re-attach")
    check(p.qemu_pid() == qemu, "a new engine")
    # The relay ends with the engine.
    check("return" in p.ctl().call("destroy"), "destroy refused")
    p.monitor.wait(30)
    wait_for(lambda: "console relay ended" in p.monitor_output(), 10, "the relay to end")


def relay_pid(p):
    """The console relay the partition's monitor forked."""
    pid = p.monitor.pid
    with open(f"/proc/{pid}/task/{pid}/children") as f:
        for child in f.read().split():
            with open(f"/proc/{child}/comm") as c:
                if c.read().strip() == "ultra-console":
                    return int(child)
    raise harness.TestFailure(f"{p.name}: no console relay under its monitor {pid}")


def reattach_console(p):
    p.console.close()
    p.console = None
    p.attach_console()


def test_a_killed_relay_is_replaced():
    """The relay killed while the guest runs: the monitor starts another and switches the serial
    port to it (QMP chardev-change); killed while no monitor runs: the re-attaching monitor
    does the same. The console answers and the log goes on both times."""
    w = workspace()
    p = w.partition("conrel1").start().wait_boot()
    qemu = p.qemu_pid()
    os.kill(relay_pid(p), signal.SIGKILL)
    wait_for(lambda: "the console relay ended while the engine runs; replaced it"
             in p.monitor_output(), 15, "the monitor to replace the relay")
    reattach_console(p)
    check(p.out("echo again-$((5*5))").strip() == "again-25", "the console after the relay died")
    check(b"again-25" in p.console_log(), "the log after the relay died")

    relay = relay_pid(p)
    p.monitor.send_signal(signal.SIGKILL)
    p.monitor.wait()
    os.kill(relay, signal.SIGKILL)
    p.start_monitor("--attach", "conrel1")
    wait_for(lambda: p.state().get("reason") == "re-attached", 30, "the re-attach")
    check("nobody serves the console; replaced it" in p.monitor_output(),
          f"the re-attaching monitor did not replace the relay: {p.monitor_output()[-600:]}")
    reattach_console(p)
    check(p.out("echo twice-$((6*6))").strip() == "twice-36", "the console after the re-attach")
    check(b"twice-36" in p.console_log() and p.qemu_pid() == qemu, "the log, the same engine")


def test_the_relay_is_confined():
    """The relay holds the engine's uid, no capability, no way to gain one, a seccomp filter,
    and only stdio, its three fds and its viewers' sockets."""
    w = workspace()
    p = w.partition("conjail1").start().wait_boot()
    pid = relay_pid(p)
    with open(f"/proc/{pid}/status") as f:
        st = dict(line.split(":", 1) for line in f.read().splitlines() if ":" in line)
    uid = str(harness.engine_uid())
    check(st["Uid"].split() == [uid] * 4 and st["Gid"].split() == [uid] * 4,
          f"the relay runs as {st['Uid']} / {st['Gid']}, not the engine's {uid}")
    check(int(st["CapEff"], 16) == 0 and int(st["CapPrm"], 16) == 0, f"capabilities: {st}")
    check(st["NoNewPrivs"].strip() == "1" and st["Seccomp"].strip() == "2",
          f"NoNewPrivs {st['NoNewPrivs'].strip()}, Seccomp {st['Seccomp'].strip()}")
    fds = {int(fd): os.readlink(f"/proc/{pid}/fd/{fd}") for fd in os.listdir(f"/proc/{pid}/fd")}
    others = {fd: t for fd, t in fds.items() if fd > 5 and not t.startswith("socket:")}
    check(set(range(6)) <= set(fds) and fds[5] == p.path("console.log") and not others,
          f"the relay holds {fds}")
    check(p.out("echo still-$((1+1))").strip() == "still-2", "the console through the relay")
