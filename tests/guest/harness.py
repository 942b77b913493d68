# SPDX-License-Identifier: MIT
"""Boots guest partitions through ultra-monitor for the integration tests.

Everything a test starts (monitors, QEMUs, run directories) is registered here and torn down by
cleanup(), which the runner calls after every test whether it passed or not.
"""
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.environ.get("ULTRA_BUILD", os.path.join(ROOT, "build", "asan"))
MONITOR = os.path.join(BUILD, "bin", "ultra-monitor")
KERNEL = os.environ.get("ULTRA_KERNEL", os.path.join(ROOT, "build", "guest", "vmlinux"))
INITRD = os.environ.get("ULTRA_INITRD", os.path.join(ROOT, "build", "guest", "initramfs.cpio.gz"))
MARKER = b"ULTRA-INIT-OK"
BOOT_TIMEOUT = float(os.environ.get("ULTRA_BOOT_TIMEOUT", "90"))
# Every engine runs as uid ENGINE_UID_BASE + its partition number (lib/engine_uid.h); a
# stand-alone definition started without --partition is number 0.
ENGINE_UID_BASE = 0x70000000


def engine_uid(partition=0):
    return ENGINE_UID_BASE + partition


class TestFailure(Exception):
    pass


def check(cond, msg):
    if not cond:
        raise TestFailure(msg)


def prerequisites():
    """A missing prerequisite fails loudly instead of skipping."""
    missing = [p for p in (MONITOR, KERNEL, INITRD) if not os.path.exists(p)]
    if shutil.which("qemu-system-x86_64") is None:
        missing.append("qemu-system-x86_64 (apt-get install qemu-system-x86)")
    if missing:
        raise TestFailure("missing prerequisites: " + ", ".join(missing) +
                          " -- run scripts/setup.sh and make")


_live = []  # everything to tear down


def pid_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(") ")[1][0] != "Z"
    except OSError:
        return False


def wait_for(pred, timeout, what, interval=0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(interval)
    raise TestFailure(f"timed out after {timeout:.0f}s waiting for {what}")


class Control:
    """A connection to a monitor's control socket (JSON lines)."""

    def __init__(self, path, timeout=30):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        self.sock.connect(path)
        self.buf = b""
        self.events = []

    def _line(self):
        while b"\n" not in self.buf:
            d = self.sock.recv(65536)
            if not d:
                raise TestFailure("monitor closed its control connection")
            self.buf += d
        line, self.buf = self.buf.split(b"\n", 1)
        return json.loads(line)

    def call(self, cmd, **args):
        req = {"execute": cmd}
        if args:
            req["arguments"] = args
        self.sock.sendall(json.dumps(req).encode() + b"\n")
        while True:
            msg = self._line()
            if "event" in msg:
                self.events.append(msg)
                continue
            return msg

    def next_event(self):
        if self.events:
            return self.events.pop(0)
        while True:
            msg = self._line()
            if "event" in msg:
                return msg

    def close(self):
        self.sock.close()


def json_request(path, req, timeout=60):
    """One JSON line to a control socket (command.sock, ops.sock); its one-line reply."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.connect(path)
    s.sendall((req if isinstance(req, str) else json.dumps(req)).encode() + b"\n")
    buf = b""
    while b"\n" not in buf:
        d = s.recv(65536)
        check(d, f"{path} closed the connection without a reply")
        buf += d
    s.close()
    return json.loads(buf.split(b"\n", 1)[0])


class Partition:
    def __init__(self, run_dir, definition):
        self.run_dir = run_dir
        self.definition = definition
        self.name = definition["name"]
        self.dir = os.path.join(run_dir, "partitions", self.name)
        self.monitor = None
        self.monitor_log = os.path.join(run_dir, f"monitor-{self.name}.log")
        self.console = None
        self.buf = b""
        self.seq = 0
        _live.append(self)

    def path(self, leaf):
        return os.path.join(self.dir, leaf)

    def def_file(self):
        p = os.path.join(self.run_dir, f"{self.name}.json")
        with open(p, "w") as f:
            json.dump(self.definition, f)
        return p

    def start_monitor(self, *args):
        env = dict(os.environ, ULTRA_RUN_DIR=self.run_dir)
        log = open(self.monitor_log, "ab")
        self.monitor = subprocess.Popen([MONITOR, *args], stdout=log, stderr=log, env=env,
                                        start_new_session=True)
        log.close()
        return self.monitor

    def start(self):
        self.start_monitor("--definition", self.def_file())
        wait_for(lambda: os.path.exists(self.path("monitor.sock")) or self.monitor.poll() is not None,
                 30, "the monitor's control socket")
        return self

    def state(self):
        try:
            with open(self.path("state.json")) as f:
                return json.load(f)
        except (OSError, ValueError):
            return {}

    def qemu_pid(self):
        return self.state().get("qemu_pid", 0)

    def ctl(self):
        return Control(self.path("monitor.sock"))

    def monitor_output(self):
        with open(self.monitor_log, "rb") as f:
            return f.read().decode(errors="replace")

    # -- console ------------------------------------------------------------------------------
    def attach_console(self):
        wait_for(lambda: os.path.exists(self.path("console.sock")), 30, "the console socket")
        self.console = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.console.connect(self.path("console.sock"))
        self.console.settimeout(0.2)

    def console_log(self):
        with open(self.path("console.log"), "rb") as f:
            return f.read()

    def wait_boot(self, timeout=BOOT_TIMEOUT):
        def booted():
            if self.monitor and self.monitor.poll() is not None:
                raise TestFailure(f"monitor exited ({self.monitor.returncode}): "
                                  + self.monitor_output())
            try:
                return MARKER in self.console_log()
            except OSError:
                return False
        wait_for(booted, timeout, f"{self.name} to reach init ({MARKER.decode()})", 0.02)
        if self.console is None:
            self.attach_console()
        return self

    def _read(self):
        try:
            d = self.console.recv(65536)
        except socket.timeout:
            return
        if not d:
            raise TestFailure(f"{self.name}: console closed")
        self.buf += d

    def sh(self, cmd, timeout=60):
        """Runs a shell command line in the guest; returns (output, exit status)."""
        self.seq += 1
        n = self.seq
        if cmd.rstrip().endswith("&"):
            cmd += " true"  # "x &; echo" is a syntax error, "x & true; echo" is not
        # The markers are computed by the guest shell, so the echoed command line (which the
        # terminal may also wrap) never matches them.
        line = f"echo __BEG$(({n}))_; {cmd}; echo __END$(({n}))_$?\n"
        self.buf = b""
        self.console.sendall(line.encode())
        beg = f"__BEG{n}_".encode()
        pat = re.compile(rb"__END" + str(n).encode() + rb"_(\d+)")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            m = pat.search(self.buf)
            b = self.buf.find(beg)
            if m and 0 <= b < m.start():
                out = self.buf[b + len(beg):m.start()].decode(errors="replace")
                return out.replace("\r", "").strip("\n") + "\n", int(m.group(1))
            self._read()
        raise TestFailure(f"{self.name}: no answer to {cmd!r} within {timeout}s; "
                          f"got {self.buf[-500:]!r}")

    def out(self, cmd, timeout=60):
        text, rc = self.sh(cmd, timeout)
        check(rc == 0, f"{self.name}: `{cmd}` exited {rc}: {text}")
        return text

    # -- teardown -----------------------------------------------------------------------------
    def kill_all(self):
        pid = self.qemu_pid()
        if self.console:
            self.console.close()
            self.console = None
        if self.monitor and self.monitor.poll() is None:
            self.monitor.kill()
            self.monitor.wait()
        if pid and pid_alive(pid):
            os.kill(pid, signal.SIGKILL)
            wait_for(lambda: not pid_alive(pid), 10, f"qemu {pid} to die")


class Workspace:
    """A fresh run directory per test."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="uvt-", dir="/tmp")
        # Engines run as their partition's uid and reach their vhost-user sockets here by
        # path: they may cross the folder but not list it (what they may open is chowned).
        os.chmod(self.dir, 0o711)
        self.shm = None

    def shm_path(self, leaf):
        """A path in a per-test folder on /dev/shm (memory objects such as channels)."""
        if self.shm is None:
            self.shm = tempfile.mkdtemp(prefix="uvt-", dir="/dev/shm")
        return os.path.join(self.shm, leaf)

    def definition(self, name, **kw):
        d = {"name": name, "memory_mib": 256, "vcpus": 1, "kernel": KERNEL, "initrd": INITRD,
             "cmdline": "console=ttyS0 quiet", "accel": "tcg"}
        d.update(kw)
        return d

    def partition(self, name, **kw):
        return Partition(self.dir, self.definition(name, **kw))


_workspaces = []
_cleanups = []


def on_cleanup(fn):
    """Registers fn to run at cleanup, after the partitions are torn down."""
    _cleanups.append(fn)


def start_daemon(argv, log_path, ready_path, what, timeout=30):
    """argv in its own session, its output appended to log_path, killed at cleanup; returned once
    ready_path exists (a failure with its log if it exits first)."""
    with open(log_path, "ab") as log:
        proc = subprocess.Popen(argv, stdout=log, stderr=log, start_new_session=True)

    def stop():
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    on_cleanup(stop)
    wait_for(lambda: os.path.exists(ready_path) or proc.poll() is not None, timeout, what)
    with open(log_path, errors="replace") as f:
        check(proc.poll() is None, f"{what} exited: " + f.read())
    return proc


def workspace():
    w = Workspace()
    _workspaces.append(w)
    return w


def cleanup():
    while _live:
        p = _live.pop()
        try:
            p.kill_all()
        except Exception as e:  # keep tearing down the rest
            print(f"  cleanup: {p.name}: {e}")
    while _cleanups:
        fn = _cleanups.pop()
        try:
            fn()
        except Exception as e:
            print(f"  cleanup: {e}")
    while _workspaces:
        w = _workspaces.pop()
        for d in (w.dir, w.shm):
            if d:
                _remove_tree(d)


def _remove_tree(d):
    """Removes d; says so when it cannot, rather than leaving it behind silently."""
    for _ in range(3):
        shutil.rmtree(d, ignore_errors=True)
        if not os.path.exists(d):
            return
        time.sleep(0.2)  # something was still creating files in it: once more
    print(f"  cleanup: could not remove {d}: {os.listdir(d)}")
