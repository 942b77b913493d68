# SPDX-License-Identifier: MIT
"""A stand-in for one host's command partition (docs/command.md), for tests of ultra-ops that
need hosts but no guest: it keeps a table of partitions and their states, answers the verbs
ultra-ops uses, and lets a test hold a `migrate` for as long as it likes (as a real one holds
it for the length of the stream). Listens on a Unix socket in the test's workspace."""
import json
import os
import socket
import threading

import harness


class FakeCommand:
    hosts = {}  # address -> FakeCommand: where a migration's target is found

    def __init__(self, w, name):
        self.path = os.path.join(w.dir, f"{name}-command.sock")
        self.parts = {}  # name -> state
        self.calls = {}  # verb -> how many times it was asked
        self.lock = threading.Lock()
        self.migrating = threading.Event()  # a migrate has arrived
        self.release = threading.Event()  # let it end
        self.outcome = "completed"  # or an error message: the migration fails with it
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(self.path)
        self.sock.listen(16)
        FakeCommand.hosts[self.path] = self
        harness.on_cleanup(self.close)
        threading.Thread(target=self._accept, daemon=True).start()

    def close(self):
        FakeCommand.hosts.pop(self.path, None)
        self.release.set()
        self.sock.close()

    def count(self, verb):
        with self.lock:
            return self.calls.get(verb, 0)

    def _accept(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(c,), daemon=True).start()

    def _serve(self, c):
        with c, c.makefile("rwb") as f:
            for line in f:
                req = json.loads(line)
                verb, args = req["execute"], req.get("arguments", {})
                with self.lock:
                    self.calls[verb] = self.calls.get(verb, 0) + 1
                try:
                    rep = {"return": self._answer(verb, args)}
                except LookupError as e:
                    rep = {"error": {"code": "migration", "message": str(e)}}
                f.write(json.dumps(rep).encode() + b"\n")
                f.flush()

    def _answer(self, verb, args):
        name = args.get("name")
        if verb == "list":
            with self.lock:
                return [{"name": n, "state": s} for n, s in self.parts.items()]
        if verb == "resources":
            return {"memory_mib": {"total": 8192, "free": 8192},
                    "cpus": {"total": 2, "committed": 0}}
        if verb == "define":
            with self.lock:
                self.parts.setdefault(args["definition"]["name"], "defined")
            return {"name": args["definition"]["name"]}
        if verb == "start":
            with self.lock:
                self.parts[name] = "running"
            return {"name": name, "state": "running"}
        if verb in ("destroy", "undefine"):
            with self.lock:
                self.parts.pop(name, None)
            return {"name": name}
        if verb == "migrate":
            self.migrating.set()
            self.release.wait()
            if self.outcome != "completed":
                raise LookupError(self.outcome)
            target = FakeCommand.hosts[args["target"]]
            with self.lock:
                self.parts.pop(name, None)
            with target.lock:
                target.parts[name] = "running"
            return {"partition": {"name": name, "state": "running"}, "target": args["target"],
                    "total_ms": 1, "downtime_ms": 1, "mib": 0.0, "source": "undefined"}
        return {}
