#!/usr/bin/env python3
"""Boot one guest under plain QEMU (microvm, TCG) and drive its serial console, expect-style.

Used to check the guest image by hand and from scripts, without the project's monitor:

    scripts/guest-expect.py [--bzimage] [--smp 2] [--mem 256] [--qemu-arg=ARG]... \
        --expect ULTRA-INIT-OK --send 'memscan find hex:...' --expect 'NOTFOUND|FOUND-TOTAL'

Steps run in command-line order: --expect REGEX waits for a console line matching REGEX,
--send TEXT types TEXT and a newline, --sleep SECONDS pauses, --wait-exit waits for QEMU to exit (after poweroff -f).
Prints "t=<seconds> <step>" for each step, measured from QEMU's start. QEMU is always killed at
the end. Exit status 0 when every step succeeded, 1 otherwise (the console is printed then).
"""
import argparse
import os
import re
import select
import signal
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class Step(argparse.Action):
    def __call__(self, parser, ns, value, option=None):
        ns.steps.append((self.dest, value))


def parse_args():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.set_defaults(steps=[])
    p.add_argument("--bzimage", action="store_true", help="boot build/guest/bzImage, not vmlinux")
    p.add_argument("--kernel", help="kernel file (overrides --bzimage)")
    p.add_argument("--initrd", default=os.path.join(ROOT, "build/guest/initramfs.cpio.gz"))
    p.add_argument("--smp", type=int, default=1)
    p.add_argument("--mem", type=int, default=256, help="MiB")
    p.add_argument("--append", default="", help="extra kernel command line")
    p.add_argument("--qemu-arg", action="append", default=[], help="extra QEMU argument")
    p.add_argument("--timeout", type=float, default=60.0, help="seconds for each step")
    p.add_argument("--log", help="write the whole console output here")
    p.add_argument("--quiet", action="store_true", help="do not echo the console")
    p.add_argument("--expect", dest="expect", action=Step, help="wait for a line matching REGEX")
    p.add_argument("--send", dest="send", action=Step, help="type TEXT and newline")
    p.add_argument("--sleep", dest="sleep", action=Step, type=float, help="pause SECONDS")
    p.add_argument("--wait-exit", dest="wait_exit", action=Step, nargs=0, help="wait for QEMU to exit")
    return p.parse_args()


def host_tsc_khz():
    out = subprocess.run([os.path.join(ROOT, "scripts/host-tsc-khz.sh")],
                         capture_output=True, text=True)
    return out.stdout.strip() if out.returncode == 0 else ""


def qemu_command(a):
    kernel = a.kernel or os.path.join(ROOT, "build/guest", "bzImage" if a.bzimage else "vmlinux")
    append = "console=ttyS0 quiet"
    khz = host_tsc_khz()
    if khz:
        append += " tsc_early_khz=" + khz
    if a.append:
        append += " " + a.append
    return ["qemu-system-x86_64", "-M", "microvm", "-accel", "tcg", "-nodefaults",
            "-no-user-config", "-display", "none", "-serial", "stdio", "-m", str(a.mem),
            "-smp", str(a.smp), "-kernel", kernel, "-initrd", a.initrd,
            "-append", append] + a.qemu_arg


class Console:
    def __init__(self, proc, echo, log):
        self.proc, self.echo, self.log = proc, echo, log
        self.pending = ""
        self.all = []

    def _read(self, deadline):
        """Console text ("" for bytes that were all carriage returns), None at timeout or EOF."""
        left = deadline - time.monotonic()
        if left <= 0:
            return None
        r, _, _ = select.select([self.proc.stdout], [], [], left)
        if not r:
            return None
        data = os.read(self.proc.stdout.fileno(), 65536)
        if not data:
            return None
        text = data.decode("utf-8", "replace").replace("\r", "")
        self.all.append(text)
        if self.echo:
            sys.stdout.write(text)
            sys.stdout.flush()
        if self.log:
            self.log.write(text)
        return text

    def expect(self, regex, timeout):
        pat = re.compile(regex)
        deadline = time.monotonic() + timeout
        while True:
            lines = self.pending.split("\n")
            for i, line in enumerate(lines[:-1]):
                if pat.search(line):
                    self.pending = "\n".join(lines[i + 1:])
                    return True
            self.pending = lines[-1]
            if pat.search(self.pending) and not regex.endswith("$"):
                self.pending = ""
                return True
            text = self._read(deadline)
            if text is None:
                return False
            self.pending += text

    def send(self, text):
        self.proc.stdin.write((text + "\n").encode())
        self.proc.stdin.flush()

    def wait_exit(self, timeout):
        deadline = time.monotonic() + timeout
        while self._read(deadline) is not None:
            pass
        try:
            self.proc.wait(max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            return False
        return True


def main():
    a = parse_args()
    cmd = qemu_command(a)
    log = open(a.log, "w") if a.log else None
    start = time.monotonic()
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, start_new_session=True)
    con = Console(proc, not a.quiet, log)
    ok = True
    try:
        for kind, value in a.steps:
            if kind == "expect":
                ok = con.expect(value, a.timeout)
            elif kind == "send":
                con.send(value)
            elif kind == "sleep":
                time.sleep(value)
            else:
                ok = con.wait_exit(a.timeout)
            print("\nt=%.2f %s %s%s" % (time.monotonic() - start, kind, value or "",
                                       "" if ok else " FAILED"), file=sys.stderr)
            if not ok:
                break
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        if log:
            log.close()
    if not ok and a.quiet:
        sys.stdout.write("".join(con.all))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
