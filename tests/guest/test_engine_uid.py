# SPDX-License-Identifier: MIT
"""Each partition's engine runs as a uid of its own (claims 13, 59; docs/monitor.md, "The engine's
identity"): QEMU has the partition's uid and gid, no capabilities and no_new_privs. A process
with partition A's uid, what a guest that broke into A's QEMU would be, can open none of B's
files and reach none of B's sockets; ultra-io shuts a client with the wrong uid out even where
the socket's mode lets it reach it (SO_PEERCRED, docs/io-partition.md). A monitor that cannot
drop the engine's privileges does not start it."""
import json
import os
import socket
import struct
import subprocess

from harness import (MONITOR, check, engine_uid, wait_for, workspace, pid_alive)
from test_io_blk import IoPartition, find_disk

A, B = 41, 42  # partition numbers given to stand-alone definitions (--partition)


def start_numbered(p, number):
    p.start_monitor("--definition", p.def_file(), "--partition", str(number))
    wait_for(lambda: os.path.exists(p.path("monitor.sock")) or p.monitor.poll() is not None,
             30, "the monitor's control socket")
    return p


def status_fields(pid):
    with open(f"/proc/{pid}/status") as f:
        return dict(line.rstrip("\n").split(":\t", 1) for line in f if ":\t" in line)


GET_FEATURES = struct.pack("<III", 1, 1, 0)  # a vhost-user request any back end answers


def probe(uid, actions):
    """Runs actions in a child that dropped to uid (no groups, no capabilities, as the engine);
    returns each one's outcome: "ok", "answered" (a vhost-user reply came), "closed" (the
    connection was shut unanswered) or the errno's name."""
    r, wfd = os.pipe()
    pid = os.fork()
    if pid == 0:
        out = []
        try:
            os.close(r)
            os.setgroups([])
            os.setresgid(uid, uid, uid)
            os.setresuid(uid, uid, uid)
            for what, path in actions:
                try:
                    if what == "open":
                        os.close(os.open(path, os.O_RDONLY))
                        out.append("ok")
                    else:
                        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                        s.settimeout(5)
                        s.connect(path)
                        if what == "ask":
                            s.sendall(GET_FEATURES)
                            out.append("answered" if len(s.recv(64)) > 0 else "closed")
                        else:
                            out.append("ok")
                        s.close()
                except OSError as e:
                    out.append("closed" if isinstance(e, (ConnectionResetError, BrokenPipeError))
                               else os.strerror(e.errno) if e.errno else str(e))
            os.write(wfd, json.dumps(out).encode())
        finally:
            os._exit(0)
    os.close(wfd)
    data = b""
    while True:
        d = os.read(r, 65536)
        if not d:
            break
        data += d
    os.close(r)
    os.waitpid(pid, 0)
    check(data, f"the probe as uid {uid} reported nothing")
    return json.loads(data)


DENIED = "Permission denied"


def test_engine_runs_as_the_partitions_own_uid():
    w = workspace()
    p = start_numbered(w.partition("uid41", memory_mib=128), A).wait_boot()
    pid = p.qemu_pid()
    st = status_fields(pid)
    uid = engine_uid(A)
    check(st["Uid"].split() == [str(uid)] * 4, f"QEMU's uids: {st['Uid']} (want {uid})")
    check(st["Gid"].split() == [str(uid)] * 4, f"QEMU's gids: {st['Gid']} (want {uid})")
    check(st["Groups"].strip() == "", f"QEMU has supplementary groups under TCG: {st['Groups']}")
    for cap in ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"):
        check(int(st[cap], 16) == 0, f"QEMU's {cap} is {st[cap]}")
    check(st["NoNewPrivs"].strip() == "1", f"QEMU's NoNewPrivs is {st['NoNewPrivs']}")
    check(st["Seccomp"].strip() == "2", "QEMU is not under its seccomp filter")
    check(p.state().get("engine_uid") == uid, f"state.json: {p.state()}")
    # A stand-alone definition without a number: base + 0, still nobody's root.
    q = w.partition("uid0", memory_mib=128).start().wait_boot()
    check(status_fields(q.qemu_pid())["Uid"].split() == [str(engine_uid(0))] * 4,
          "an unnumbered partition's engine")
    # The engine's fds are all it has of the run directory: the folder itself is closed to it.
    mode = os.stat(p.dir).st_mode & 0o777
    check(mode & 0o007 == 0, f"{p.dir} is open to others: {oct(mode)}")


def private_image(w, name, mib):
    path = os.path.join(w.dir, name)
    fd = os.open(path, os.O_CREAT | os.O_RDWR | os.O_EXCL, 0o600)
    os.ftruncate(fd, mib << 20)
    os.close(fd)
    return path


def test_one_partitions_uid_reaches_nothing_of_anothers():
    w = workspace()
    img_a, img_b = private_image(w, "a.img", 16), private_image(w, "b.img", 16)
    sock_a, sock_b = (os.path.join(w.dir, f"{n}.sock") for n in ("a", "b"))
    io = IoPartition(w, (sock_a, img_a, A), (sock_b, img_b, B))
    try:
        pa = start_numbered(w.partition("ua", memory_mib=128, devices=[
            {"kind": "vhost-user-blk", "path": sock_a}]), A)
        pb = start_numbered(w.partition("ub", memory_mib=128, devices=[
            {"kind": "vhost-user-blk", "path": sock_b}]), B)
        pa.wait_boot()
        pb.wait_boot()
        # Both engines reached their own sockets as their own uids: the disks work.
        for p, word in ((pa, "from-a"), (pb, "from-b")):
            vd = find_disk(p)
            out = p.out(f"echo {word} > {vd}; sync; head -c 6 {vd}", timeout=60)
            check(word in out, f"{p.name}'s disk: {out!r}")
        check(st_uid(sock_a) == engine_uid(A) and st_uid(sock_b) == engine_uid(B),
              "the sockets are not their partitions' engines'")
        check(os.stat(sock_b).st_mode & 0o077 == 0, "B's socket is open to others")

        b_qemu = pb.qemu_pid()
        targets = [("open", img_b), ("connect", sock_b), ("open", f"/proc/{b_qemu}/mem"),
                   ("open", f"/proc/{b_qemu}/environ"), ("open", pb.path("console.log")),
                   ("connect", pb.path("qmp.sock")), ("connect", pb.path("console.sock"))]
        got = probe(engine_uid(A), targets + [("ask", sock_a)])
        for (what, path), outcome in zip(targets, got):
            check(outcome == DENIED, f"partition A's uid could {what} {path}: {outcome}")
        # Positive control: A's uid does reach A's socket, and ultra-io serves it.
        check(got[-1] == "answered", f"A's uid on A's socket: {got[-1]}")
        # And the targets are real: root opens them all.
        for what, path in targets:
            if what == "open":
                os.close(os.open(path, os.O_RDONLY))
        check(pid_alive(b_qemu), "B's engine died")

        # A socket A's uid can reach (its mode opened by hand) still lets A's uid in no further
        # than the door: ultra-io sees the wrong uid and closes on it, and on root too.
        os.chmod(sock_b, 0o666)
        before = io.output().count("refused: the socket is partition")
        got = probe(engine_uid(A), [("ask", sock_b)])
        check(got == ["closed"], f"A's uid on B's socket: {got}")
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(5)
        s.connect(sock_b)
        try:
            s.sendall(GET_FEATURES)
            answer = s.recv(64)
        except (ConnectionResetError, BrokenPipeError):
            answer = b""
        s.close()
        check(answer == b"", "root was served on B's socket")
        log = io.output()
        check(f"connection from uid {engine_uid(A)} refused: the socket is partition {B}'s, "
              f"whose engine is uid {engine_uid(B)}" in log, f"no refusal of A's uid: {log}")
        check("connection from uid 0 refused" in log, f"no refusal of root: {log}")
        check(log.count("refused: the socket is partition") == before + 2 and
              f"({before + 2} refused)" in log, f"refusals not counted: {log}")
        os.chmod(sock_b, 0o600)
        # B's own engine was never disturbed: its disk still works.
        vd = find_disk(pb)
        out = pb.out(f"echo again-b > {vd}; sync; head -c 7 {vd}", timeout=60)
        check("again-b" in out, f"B's disk after the refusals: {out!r}")
        check(io.alive(), "ultra-io died: " + io.output())
    finally:
        io.stop()


def st_uid(path):
    return os.stat(path).st_uid


def test_no_engine_when_the_drop_fails():
    """A monitor that cannot drop privileges (here: itself unprivileged) refuses to start the
    engine, with a clear error; it never runs QEMU as whoever it is."""
    w = workspace()
    user = 4242  # not root, and not an engine uid
    run = os.path.join(w.dir, "user-run")
    os.mkdir(run, 0o700)
    os.chown(run, user, user)
    p = w.partition("nodrop", memory_mib=128)
    p.run_dir = run
    p.dir = os.path.join(run, "partitions", p.name)

    def drop():
        os.setgroups([])
        os.setresgid(user, user, user)
        os.setresuid(user, user, user)

    with open(p.monitor_log, "ab") as log:
        p.monitor = subprocess.Popen([MONITOR, "--definition", p.def_file()], stdout=log,
                                     stderr=log, env=dict(os.environ, ULTRA_RUN_DIR=run),
                                     preexec_fn=drop, start_new_session=True)
    rc = p.monitor.wait(60)
    out = p.monitor_output()
    check(rc != 0, f"the monitor went on: {out}")
    check("cannot confine the engine to uid" in out, f"no clear error: {out}")
    check(not os.path.exists(p.path("qemu.pid")), "an engine was started")
    check(p.state().get("state") == "crashed" and "cannot confine" in p.state().get("reason", ""),
          f"state: {p.state()}")


def test_a_kvm_engine_gets_the_kvm_group_and_no_other():
    """Under KVM the engine's one supplementary group is /dev/kvm's; a /dev/kvm only root's
    group may use is refused with a clear error rather than handing out group root."""
    st = os.stat("/dev/kvm")
    w = workspace()
    p = w.partition("kvmgrp", memory_mib=128, accel="kvm").start()
    if st.st_gid == 0 and st.st_mode & 0o006 != 0o006:
        rc = p.monitor.wait(30)
        out = p.monitor_output()
        check(rc != 0 and "/dev/kvm belongs to group root" in out, f"monitor: {out}")
        check(not os.path.exists(p.path("qemu.pid")), "an engine was started")
        return
    # (This machine's /dev/kvm may not run a guest: look at QEMU while it lives.)
    pid = wait_for(lambda: p.qemu_pid() or p.monitor.poll() is not None, 30, "QEMU")
    check(pid is not True, f"the monitor refused: {p.monitor_output()}")
    try:
        groups = status_fields(pid)["Groups"].split()
    except OSError:
        return  # KVM unusable here: QEMU already gone
    check(groups == [str(st.st_gid)], f"QEMU's groups under KVM: {groups}")
