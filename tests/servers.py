"""Real backing servers for the test run: SecantusDB (MongoDB wire protocol) and MinIO.

Each starts on a free loopback port with a temporary data dir and is stopped with SIGTERM at the end.
MinIO comes from PATH or ~/.cache/zhangban/bin; if missing and Go is available, the pinned version is built
there with `go install` (long the first time on 2 cores, then cached).
"""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from core.embedded import ServerProcess, free_port, start_server

MINIO_MODULE = "github.com/minio/minio"
MINIO_VERSION = "v0.0.0-20260212201848-7aac2a2c5b7c"   # the module proxy's latest on 2026-11-26
CACHE_BIN = Path.home() / ".cache" / "zhangban" / "bin"
MINIO_USER = "zhangban-test"
MINIO_PASSWORD = "zhangban-test-secret-key"


def start_mongo(root: Path) -> ServerProcess:
    # The run's data is thrown away afterwards: skip the per-commit fsync.
    return start_server(root / "mongo", root / "mongo.log", durable=False)


class MinioUnavailable(RuntimeError):
    pass


def ensure_minio_binary() -> str:
    found = shutil.which("minio") or (str(CACHE_BIN / "minio") if (CACHE_BIN / "minio").exists() else None)
    if found:
        return found
    go = shutil.which("go") or ("/usr/local/go/bin/go" if Path("/usr/local/go/bin/go").exists() else None)
    if not go:
        raise MinioUnavailable("no minio binary on PATH or in ~/.cache/zhangban/bin, and no Go to build one")
    CACHE_BIN.mkdir(parents=True, exist_ok=True)
    print(f"building MinIO {MINIO_VERSION} into {CACHE_BIN} (first time only; takes minutes)", flush=True)
    result = subprocess.run([go, "install", f"{MINIO_MODULE}@{MINIO_VERSION}"],
                            env={**os.environ, "GOBIN": str(CACHE_BIN), "GOFLAGS": "-trimpath"},
                            capture_output=True, text=True, timeout=3600)
    if result.returncode != 0 or not (CACHE_BIN / "minio").exists():
        raise MinioUnavailable(f"go install of MinIO failed: {result.stderr[-800:]}")
    return str(CACHE_BIN / "minio")


@dataclass
class MinioServer:
    process: subprocess.Popen
    port: int
    data: Path

    @property
    def endpoint(self) -> str:
        return f"127.0.0.1:{self.port}"

    def stop(self):
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start_minio(root: Path, port: int | None = None, timeout: float = 60) -> MinioServer:
    binary = ensure_minio_binary()
    data = root / "minio"
    data.mkdir(parents=True, exist_ok=True)
    port = port or free_port()
    log = open(root / "minio.log", "ab")
    process = subprocess.Popen(
        [binary, "server", str(data), "--address", f"127.0.0.1:{port}",
         "--console-address", f"127.0.0.1:{free_port()}", "--quiet"],
        env={**os.environ, "MINIO_ROOT_USER": MINIO_USER, "MINIO_ROOT_PASSWORD": MINIO_PASSWORD,
             "MINIO_BROWSER": "off", "MINIO_UPDATE": "off"},
        stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    log.close()
    server = MinioServer(process, port, data)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise MinioUnavailable(f"minio exited: {(root / 'minio.log').read_text(errors='replace')[-600:]}")
        try:
            with urllib.request.urlopen(f"http://{server.endpoint}/minio/health/live", timeout=1) as r:
                if r.status == 200:
                    return server
        except OSError:
            pass
        time.sleep(0.2)
    server.stop()
    raise MinioUnavailable(f"minio did not become live within {timeout:.0f} s")


class TestServers:
    """The servers of one test run, started once by the controlling pytest process."""

    def __init__(self):
        self.root = Path(tempfile.mkdtemp(prefix="zhangban-test-"))
        self.mongo: ServerProcess | None = None
        self.minio: MinioServer | None = None
        self.minio_error: str | None = None

    def start(self):
        self.mongo = start_mongo(self.root)
        try:
            self.minio = start_minio(self.root)
        except MinioUnavailable as exc:
            self.minio_error = str(exc)
            print(f"\nMinIO is not available, MinIO-only tests will be skipped: {exc}", flush=True)
        return self

    def stop(self):
        for server in (self.minio, self.mongo):
            if server:
                server.stop()
        shutil.rmtree(self.root, ignore_errors=True)
