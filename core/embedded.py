"""The embedded MongoDB-wire server (SecantusDB), run as a child process over the data dir.

One process owns the server of a data dir: it holds an exclusive lock on `mongo.lock` for its life and writes
`mongo.json` (pid, port). Any other process on the same data dir (a `zhangban` command in a second terminal,
gunicorn workers) finds that server through the file and uses it instead of starting a second one.
SecantusDB is never imported: it runs only as its own process (licence, and its embedded mode clashes with
Flask's reloader).
"""
from __future__ import annotations

import atexit
import fcntl
import json
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from pymongo import MongoClient
from pymongo.errors import PyMongoError

log = logging.getLogger(__name__)


class EmbeddedServerError(RuntimeError):
    pass


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def ping(uri: str, timeout_ms: int = 500) -> bool:
    client = MongoClient(uri, serverSelectionTimeoutMS=timeout_ms, connectTimeoutMS=timeout_ms)
    try:
        client.admin.command("ping")
        return True
    except PyMongoError:
        return False
    finally:
        client.close()


def server_command() -> str:
    """secantusd-py from this interpreter's environment, else from PATH."""
    beside = Path(sys.executable).parent / "secantusd-py"
    found = str(beside) if beside.exists() else shutil.which("secantusd-py")
    if not found:
        raise EmbeddedServerError("the embedded MongoDB server is not installed: pip install 'zhangban[embedded]' "
                                  "or set ZHANGBAN_MONGODB_URI")
    return found


def _die_with_parent():
    """In the child: get SIGTERM if the owner dies without stopping us (Linux), and ignore Ctrl-C."""
    os.setpgrp()
    try:
        import ctypes
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


@dataclass
class ServerProcess:
    """A SecantusDB process this program started and must stop."""
    process: subprocess.Popen
    port: int
    storage: Path
    log_path: Path

    @property
    def uri(self) -> str:
        return f"mongodb://127.0.0.1:{self.port}"

    def stop(self, timeout: float = 30):
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)  # SIGTERM flushes; SIGKILL can lose unjournaled writes
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start_server(storage: Path, log_path: Path, port: int | None = None, timeout: float = 30,
                 durable: bool = True) -> ServerProcess:
    """Start SecantusDB as a standalone server (no replica-set advertisement).

    Standalone holds ~2,000 writes/s over a server's life where the default replica-set mode falls to ~50–90
    within 6,000 writes (notes/infrastructure.md); we use neither transactions nor change streams.
    `durable` adds --sync-on-commit so a SIGKILL loses no acknowledged write (~35 % slower): the embedded
    default keeps people's data; a throw-away test server may skip it.
    """
    storage.mkdir(parents=True, exist_ok=True)
    port = port or free_port()
    out = open(log_path, "ab")
    process = subprocess.Popen(
        [server_command(), "--host", "127.0.0.1", "--port", str(port), "--storage-path", str(storage),
         "--log-level", "WARNING", "--standalone", *(["--sync-on-commit"] if durable else [])],
        stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, preexec_fn=_die_with_parent)
    out.close()
    server = ServerProcess(process, port, storage, log_path)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            tail = log_path.read_text(errors="replace")[-600:]
            raise EmbeddedServerError(f"the embedded MongoDB server exited at start-up (see {log_path}): {tail}")
        if ping(server.uri, 300):
            return server
        time.sleep(0.1)
    server.stop()
    raise EmbeddedServerError(f"the embedded MongoDB server did not answer within {timeout:.0f} s (see {log_path})")


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie has exited and only waits for its parent to collect it. Look at every thread: the leader shows
    # "Z" as soon as the main thread ends, while other threads may still hold the database files open.
    try:
        return any(_task_state(task) != "Z" for task in Path(f"/proc/{pid}/task").iterdir())
    except (OSError, IndexError):
        return True


def _task_state(task: Path) -> str:
    return (task / "stat").read_text().rpartition(")")[2].split()[0]


def _gone_within(pid: int, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while _pid_alive(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


def _serves_storage(pid: int, storage: Path) -> bool:
    """Whether process `pid` is a SecantusDB server over `storage` (read from /proc; False when unknown)."""
    try:
        args = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    return b"--storage-path" in args and os.fsencode(str(storage)) in args


class EmbeddedMongo:
    """Find the running embedded server of a data dir, or start and own one."""

    stop_grace = 10.0      # seconds a server left behind gets to close its files after SIGTERM, before SIGKILL

    def __init__(self, data_dir: Path):
        self.data_dir = Path(data_dir).resolve()
        self.state_path = self.data_dir / "mongo.json"
        self.lock_path = self.data_dir / "mongo.lock"
        self.storage = self.data_dir / "mongo"
        self.server: ServerProcess | None = None
        self._lock_file = None

    def ensure(self, timeout: float = 30) -> str:
        """The URI of the data dir's server, starting it when no one else runs it."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        deadline = time.monotonic() + timeout
        while True:
            if self._try_lock():
                return self._start()
            uri = self._running_uri()
            if uri:
                return uri
            if time.monotonic() > deadline:
                owner = self._read_state().get("owner_pid", "another process")
                raise EmbeddedServerError(
                    f"the data dir {self.storage} is in use by process {owner}, whose MongoDB server does not "
                    f"answer; stop that process or set ZHANGBAN_DATA_DIR to another directory")
            time.sleep(0.2)

    def _try_lock(self) -> bool:
        handle = open(self.lock_path, "a+")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            return False
        self._lock_file = handle
        return True

    def _read_state(self) -> dict:
        try:
            return json.loads(self.state_path.read_text())
        except (OSError, ValueError):
            return {}

    def _running_uri(self) -> str | None:
        state = self._read_state()
        if not state or not _pid_alive(state.get("pid", -1)):
            return None
        uri = f"mongodb://127.0.0.1:{state['port']}"
        return uri if ping(uri) else None

    def _start(self) -> str:
        stale = self._read_state()
        if stale and _pid_alive(stale.get("pid", -1)) and _serves_storage(stale["pid"], self.storage):
            # A server left behind by an owner that was killed: stop it before reopening its files. (Only if the
            # pid is still that server: after a reboot the stale pid can belong to any other process.)
            try:
                os.kill(stale["pid"], signal.SIGTERM)
                if not _gone_within(stale["pid"], self.stop_grace):
                    # still closing its files after the grace (seen while a loaded machine's disk is busy): a kill
                    # loses no acknowledged write (--sync-on-commit) and frees the files at once
                    os.kill(stale["pid"], signal.SIGKILL)
                    _gone_within(stale["pid"], 10)
            except ProcessLookupError:
                pass
        self.server = self._start_when_files_free()
        self.state_path.write_text(json.dumps({"pid": self.server.process.pid, "port": self.server.port,
                                               "owner_pid": os.getpid()}))
        atexit.register(self.stop)
        log.info("embedded MongoDB server started on %s with data in %s", self.server.uri, self.storage)
        return self.server.uri

    def _start_when_files_free(self, attempts: int = 20) -> ServerProcess:
        """Start the server; while a stopped predecessor's WiredTiger files are still held (EBUSY — seen on a
        loaded machine just after it exited), wait a little and try again rather than fail start-up."""
        for _ in range(attempts - 1):
            try:
                return start_server(self.storage, self.data_dir / "mongo.log")
            except EmbeddedServerError as exc:
                if "resource busy" not in str(exc):
                    raise
                time.sleep(0.25)
        return start_server(self.storage, self.data_dir / "mongo.log")

    def stop(self):
        if self.server:
            self.server.stop()
            self.server = None
            try:
                self.state_path.unlink()
            except FileNotFoundError:
                pass
        if self._lock_file:
            self._lock_file.close()
            self._lock_file = None
