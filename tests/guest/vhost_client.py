# SPDX-License-Identifier: MIT
"""A minimal vhost-user front end for tests: speaks the protocol to ultra-io directly, owns a
memfd as "guest memory" and lays out one split virtqueue in it by hand, so a test can send
whatever a hostile front end or guest would."""
import mmap
import os
import select
import socket
import struct

GET_FEATURES, SET_FEATURES, SET_OWNER, SET_MEM_TABLE = 1, 2, 3, 5
SET_VRING_NUM, SET_VRING_ADDR, SET_VRING_BASE, GET_VRING_BASE = 8, 9, 10, 11
SET_VRING_KICK, SET_VRING_CALL = 12, 13
GET_PROTOCOL_FEATURES, SET_PROTOCOL_FEATURES, GET_QUEUE_NUM, SET_VRING_ENABLE = 15, 16, 17, 18
GET_CONFIG = 24
F_VERSION_1, F_PROTOCOL, F_EVENT_IDX = 1 << 32, 1 << 30, 1 << 29
P_MQ, P_REPLY_ACK, P_CONFIG = 1, 1 << 3, 1 << 9
NEXT, WRITE, INDIRECT = 1, 2, 4
T_IN, T_OUT = 0, 1
S_OK, S_IOERR = 0, 1

MEM = 1 << 20
UVA = 0x7F1200000000
NUM = 8
DESC, AVAIL, USED, BUFS = 0x0, 0x1000, 0x2000, 0x10000


ENGINE_UID_BASE = 0x70000000  # lib/engine_uid.h; an export is partition 0's without for=


class Closed(Exception):
    pass


def connect_as(path, uid):
    """A connection to path made by a child running as uid, as an engine's would be: SO_PEERCRED
    names uid, and the socket file's mode is checked against uid."""
    parent, child = socket.socketpair()
    pid = os.fork()
    if pid == 0:
        try:
            parent.close()
            os.setgroups([])
            os.setresgid(uid, uid, uid)
            os.setresuid(uid, uid, uid)
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.connect(path)
            socket.send_fds(child, [b"ok"], [s.fileno()])
            os._exit(0)
        except BaseException as e:  # report it to the parent, never run on as a test
            try:
                child.sendall(f"{type(e).__name__}: {e}".encode()[:500])
            finally:
                os._exit(1)
    child.close()
    try:
        msg, fds, _, _ = socket.recv_fds(parent, 512, 1)
    finally:
        parent.close()
        os.waitpid(pid, 0)
    if not fds:
        text = msg.decode(errors="replace")
        raise (PermissionError if text.startswith("PermissionError") else OSError)(
            f"connecting to {path} as uid {uid}: {text}")
    return socket.socket(fileno=fds[0])


class Client:
    def __init__(self, path, timeout=5, partition=0, event_idx=False):
        """Connects as partition's engine (uid ENGINE_UID_BASE + partition), the one client
        ultra-io lets in on its export. event_idx: negotiate VIRTIO_RING_F_EVENT_IDX and behave
        like a driver that wants an interrupt for each completion it waits for (used_event set
        before each submission)."""
        self.event_idx = event_idx
        self.sock = connect_as(path, ENGINE_UID_BASE + partition)
        self.sock.settimeout(timeout)
        self.memfd = os.memfd_create("guest")
        os.ftruncate(self.memfd, MEM)
        self.mem = mmap.mmap(self.memfd, MEM)
        self.kick = os.eventfd(0, os.EFD_NONBLOCK)
        self.call = os.eventfd(0, os.EFD_NONBLOCK)
        self.avail_idx = 0
        self.used_seen = 0

    def close(self):
        for fd in (self.memfd, self.kick, self.call):
            os.close(fd)
        self.mem.close()
        self.sock.close()

    # -- messages ---------------------------------------------------------------------------
    def send(self, req, payload=b"", fds=(), need_reply=False, size=None):
        flags = 1 | (8 if need_reply else 0)
        hdr = struct.pack("<III", req, flags, len(payload) if size is None else size)
        anc = [(socket.SOL_SOCKET, socket.SCM_RIGHTS, struct.pack(f"{len(fds)}i", *fds))] \
            if fds else []
        self.sock.sendmsg([hdr + payload], anc)

    def _recv_exact(self, n):
        buf = b""
        while len(buf) < n:
            d = self.sock.recv(n - len(buf))
            if not d:
                raise Closed("ultra-io closed the connection")
            buf += d
        return buf

    def reply(self, req):
        r, flags, size = struct.unpack("<III", self._recv_exact(12))
        assert r == req and flags & 4, f"reply {r} flags {flags:#x} to request {req}"
        return self._recv_exact(size)

    def get_u64(self, req):
        self.send(req)
        return struct.unpack("<Q", self.reply(req))[0]

    def acked(self, req, payload=b"", fds=()):
        """Sends with NEED_REPLY; True when the back end accepted the request."""
        self.send(req, payload, fds, need_reply=True)
        return struct.unpack("<Q", self.reply(req))[0] == 0

    def is_closed(self):
        try:
            self.sock.settimeout(2)
            return self.sock.recv(1) == b""
        except (ConnectionResetError, BrokenPipeError):
            return True
        except socket.timeout:
            return False

    # -- set-up -------------------------------------------------------------------------------
    def negotiate(self):
        feats = self.get_u64(GET_FEATURES)
        assert feats & F_VERSION_1 and feats & F_PROTOCOL
        assert feats & F_EVENT_IDX
        want = feats & ~(1 << 28) & ~(0 if self.event_idx else F_EVENT_IDX)
        self.send(SET_FEATURES, struct.pack("<Q", want))
        proto = self.get_u64(GET_PROTOCOL_FEATURES)
        assert proto & P_REPLY_ACK and proto & P_CONFIG
        self.send(SET_PROTOCOL_FEATURES, struct.pack("<Q", P_MQ | P_REPLY_ACK | P_CONFIG))
        assert self.acked(SET_OWNER)

    @staticmethod
    def region(gpa, size, uva, off):
        return struct.pack("<QQQQ", gpa, size, uva, off)

    def mem_table(self, regions, nfds=None, fds=None):
        """fds: one per region (default: this client's memory for each)."""
        payload = struct.pack("<II", len(regions), 0) + b"".join(regions)
        if fds is None:
            fds = [self.memfd] * (len(regions) if nfds is None else nfds)
        return self.acked(SET_MEM_TABLE, payload, fds)

    def use_memory(self, fd):
        """Makes (a dup of) fd this client's memory: its first MEM bytes hold the rings."""
        self.mem.close()
        os.close(self.memfd)
        self.memfd = os.dup(fd)
        self.mem = mmap.mmap(self.memfd, MEM)

    def ring(self, desc=UVA + DESC, avail=UVA + AVAIL, used=UVA + USED):
        assert self.acked(SET_VRING_NUM, struct.pack("<II", 0, NUM))
        assert self.acked(SET_VRING_BASE, struct.pack("<II", 0, 0))
        return self.acked(SET_VRING_ADDR, struct.pack("<IIQQQQ", 0, 0, desc, used, avail, 0))

    def start(self):
        assert self.acked(SET_VRING_CALL, struct.pack("<Q", 0), [self.call])
        assert self.acked(SET_VRING_KICK, struct.pack("<Q", 0), [self.kick])
        assert self.acked(SET_VRING_ENABLE, struct.pack("<II", 0, 1))

    def setup(self):
        self.negotiate()
        assert self.mem_table([self.region(0, MEM, UVA, 0)])
        assert self.ring()
        self.start()

    # -- the queue ----------------------------------------------------------------------------
    def desc(self, i, addr, length, flags, nxt=0):
        struct.pack_into("<QIHH", self.mem, DESC + 16 * i, addr, length, flags, nxt)

    def set_used_event(self, value):
        struct.pack_into("<H", self.mem, AVAIL + 4 + 2 * NUM, value & 0xFFFF)

    def avail_event(self):
        return struct.unpack_from("<H", self.mem, USED + 4 + 8 * NUM)[0]

    def submit(self, *heads):
        """Publishes the chains with one index update and one kick (one batch)."""
        if self.event_idx:
            self.set_used_event(self.used_seen)  # interrupt me at the next completion
        for head in heads:
            struct.pack_into("<H", self.mem, AVAIL + 4 + 2 * (self.avail_idx % NUM), head)
            self.avail_idx = (self.avail_idx + 1) & 0xFFFF
        struct.pack_into("<H", self.mem, AVAIL + 2, self.avail_idx)
        os.eventfd_write(self.kick, 1)

    def used(self, timeout=5):
        """Waits for the next used element: (id, len)."""
        while struct.unpack_from("<H", self.mem, USED + 2)[0] == self.used_seen:
            if not select.select([self.call], [], [], timeout)[0]:
                raise TimeoutError("no completion")
            os.eventfd_read(self.call)
        slot = USED + 4 + 8 * (self.used_seen % NUM)
        self.used_seen = (self.used_seen + 1) & 0xFFFF
        return struct.unpack_from("<II", self.mem, slot)

    def request(self, rtype, sector, data_addr, data_len, status_addr, data_write):
        hdr_addr = BUFS
        struct.pack_into("<IIQ", self.mem, hdr_addr, rtype, 0, sector)
        self.mem[status_addr] = 0xEE
        self.desc(0, hdr_addr, 16, NEXT, 1)
        self.desc(1, data_addr, data_len, NEXT | (WRITE if data_write else 0), 2)
        self.desc(2, status_addr, 1, WRITE, 0)
        self.submit(0)
        return self.used()
