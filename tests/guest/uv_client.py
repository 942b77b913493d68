# SPDX-License-Identifier: MIT
"""The ultravisor's control socket from Python (include/ultra/uvctl.h), for tests that need a
partition's memory objects as real fds, as the command or an I/O partition receives them."""
import os
import socket
import struct

MAGIC, VERSION = 0x4C544355, 1
GET_DB, GET_MEMORY, OPEN_COMMAND, GET_CHANNELS = 1, 2, 3, 6
ROLE_COMMAND = 2
REQ = struct.Struct("<IHHIB3xQ")
RESP = struct.Struct("<IHHiIQ96s")


class UvError(Exception):
    pass


class Control:
    def __init__(self, path, partition=2, role=ROLE_COMMAND):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self.sock.settimeout(10)
        self.sock.connect(path)
        for fd in self.call(OPEN_COMMAND, partition, role)[1]:
            os.close(fd)  # the channel is not used: holding it is the identity

    def call(self, op, partition=0, role=0):
        """(size, fds) or UvError with the daemon's message."""
        self.sock.send(REQ.pack(MAGIC, VERSION, op, partition, role, 0))
        data, fds, _, _ = socket.recv_fds(self.sock, 4096, 16)
        magic, _, _, error, _, size, msg = RESP.unpack_from(data)
        assert magic == MAGIC, "not an ultravisor response"
        if error:
            for fd in fds:
                os.close(fd)
            raise UvError(msg.split(b"\0")[0].decode())
        return size, fds

    def memory(self, partition):
        """The partition's memory objects (fds, the caller closes them)."""
        return self.call(GET_MEMORY, partition)[1]

    def channels(self, partition):
        """The objects of the channels the partition is an endpoint of (fds)."""
        return self.call(GET_CHANNELS, partition)[1]

    def close(self):
        self.sock.close()
