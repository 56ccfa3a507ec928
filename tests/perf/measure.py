"""What the application benchmarks measure with: database commands (pymongo command monitoring on a dedicated
client), the CPU time of gunicorn's worker processes (/proc), and a gunicorn serving the test database.

Commands are counted in-process: `counted_connection` reconnects mongoengine's default alias through a new
MongoClient that carries a CommandListener (the same options as core.db.connect), so the application code is
unchanged and nothing else's commands are counted; the original connection is restored afterwards.
"""
from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import threading
import time
from collections import Counter
from contextlib import contextmanager
from pathlib import Path

import mongoengine
import requests
from pymongo import monitoring
from pymongo.uri_parser import parse_uri

from core import db
from core.embedded import free_port

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


class CommandCounter(monitoring.CommandListener):
    """Counts the commands the application sends, by "command collection" (e.g. "find human_tasks"), and the
    wall time they took inside the driver's round trip (the database wait)."""

    def __init__(self):
        self.lock = threading.Lock()
        self.reset()

    def reset(self):
        with self.lock:
            self.counts: Counter = Counter()
            self.wait_us = 0
            self.wait_us_by: Counter = Counter()   # the same wait, by "command collection"
            self.last: dict = {}          # command name → the last such command (for explain)
            self._keys: dict = {}         # request id → its key, until the command ends

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def started(self, event):
        target = event.command.get(event.command_name)
        key = f"{event.command_name} {target}" if isinstance(target, str) else event.command_name
        with self.lock:
            self.counts[key] += 1
            self.last[event.command_name] = dict(event.command)
            self._keys[event.request_id] = key

    def succeeded(self, event):
        self._ended(event)

    def failed(self, event):
        self._ended(event)

    def _ended(self, event):
        with self.lock:
            self.wait_us += event.duration_micros
            self.wait_us_by[self._keys.pop(event.request_id, event.command_name)] += event.duration_micros


@contextmanager
def counted_connection(settings):
    """The application's default connection, replaced for the block by one whose commands are counted."""
    counter = CommandCounter()
    uri = settings.mongodb_uri
    mongoengine.disconnect()
    mongoengine.connect(host=uri, db=parse_uri(uri).get("database") or db.DEFAULT_DB, tz_aware=True,
                        uuidRepresentation="standard", serverSelectionTimeoutMS=3000, connectTimeoutMS=3000,
                        socketTimeoutMS=300000, event_listeners=[counter])
    try:
        yield counter
    finally:
        db.connect(settings)


def per(counts: Counter, n: int) -> dict:
    """Commands per operation, most frequent first."""
    return {k: round(v / n, 2) for k, v in counts.most_common()}


def opcounters(client) -> dict:
    """SecantusDB's serverStatus opcounters (one per command received, from every client)."""
    return dict(client.admin.command("serverStatus")["opcounters"])


# -- gunicorn ---------------------------------------------------------------------------------------------------

def children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    if path.exists():
        return [int(p) for p in path.read_text().split()]
    found = []
    for entry in Path("/proc").iterdir():      # kernels without CONFIG_PROC_CHILDREN
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return found


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of one process (utime and stime of /proc/<pid>/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


class Gunicorn:
    """`gunicorn --workers 2` (sync) on a free loopback port against the test database and data dir."""

    def __init__(self, settings, workers: int = 2):
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        env = {k: v for k, v in os.environ.items() if not k.startswith("ZHANGBAN_")}
        env.update({"ZHANGBAN_MONGODB_URI": settings.mongodb_uri, "ZHANGBAN_DATA_DIR": str(settings.data_dir),
                    "ZHANGBAN_TOKEN_KEY": base64.urlsafe_b64encode(settings.token_key).decode(),
                    "ZHANGBAN_PII_KEY": base64.urlsafe_b64encode(settings.pii_key).decode(),
                    "ZHANGBAN_LOG_LEVEL": "WARNING"})
        for name in ("wechat_appid", "wechat_secret", "wechat_api_base", "submissions_per_day", "drafts_per_day",
                     "draft_bytes_per_day", "ratings_per_day", "bad_ratings_per_day", "urges_per_day"):
            if getattr(settings, name, None):
                env[f"ZHANGBAN_{name.upper()}"] = str(getattr(settings, name))
        self.process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{self.port}", "--workers", str(workers),
             "--worker-class", "sync", "--timeout", "300", "--no-control-socket", "wsgi:app"],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.workers = workers

    def wait_ready(self, seconds: float = 300) -> None:
        """Until /healthz answers and both workers are up (slow to boot on a busy 2-core machine)."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            try:
                if requests.get(self.base + "/healthz", timeout=60).ok and len(self.worker_pids()) == self.workers:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.2)
        raise RuntimeError("gunicorn did not come up")

    def worker_pids(self) -> list[int]:
        return children(self.process.pid)

    def workers_cpu(self) -> dict[int, float]:
        return {pid: cpu_seconds(pid) for pid in self.worker_pids()}

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


# -- query plans ------------------------------------------------------------------------------------------------

def explain(db, command) -> dict:
    """explain (executionStats) of a command exactly as the application sent it."""
    command = {k: v for k, v in command.items() if not k.startswith("$") and k not in ("lsid", "txnNumber")}
    try:
        out = db.command("explain", command, verbosity="executionStats")
    except Exception as exc:   # the test server may not explain every command
        return {"command": json.loads(json.dumps(command, default=str)), "error": repr(exc)}
    planner, stats = out.get("queryPlanner", {}), out.get("executionStats", {})
    winning = planner.get("winningPlan", {})
    stages = [p["stage"] + (f"({p['indexName']})" if p.get("indexName") else "") for p in _walk(winning)]
    ixscan = next((p for p in _walk(winning) if p.get("stage") == "IXSCAN"), {})
    return {"command": json.loads(json.dumps(command, default=str)), "winning_plan": " ← ".join(stages),
            "collscan": any(s.startswith("COLLSCAN") for s in stages),
            "in_memory_sort": any(s.split("(")[0] == "SORT" for s in stages),   # not SORT_MERGE
            "index": ixscan.get("keyPattern"),
            "keys_examined": stats.get("totalKeysExamined"), "docs_examined": stats.get("totalDocsExamined"),
            "returned": stats.get("nReturned"), "server_ms": stats.get("executionTimeMillis")}


def _walk(plan):
    if plan:
        yield plan
        for inner in ([plan["inputStage"]] if "inputStage" in plan else plan.get("inputStages", [])):
            yield from _walk(inner)


# -- where the CPU goes -----------------------------------------------------------------------------------------

REPO = Path(__file__).resolve().parents[2]


def cpu_shares(call, n: int, top: int = 14) -> dict:
    """Run `call` n times under cProfile with the thread's CPU clock; the project's functions (outside tests/)
    with the largest cumulative share of that CPU, in percent (the profiler's own overhead inflates absolute
    times, so only shares are reported), with calls per run."""
    import cProfile
    import pstats

    profiler = cProfile.Profile(time.thread_time)
    profiler.enable()
    for _ in range(n):
        call()
    profiler.disable()
    stats = pstats.Stats(profiler).stats
    total = max(cum for (_, _, _, cum, _) in stats.values())
    rows = []
    for (filename, line, name), (calls, _, _, cum, _) in stats.items():
        path = Path(filename)
        if path.is_absolute() and REPO in path.parents and "tests" not in path.relative_to(REPO).parts:
            rows.append((cum, f"{path.relative_to(REPO)}:{line}({name})", calls))
    rows.sort(reverse=True)
    return {where: {"cpu_share_pct": round(100 * cum / total, 1), "calls_per_run": round(calls / n, 2)}
            for cum, where, calls in rows[:top]}


def database_pid(uri: str) -> int:
    """The pid of the SecantusDB server listening on the URI's port (the test harness started it elsewhere)."""
    port = parse_uri(uri)["nodelist"][0][1]
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                argv = (entry / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if any(b"secantus" in a for a in argv[:2]) and str(port).encode() in argv:
                return int(entry.name)
    raise LookupError(f"no SecantusDB process serves port {port}")
