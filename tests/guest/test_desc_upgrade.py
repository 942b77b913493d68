# SPDX-License-Identifier: MIT
"""Upgrading the ultravisor under a state directory an older build wrote (claims 5, 7, 31, 32, 54;
docs/txn-log.md, "Upgrading"): the fixtures in tests/fixtures/desc-upgrade were made by the real
ultravisor of descriptor versions 1, 2 and 3 (make-fixture.sh there), killed -9 with two partitions,
their memory grants, a channel and a paused state committed; version 3's also with beta's disk
limits and that build's own set-disk-limits record, which must come back as totals (claims 19,
22). This build must print every record
with --dump-log and, restarted on the directory, hold every partition, grant and state as the old
build left them, twice (the second time over a log that mixes old and new records)."""
import os
import subprocess
import tarfile

import harness
from harness import check, workspace
from test_ultravisor import UVD, Ultravisor

FIXTURES = os.path.join(harness.ROOT, "tests", "fixtures", "desc-upgrade")

# What the old build's `uvctl show` printed before the kill (make-fixture.sh).
EXPECTED = {
    2: {"name": "command", "state": "running", "vcpus": 1, "memory_mib": 32},
    12: {"name": "alpha", "state": "paused", "vcpus": 1, "memory_mib": 64, "granted_mib": 64,
         "status": 1},
    13: {"name": "beta", "state": "defined", "vcpus": 2, "memory_mib": 96, "granted_mib": 96,
         "status": 1},
}


def unpack(w, name):
    with tarfile.open(os.path.join(FIXTURES, name + ".tar.xz")) as t:
        t.extractall(w.dir, filter="data")
    return os.path.join(w.dir, "state")


def dump(state):
    r = subprocess.run([UVD, "--dump-log", state], capture_output=True, text=True, timeout=60)
    check(r.returncode == 0, f"--dump-log {state}: {r.stderr}")
    return r.stdout


# What a snapshot fixture's log still holds after its snapshot: v1 and v2 took it after alpha,
# v3 after beta's set-disk-limits (so that beta's v3 limits are in the snapshot itself).
SNAP_TAIL = {"v3-snap": ["set-state partition=12 state=paused"]}


def check_dump(name, out, from_start=True):
    check("undecodable" not in out, f"{name}: --dump-log cannot read an old record:\n{out}")
    wants = ["create-partition partition=12 name=alpha vcpus=1 mem=67108864"] if from_start else []
    wants += ["create-partition partition=13 name=beta vcpus=2 mem=100663296",
              "grant-memory partition=13 bytes=100663296",
              "create-channel channel=12 endpoints=12,13 size=65536",
              "set-state partition=12 state=paused"]
    if not from_start:
        wants = SNAP_TAIL.get(name.split()[0], wants)
    for want in wants:
        check(want in out, f"{name}: --dump-log lacks '{want}':\n{out}")


def check_database(name, uv):
    for pid, want in EXPECTED.items():
        rec = uv.show(pid)
        got = {k: rec.get(k) for k in want}
        check(got == want, f"{name}: partition {pid} is {rec}, the old build had {want}")
    for pid in (12, 13):
        size = int(uv.ctl("memory", str(pid)).stdout.split()[1])
        check(size == EXPECTED[pid]["memory_mib"] << 20, f"{name}: partition {pid} memory {size}")
    # The channel is still there: making it again is refused as a duplicate.
    r = uv.ctl("channel", "12", "12", "13", "64K", ok=False)
    check(r.returncode != 0 and "EXISTS" in r.stderr, f"{name}: channel 12 lost: {r.stderr}")


# Beta's limits in the v3 fixtures: disk 0 as defined, disk 1 as set-disk-limits left it; a v3
# limit is a total, no direction limited.
V3_LIMITS = [
    {"bytes_per_sec": 1048576, "iops": 300, "read_bytes_per_sec": 0, "write_bytes_per_sec": 0,
     "read_iops": 0, "write_iops": 0},
    {"bytes_per_sec": 4194304, "iops": 500, "read_bytes_per_sec": 0, "write_bytes_per_sec": 0,
     "read_iops": 0, "write_iops": 0},
]


def check_limits(name, uv):
    got = uv.show(13).get("disk_limits")
    check(got == V3_LIMITS, f"{name}: beta's disk limits are {got}, the v3 build left {V3_LIMITS}")


def replay(name, snapshot=False):
    w = workspace()
    state = unpack(w, name)
    check_dump(name, dump(state))
    if snapshot:
        # Without the segment before the snapshot, recovery cannot fall back on replaying the
        # whole log: the old snapshot itself must load (partition 12 is only in it).
        os.remove(os.path.join(state, "seg-0000000000000000.log"))
    uv = Ultravisor(w, "--pool-mib", "512")
    uv.state = state
    uv.start()
    check_database(name, uv)
    if name.startswith("v3"):
        check_limits(name, uv)
    # The upgraded daemon goes on writing: a new partition, then a crash and a second restart
    # over the mixed log.
    d = os.path.join(w.dir, "gamma.json")
    with open(d, "w") as f:
        f.write('{"name": "gamma", "memory_mib": 32, "vcpus": 1, "kernel": "%s"}' % d)
    uv.ctl("create", "14", d)
    uv.kill()
    uv.start()
    check_database(name + " after a second restart", uv)
    check(uv.show(14)["granted_mib"] == 32, f"{name}: partition 14 lost")
    if name.startswith("v3"):
        check_limits(name + " after a second restart", uv)
    check_dump(name + " with new records", dump(state), not snapshot)


def test_v1_log_replays():
    replay("v1-log")


def test_v1_snapshot_and_log_replay():
    replay("v1-snap", snapshot=True)


def test_v2_log_replays():
    replay("v2-log")


def test_v2_snapshot_and_log_replay():
    replay("v2-snap", snapshot=True)


def test_v3_log_with_limits_replays():
    out = dump(unpack(workspace(), "v3-log"))
    want = "set-disk-limits partition=13 disk=1 iops=500 bytes_per_sec=4194304\n"
    check(want in out, f"--dump-log does not read v3's set-disk-limits as '{want}':\n{out}")
    replay("v3-log")


def test_v3_snapshot_and_log_with_limits_replay():
    replay("v3-snap", snapshot=True)



def crc32c(data):
    table = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        table.append(c)
    crc = 0xFFFFFFFF
    for b in data:
        crc = table[(crc ^ b) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


def test_newer_descriptor_is_refused_naming_both_versions():
    """A log whose descriptor is of a version this build does not know (as a newer build would
    write it, CRC intact) is not guessed at: --dump-log and the daemon say which versions."""
    w = workspace()
    state = unpack(w, "v2-log")
    seg = os.path.join(state, "seg-0000000000000000.log")
    with open(seg, "r+b") as f:
        data = bytearray(f.read(64 * 1024))
        off = 32  # after the segment header
        while True:
            length = int.from_bytes(data[off + 8:off + 12], "little")
            size = 32 + (length + 7) // 8 * 8
            desc = off + 32 + 32  # log record header, transaction header
            if length > 64 and data[desc + 16:desc + 21] == b"beta\0":
                break
            off += size
        data[desc + 4:desc + 8] = (9).to_bytes(4, "little")
        data[off + 4:off + 8] = crc32c(bytes(data[off + 8:off + size])).to_bytes(4, "little")
        f.seek(0)
        f.write(data)
    want = "version 9 is newer than this build's version 4"
    out = dump(state)
    check(want in out, f"--dump-log does not say '{want}':\n{out}")
    r = subprocess.run([UVD, "--state-dir", state, "--run-dir", w.dir, "--pool-mib", "512"],
                       capture_output=True, text=True, timeout=60)
    check(r.returncode != 0 and want in r.stderr, f"the daemon started or did not say why: "
          f"{r.returncode} {r.stderr}")
