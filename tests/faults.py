"""Fault injection over real servers: a SecantusDB stopped at the n-th write of a request, and the `zhangban`
commands that repair what a crash leaves, run as their own processes.

`FlakyMongo` is a SecantusDB of one test's own (never the run's shared server) on a fixed port. The app's
connection carries a pymongo command listener (`Tripwire`); armed at the n-th write command, it stops the server
with SIGTERM *before that command is sent*, in the request's own thread — so the request dies exactly between its
(n-1)-th and n-th write, as it would if MongoDB went away there. `start()` brings the server back on the same
port and data; pymongo reconnects by itself.
"""
from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

from pymongo import monitoring

from core import db
from core.embedded import ServerProcess, free_port, start_server
from tests.worker_processes import ROOT, worker_env

WRITES = {"insert", "update", "delete", "findAndModify"}


class Tripwire(monitoring.CommandListener):
    def __init__(self, on_trip):
        self.on_trip = on_trip
        self.lock = threading.Lock()
        self.at: int | None = None
        self.writes: list[str] = []

    def arm(self, nth_write: int) -> None:
        with self.lock:
            self.writes, self.at = [], nth_write

    def record(self) -> None:
        with self.lock:
            self.writes, self.at = [], None

    def started(self, event):
        if event.command_name not in WRITES:
            return
        target = event.command.get(event.command_name)
        with self.lock:
            self.writes.append(f"{event.command_name} {target}")
            trip = self.at is not None and len(self.writes) == self.at
            if trip:
                self.at = None
        if trip:
            self.on_trip()

    def succeeded(self, event):
        pass

    def failed(self, event):
        pass


class FlakyMongo:
    def __init__(self, root: Path, settings):
        self.root, self.port = root, free_port()
        self.server: ServerProcess | None = None
        self.tripwire = Tripwire(self.stop)
        self.start()
        self.uri = f"{self.server.uri}/zb_faults"
        self.settings = settings.with_overrides(mongodb_uri=self.uri)
        db.connect(settings, uri=self.uri, listeners=[self.tripwire])

    def start(self) -> None:
        if self.server is None or self.server.process.poll() is not None:
            self.server = start_server(self.root / "mongo", self.root / "mongo.log", port=self.port, durable=False)

    def stop(self) -> None:
        if self.server:
            self.server.stop()

    @property
    def down(self) -> bool:
        return self.server.process.poll() is not None

    def writes_of(self, call) -> list[str]:
        """The write commands one call sends, in order (the run that tells where to cut)."""
        self.tripwire.record()
        call()
        return list(self.tripwire.writes)


def zhangban(settings, *args: str, timeout: float = 120, **env) -> str:
    """Run a `zhangban` command from this tree as its own process against `settings`' database (more ZHANGBAN_*
    settings in `env`, e.g. s3_endpoint=…); its output."""
    done = subprocess.run([sys.executable, "-c", "from api.cli import main; main()", *args],
                          env=worker_env(settings, **env), cwd=ROOT, capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, (done.returncode, done.stdout[-800:], done.stderr[-1500:])
    return done.stdout


def report(output: str) -> dict:
    """`name: number` lines of a command's report as a dict."""
    found = {}
    for line in output.splitlines():
        name, _, value = line.partition(": ")
        if value.strip().isdigit():
            found[name.strip()] = int(value)
    return found
