"""Load and soak through gunicorn on loopback (issue 14, item 3). JSON under tests/perf/results/.

- load: 50 phones at once for 60 s (ZB_LOAD_CLIENTS, ZB_LOAD_SECONDS) — 40 residents (WeChat login and refresh,
  catalogue, photo upload, submit with the photo, their applications) and 10 approvers (待办, approve) — against
  gunicorn with 2 sync workers (ZB_LOAD_WORKERS). Reported: p50/p95/p99 and statuses per route; the one
  assertion is no 5xx (not a timing).
- soak: 10 minutes (ZB_SOAK_SECONDS, 600) at a moderate load (8 phones with ~0.5 s think time); every 10 s the
  workers' RSS and open file descriptors and the database's open connections are sampled. Compared from the end
  of the first fifth (after warm-up) to the end: RSS growth ≤ 10 %, no growth in fds or connections — asserted,
  since they are counts, not times; the workers must be the same processes throughout.
Run: .venv/bin/python -m pytest tests/perf/test_load_soak.py -q -s --timeout 0
"""
from __future__ import annotations

import os
import random
import threading
import time
from pathlib import Path

from pymongo import MongoClient

from tests.conftest import bearer
from tests.perf.measure import Gunicorn
from tests.perf.report import write_result
from tests.perf.test_applications_bench import SMALL_FORM, _publish
from tests.perf.workload import Approver, Resident, Tally, drive

CLIENTS = int(os.environ.get("ZB_LOAD_CLIENTS", "50"))
LOAD_SECONDS = float(os.environ.get("ZB_LOAD_SECONDS", "60"))
WORKERS = int(os.environ.get("ZB_LOAD_WORKERS", "2"))
SOAK_SECONDS = float(os.environ.get("ZB_SOAK_SECONDS", "600"))
SOAK_CLIENTS = 8
FORM = {**SMALL_FORM, "required": ["name", "photo"], "properties": {
    **SMALL_FORM["properties"], "photo": {"type": "string", "x-ui": {"widget": "photo", "label": "照片"}}}}


def _setup(app, client, make_staff, make_department, approvers: int):
    department = make_department("load", "压测局")
    _publish(app, client, make_staff, department, FORM, [("load", department["id"])])
    tokens = []
    for i in range(approvers):
        make_staff(f"load-approver{i}", [{"role": "approver", "department_id": department["id"]}])
        r = client.post("/api/v1/auth/login", json={"username": f"load-approver{i}",
                                                    "password": "correct horse battery"})
        tokens.append(r.json)
    return tokens


def _phones(base, tally, fake_wechat, approver_tokens, residents):
    rnd = random.Random(14)
    phones = [Resident(base, tally, random.Random(rnd.random()), fake_wechat, "load") for _ in range(residents)]
    phones += [Approver(base, tally, random.Random(rnd.random()), t) for t in approver_tokens]
    return phones


def test_fifty_phones_for_a_minute(app, client, settings, make_staff, make_department, fake_wechat):
    approvers = max(1, CLIENTS // 5)
    tokens = _setup(app, client, make_staff, make_department, approvers)
    server = Gunicorn(settings, workers=WORKERS)
    try:
        server.wait_ready()
        drive(_phones(server.base, Tally(), fake_wechat, tokens[:1], 2), 5)    # warm-up: imports, caches
        tally = Tally()
        cpu0 = server.workers_cpu()
        wall = drive(_phones(server.base, tally, fake_wechat, tokens, CLIENTS - approvers), LOAD_SECONDS)
        cpu1 = server.workers_cpu()
    finally:
        server.stop()
    routes = tally.summary()
    requests_done = sum(r["n"] for r in routes.values())
    write_result("load_fifty_phones", {
        "clients": CLIENTS, "residents": CLIENTS - approvers, "approvers": approvers, "gunicorn_sync_workers": WORKERS,
        "seconds": round(wall, 1), "requests": requests_done, "requests_per_s": round(requests_done / wall, 1),
        "server_errors_5xx": tally.server_errors(), "client_errors": dict(tally.client_errors),
        "worker_cpu_s": round(sum(cpu1.values()) - sum(cpu0.values()), 1),
        "workers_restarted": set(cpu0) != set(cpu1),
        "routes": routes,
        "note": "loopback; the 50 phones are threads of the test process, which shares the 2 cores with gunicorn "
                "and SecantusDB; latencies include queueing behind 2 sync workers",
    })
    assert tally.server_errors() == 0, {r: s["status"] for r, s in routes.items()}


def _sample(server: Gunicorn, mongo: MongoClient) -> dict:
    workers = {}
    for pid in server.worker_pids():
        status = Path(f"/proc/{pid}/status").read_text()
        rss_kb = int(next(line for line in status.splitlines() if line.startswith("VmRSS:")).split()[1])
        workers[pid] = {"rss_kb": rss_kb, "fds": len(os.listdir(f"/proc/{pid}/fd"))}
    connections = mongo.admin.command("serverStatus").get("connections", {}).get("current")
    return {"t": round(time.monotonic(), 1), "workers": workers, "db_connections": connections}


def test_ten_minute_soak(app, client, settings, make_staff, make_department, fake_wechat):
    tokens = _setup(app, client, make_staff, make_department, 2)
    server = Gunicorn(settings, workers=WORKERS)
    mongo = MongoClient(settings.mongodb_uri, serverSelectionTimeoutMS=5000)
    samples, stop = [], threading.Event()

    def sampler():
        while not stop.wait(10):
            samples.append(_sample(server, mongo))

    try:
        server.wait_ready()
        tally = Tally()
        drive(_phones(server.base, tally, fake_wechat, tokens[:1], 2), 10)     # warm-up
        samples.append(_sample(server, mongo))
        watcher = threading.Thread(target=sampler, daemon=True)
        watcher.start()
        wall = drive(_phones(server.base, tally, fake_wechat, tokens, SOAK_CLIENTS - 2), SOAK_SECONDS, think_s=0.5)
        stop.set()
        watcher.join(30)
        samples.append(_sample(server, mongo))
    finally:
        stop.set()
        server.stop()
        mongo.close()
    base = samples[max(1, len(samples) // 5)]          # after the first fifth: caches and pools are warm
    last = samples[-1]
    same_workers = set(base["workers"]) == set(last["workers"])
    growth = {pid: {"rss_growth_pct": round(100 * (last["workers"][pid]["rss_kb"] / w["rss_kb"] - 1), 1),
                    "fds": [w["fds"], last["workers"][pid]["fds"]]}
              for pid, w in base["workers"].items() if pid in last["workers"]}
    result = {
        "seconds": round(wall, 1), "clients": SOAK_CLIENTS, "think_s": 0.5, "requests": sum(
            r["n"] for r in tally.summary().values()), "server_errors_5xx": tally.server_errors(),
        "same_workers_throughout": same_workers, "workers": growth,
        "db_connections": [base["db_connections"], last["db_connections"]],
        "rss_kb_series": {str(pid): [s["workers"].get(pid, {}).get("rss_kb") for s in samples]
                          for pid in last["workers"]},
        "fds_series": {str(pid): [s["workers"].get(pid, {}).get("fds") for s in samples] for pid in last["workers"]},
        "db_connections_series": [s["db_connections"] for s in samples],
        "routes": tally.summary(),
    }
    write_result("soak", result)
    assert tally.server_errors() == 0
    assert same_workers, "a worker was restarted during the soak"
    for pid, g in growth.items():
        assert g["rss_growth_pct"] <= 10, growth
        assert g["fds"][1] <= g["fds"][0], growth
    assert last["db_connections"] <= base["db_connections"], result["db_connections"]
