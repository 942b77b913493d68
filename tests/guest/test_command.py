# SPDX-License-Identifier: MIT
"""The command partition and the `ultra` CLI (issue 6 items 1, 3, 5; claims 6, 9, 34, 40): a guest
is defined, started, listed and stopped through `ultra`; errors give clear messages and non-zero
exits; every request of the documented API is answered as docs/command.md says; and kill -9 of
the command partition leaves the guest running while a new instance rebuilds its view from the
resource database."""
import json
import os
import re
import signal
import subprocess
import time

import harness
from harness import check, pid_alive, wait_for, workspace
from test_ultravisor import Ultravisor

COMMAND = os.path.join(harness.BUILD, "bin", "ultra-command")
ULTRA = os.path.join(harness.BUILD, "bin", "ultra")
DOC = os.path.join(harness.ROOT, "docs", "command.md")


class CommandPartition:
    def __init__(self, w, uv):
        self.w = w
        self.uv = uv
        self.sock = os.path.join(w.dir, "command.sock")
        self.log = os.path.join(w.dir, "command.log")
        self.proc = None
        harness.on_cleanup(self.kill)

    def start(self):
        if os.path.exists(self.sock):
            os.unlink(self.sock)
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen([COMMAND, "--ultravisor", self.uv.sock],
                                         env=dict(os.environ, ULTRA_RUN_DIR=self.w.dir),
                                         stdout=log, stderr=log, start_new_session=True)
        wait_for(lambda: os.path.exists(self.sock) or self.proc.poll() is not None, 30,
                 "the command partition's socket")
        check(self.proc.poll() is None, "ultra-command exited: " + open(self.log).read())
        return self

    def kill(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def ultra(self, *args):
        return subprocess.run([ULTRA, *args], capture_output=True, text=True, timeout=120,
                              env=dict(os.environ, ULTRA_RUN_DIR=self.w.dir,
                                       ULTRA_STATE_DIR=self.uv.state))

    def ok(self, *args):
        r = self.ultra(*args)
        check(r.returncode == 0, f"ultra {' '.join(args)} exited {r.returncode}: {r.stderr}")
        return r.stdout

    def api(self, req):
        return harness.json_request(self.sock, req)


def kill_qemus_under(run_dir):
    """QEMUs whose console log is in run_dir: one a monitor had started but not yet recorded
    in its state file when the test stopped would outlive it otherwise."""
    mark = (os.path.join(run_dir, "partitions") + "/").encode()
    for pid in os.listdir("/proc"):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                cmd = f.read()
        except OSError:
            continue
        if cmd.startswith(b"qemu-system") and mark in cmd:
            try:
                os.kill(int(pid), signal.SIGKILL)
            except ProcessLookupError:
                pass


def kill_monitors(run_dir):
    """The command partition's monitors are nobody's children here: end them and their QEMUs,
    also one a monitor started but had not recorded yet (a test that failed or a host killed
    while a guest was starting)."""
    root = os.path.join(run_dir, "partitions")
    for name in os.listdir(root) if os.path.isdir(root) else []:
        try:
            with open(os.path.join(root, name, "state.json")) as f:
                st = json.load(f)
        except (OSError, ValueError):
            continue
        for key in ("monitor_pid", "qemu_pid"):
            pid = st.get(key, 0)
            if pid and pid_alive(pid):
                os.kill(pid, signal.SIGKILL)
    kill_qemus_under(run_dir)


def system(w):
    uv = Ultravisor(w).start()
    harness.on_cleanup(lambda: kill_monitors(w.dir))
    uv.ctl("boot-command")  # partition 2 recorded as the command partition, running
    return uv, CommandPartition(w, uv).start()


def def_file(w, name, **kw):
    p = os.path.join(w.dir, f"{name}.json")
    with open(p, "w") as f:
        json.dump(w.definition(name, **kw), f)
    return p


def listed(cp, name):
    for p in json.loads(cp.ok("list", "--json")):
        if p["name"] == name:
            return p
    return None


def test_command_defines_starts_lists_stops_and_survives_its_own_death():
    w = workspace()
    uv, cp = system(w)
    out = cp.ok("define", def_file(w, "cg1", memory_mib=160, cpu_share=0.5))
    check(re.search(r"cg1 defined as number 10\b", out), f"define said: {out}")
    check(listed(cp, "cg1")["state"] == "defined", "a defined partition is not listed so")
    check(uv.show(10)["granted_mib"] == 0, "define granted memory before start")

    cp.ok("start", "cg1")
    g = harness.Partition(w.dir, w.definition("cg1"))  # for its console
    g.wait_boot()
    wait_for(lambda: listed(cp, "cg1")["state"] == "running", 20, "cg1 to be listed running")
    p = listed(cp, "cg1")
    check(p["memory_mib"] == 160 and p["granted_mib"] == 160 and p["vcpus"] == 1 and
          p["cpu_share"] == 0.5 and p["id"] == 10, f"listed as {p}")
    table = cp.ok("list")
    check(re.search(r"^10\s+cg1\s+running\s+160MiB\s+1 \(0\.50\)\s+\S+", table, re.M),
          f"ultra list:\n{table}")
    qemu = g.qemu_pid()
    check(os.readlink(f"/proc/{qemu}/fd/3").startswith("/memfd:uv-mem-p10-"),
          "the guest's RAM is not the ultravisor's grant")
    # ultra top: the engine as the host sees it. A busy guest capped at 0.5 CPU shows it.
    g.out("(while :; do :; done) &")
    top = json.loads(cp.ok("--json", "top", "-n", "1", "-d", "2"))
    row = next((r for r in top if r["name"] == "cg1"), None)
    check(row and row["cpu_share"] == 0.5 and 0.2 <= row["cpu"] <= 0.6 and
          row["rss_mib"] > 16, f"ultra top: {top}")
    check("cg1" in cp.ok("top", "-n", "1", "-d", "0.2"), "ultra top prints no cg1 line")
    g.out("kill %1 2>/dev/null; true")

    # ultra pause / resume: while paused the guest runs nothing (a command typed meanwhile has
    # no output, not even the echo of its keys); resumed, it runs the command.
    out = cp.ok("pause", "cg1")
    check("cg1 paused" in out and listed(cp, "cg1")["state"] == "paused", f"pause: {out}")
    check(cp.ultra("pause", "cg1").returncode == 1, "a second pause was not refused")
    g.console.sendall(b"echo pz-$((6*7))\n")
    time.sleep(2)
    check(b"pz-" not in g.console_log(), "a paused guest ran a command")
    out = cp.ok("resume", "cg1")
    check("cg1 running" in out, f"resume: {out}")
    wait_for(lambda: b"pz-42" in g.console_log(), 20, "the command typed while paused to run")

    # kill -9 of the command partition: the guest goes on; a new instance knows it again.
    before = g.console_log().count(b"\n")
    cp.proc.send_signal(signal.SIGKILL)
    cp.proc.wait()
    check(cp.ultra("list").returncode == 3, "ultra without a command partition did not exit 3")
    check(g.out("echo alive").strip() == "alive", "the guest stopped answering")
    check(pid_alive(qemu), "QEMU died with the command partition")
    cp.start()
    p = listed(cp, "cg1")
    check(p and p["state"] == "running" and p["memory_mib"] == 160, f"after restart: {p}")
    check(g.console_log().count(b"\n") > before, "no console output after the restart")
    info = json.loads(cp.ok("info", "cg1", "--json"))
    check(info["qemu_pid"] == qemu and info["console"].endswith("cg1/console.sock"),
          f"info after restart: {info}")

    # ultra console: keystrokes reach the guest's shell, its answer comes back, Ctrl-] detaches.
    g.console.close()  # QEMU serves one console client at a time
    g.console = None
    con = subprocess.Popen([ULTRA, "console", "cg1"], stdin=subprocess.PIPE,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           env=dict(os.environ, ULTRA_RUN_DIR=w.dir))
    con.stdin.write(b"echo con-$((6*7))\n")
    con.stdin.flush()
    wait_for(lambda: b"con-42" in g.console_log(), 20, "the console command's output")
    con.stdin.write(b"\x1d")
    con.stdin.flush()
    out, err = con.communicate(timeout=10)
    check(con.returncode == 0 and b"con-42" in out and b"Detached" in err,
          f"ultra console: {con.returncode} {out[-200:]!r} {err!r}")

    out = cp.ok("stop", "cg1")
    check("stopped" in out, f"stop said: {out}")
    check(listed(cp, "cg1")["state"] == "stopped", "not stopped after ultra stop")
    wait_for(lambda: not pid_alive(qemu), 10, "QEMU to end")
    cp.ok("undefine", "cg1")
    check(listed(cp, "cg1") is None, "undefined partition still listed")
    log = cp.ok("log")
    check(re.search(r"sender=2/command .*create-partition partition=10", log) and
          "revoke-memory partition=10" in log, "the audit log lacks the command partition's work")


def test_command_errors_are_clear_and_non_zero():
    w = workspace()
    uv, cp = system(w)
    r = cp.ultra("start", "ghost")
    check(r.returncode == 1 and "no partition named ghost" in r.stderr, f"unknown: {r.stderr}")
    r = cp.ultra("info", "ghost", "--json")
    check(r.returncode == 1 and r.stdout == "", f"info of unknown: {r.returncode} {r.stdout}")
    bad = def_file(w, "bad", memory_mib="lots")
    r = cp.ultra("define", bad)
    check(r.returncode == 1 and "memory_mib" in r.stderr and "invalid-definition" in r.stderr,
          f"bad definition: {r.stderr}")
    bad = def_file(w, "bad2", disk=[])  # "disks", misspelt
    r = cp.ultra("define", bad)
    check(r.returncode == 1 and "disk: unknown key" in r.stderr, f"unknown key: {r.stderr}")
    bad = def_file(w, "bad3", kernel="/nonexistent/vmlinux")
    r = cp.ultra("define", bad)
    check(r.returncode == 1 and "kernel" in r.stderr, f"missing kernel: {r.stderr}")
    ok = def_file(w, "twice")
    cp.ok("define", ok)
    r = cp.ultra("define", ok)
    check(r.returncode == 1 and "already defined" in r.stderr, f"second define: {r.stderr}")
    r = cp.ultra("stop", "twice")
    check(r.returncode == 1 and "not running" in r.stderr, f"stop of defined: {r.stderr}")
    check(cp.ultra("frobnicate").returncode == 2, "an unknown verb did not exit 2")
    check(cp.ultra("start").returncode == 2, "a missing name did not exit 2")
    r = cp.ultra("define", os.path.join(w.dir, "missing.json"))
    check(r.returncode == 1 and "missing.json" in r.stderr, f"missing file: {r.stderr}")
    check([p["name"] for p in json.loads(cp.ok("list", "--json"))] == ["twice"],
          "refused definitions left partitions behind")


def test_crashed_guest_is_recorded_and_can_be_started_again():
    """A guest whose engine died is recorded crashed, with its memory kept; so is one whose
    monitor died with it (nobody left to say so: the command partition notices). ultra start
    brings either back, and ultra undefine takes a crashed one away (claims 5, 52)."""
    w = workspace()
    uv, cp = system(w)
    cp.ok("define", def_file(w, "cr1", memory_mib=128))

    def state():
        return listed(cp, "cr1")["state"]

    def boot():
        cp.ok("start", "cr1")
        g = harness.Partition(w.dir, w.definition("cr1"))
        g.wait_boot()
        wait_for(lambda: state() == "running", 60, "cr1 to run")
        out = g.out("echo up-$((2*21))")
        check("up-42" in out, f"cr1's shell does not answer: {out!r}")
        qemu = g.qemu_pid()
        g.console.close()  # QEMU serves one console client at a time
        g.console = None
        return g, qemu

    g, qemu = boot()
    os.kill(qemu, signal.SIGKILL)  # the engine alone: its monitor reports it
    wait_for(lambda: state() == "crashed", 20, "cr1 to be listed crashed")
    check(uv.show(10)["granted_mib"] == 128, "a crashed guest's memory was not kept for it")

    g, qemu = boot()
    check(listed(cp, "cr1")["granted_mib"] == 128, "restart granted memory twice")
    monitor = g.state()["monitor_pid"]
    os.kill(monitor, signal.SIGKILL)  # both: nobody is left to report
    os.kill(qemu, signal.SIGKILL)
    wait_for(lambda: state() == "crashed", 20, "the command partition to record the crash")
    check("its monitor and engine are gone" in open(cp.log).read(), "no log line for it")

    g, qemu = boot()
    os.kill(qemu, signal.SIGKILL)
    wait_for(lambda: state() == "crashed", 20, "cr1 to be listed crashed again")
    cp.ok("undefine", "cr1")
    check(listed(cp, "cr1") is None, "an undefined crashed partition is still listed")


# -- the documented API --------------------------------------------------------------------------

def doc_schema():
    with open(DOC) as f:
        text = f.read()
    m = re.search(r"### Schema.*?```json\n(.*?)```", text, re.S)
    check(m, "docs/command.md has no schema block")
    return json.loads(m.group(1))


TYPES = {"string": str, "int": int, "number": (int, float), "object": dict, "array": list}


def conforms(value, shape, schema, where):
    if shape == "empty":
        check(value == {}, f"{where}: expected {{}}, got {value}")
        return
    if isinstance(shape, str) and shape.endswith("[]"):
        check(isinstance(value, list), f"{where}: expected an array, got {value}")
        for i, v in enumerate(value):
            conforms(v, shape[:-2], schema, f"{where}[{i}]")
        return
    if isinstance(shape, dict):  # a nested object, e.g. resources' memory_mib
        members = shape
    elif shape == "info":
        members = dict(schema["partition"], **schema["info_extra"])
    else:
        members = schema[shape]
    check(isinstance(value, dict), f"{where}: expected an object, got {value}")
    for k, t in members.items():
        if isinstance(t, dict):
            check(k in value, f"{where}: missing {k}")
            conforms(value[k], t, schema, f"{where}.{k}")
            continue
        if k not in value:
            check(t.endswith("?"), f"{where}: missing {k}")
            continue
        ok = isinstance(value[k], TYPES[t.rstrip("?")]) and not isinstance(value[k], bool)
        check(ok, f"{where}.{k}: {value[k]!r} is not {t}")
    extra = set(value) - set(members)
    check(not extra, f"{where}: undocumented members {extra}")


def test_command_api_answers_as_documented():
    w = workspace()
    schema = doc_schema()
    uv, cp = system(w)
    definition = w.definition("apig", memory_mib=96)
    args = {"define": {"definition": definition, "base_dir": w.dir}, "list": {},
            "start": {"name": "apig"}, "info": {"name": "apig"}, "destroy": {"name": "apig"},
            "pause": {"name": "apig"}, "resume": {"name": "apig"},
            "stop": {"name": "apig", "timeout": 1}, "undefine": {"name": "apig"},
            "set-cpu-share": {"name": "apig", "cpu_share": 0.5}, "resources": {},
            "set-disk-limits": {"name": "apid", "disk": 0, "bytes_per_sec": 1 << 20}}
    check(set(args) == set(schema["requests"]), "the test and the schema disagree on the verbs")

    def call(verb):
        spec = schema["requests"][verb]
        for k, t in spec["arguments"].items():
            check(t.endswith("?") or k in args[verb], f"{verb}: test omits required {k}")
        check(set(args[verb]) <= set(spec["arguments"]), f"{verb}: undocumented arguments")
        rep = cp.api({"version": schema["version"], "execute": verb, "arguments": args[verb]})
        check("return" in rep and set(rep) == {"return"}, f"{verb}: {rep}")
        conforms(rep["return"], spec["return"], schema, verb)
        return rep["return"]

    def state():
        return cp.api({"version": 1, "execute": "info", "arguments": {"name": "apig"}})[
            "return"]["state"]

    before = call("resources")
    check(before["memory_mib"]["free"] <= before["memory_mib"]["total"] and
          before["cpus"]["total"] == os.cpu_count(), f"resources: {before}")
    call("define")
    check(call("set-cpu-share")["cpu_share"] == 0.5, "set-cpu-share did not take")
    # A defined partition with a disk: its limit is the database's (docs/io-partition.md).
    with open(os.path.join(w.dir, "apid.img"), "wb") as f:
        f.truncate(1 << 20)
    rep = cp.api({"version": 1, "execute": "define", "arguments": {
        "definition": w.definition("apid", memory_mib=64, disks=[{"image": "apid.img"}]),
        "base_dir": w.dir}})
    check("return" in rep, f"define apid: {rep}")
    call("set-disk-limits")
    limits = cp.api({"version": 1, "execute": "info", "arguments": {"name": "apid"}})[
        "return"]["disk_limits"]
    check(limits[0]["bytes_per_sec"] == 1 << 20 and limits[0]["iops"] == 0, f"{limits}")
    call("list")
    call("start")
    # The start granted apig's 96 MiB, and its share is committed (claim 40: read from the
    # command partition's own copy of the database); apid is defined, never started.
    now = call("resources")
    check(now["memory_mib"]["free"] == before["memory_mib"]["free"] - 96 and
          now["partitions"] == before["partitions"] + 2 and
          now["cpus"]["committed"] == before["cpus"]["committed"] + 0.5, f"resources: {now}")
    call("info")
    wait_for(lambda: state() == "running", 30, "apig to run")
    call("pause")
    wait_for(lambda: state() == "paused", 10, "apig to be paused")
    rep = cp.api({"version": 1, "execute": "pause", "arguments": {"name": "apig"}})
    check(rep.get("error", {}).get("code") == "busy", f"pause of a paused partition: {rep}")
    call("resume")
    wait_for(lambda: state() == "running", 10, "apig to run again after resume")
    call("destroy")
    wait_for(lambda: state() in ("stopped", "crashed"), 30, "apig to end after destroy")
    call("start")
    wait_for(lambda: state() == "running", 30, "apig to run again")
    call("stop")
    wait_for(lambda: state() in ("stopped", "crashed"), 60, "apig to stop")
    call("undefine")

    codes = set(schema["error_codes"])
    bad = [("{not json", "bad-request"), ({"execute": "list"}, "bad-version"),
           ({"version": 2, "execute": "list"}, "bad-version"),
           ({"version": 1, "execute": "reboot"}, "unknown-command"),
           ({"version": 1, "execute": "list", "extra": 1}, "bad-request"),
           ({"version": 1, "execute": "info", "arguments": {"name": "apig", "x": 1}},
            "bad-request"),
           ({"version": 1, "execute": "info", "arguments": {"name": "apig"}},
            "no-such-partition"),
           ({"version": 1, "execute": "define", "arguments": {"definition": {"name": "x"}}},
            "invalid-definition"),
           ({"version": 1, "execute": "define",
             "arguments": {"definition": dict(definition, domain="d")}}, "invalid-definition"),
           ({"version": 1, "execute": "set-cpu-share",
             "arguments": {"name": "apig", "cpu_share": -1}}, "bad-request")]
    for req, code in bad:
        rep = cp.api(req)
        check(set(rep) == {"error"} and rep["error"]["code"] == code and
              rep["error"]["code"] in codes and rep["error"]["message"],
              f"{req}: {rep}, want {code}")
