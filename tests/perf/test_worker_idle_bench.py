"""What the worker costs when nothing is due, as the data grows (issue 27, item 1): an idle round's database
commands, the database server's CPU per round and per second of idling, at several sizes of the database.

One real case is submitted and approved twice (both departments), the worker settles it, then its application,
process instance and inbox rows are copied (insert_many, due marks removed) up to each size in turn. At each size
the worker's rounds run in-process with nothing due, with its scheduled jobs as `zhangban worker` has them; the
SecantusDB server's CPU comes from /proc (it is another process). "Idle CPU per second" is a round's CPU (the
worker's thread and the database server) divided by the worker's pause between idle rounds, plus the database
server's own CPU while nobody asks it anything. Reported, never asserted. Writes tests/perf/results/worker_idle.json.
Knobs: ZB_BENCH_IDLE_SIZES (comma-separated application counts, default "100,5500"; the issue's figure is 100000),
ZB_BENCH_IDLE_ROUNDS (20).
Run: .venv/bin/python -m pytest tests/perf/test_worker_idle_bench.py -q -s --timeout 0
"""
from __future__ import annotations

import os
import time

from bson import ObjectId

from core import clock
from tests.applications_fixtures import case  # noqa: F401 — the fixture
from tests.perf.measure import counted_connection, cpu_seconds, database_pid, per
from tests.perf.report import percentiles, write_result

SIZES = [int(s) for s in os.environ.get("ZB_BENCH_IDLE_SIZES", "100,5500").split(",")]
ROUNDS = int(os.environ.get("ZB_BENCH_IDLE_ROUNDS", "20"))
QUIET_SECONDS = 5.0        # the database server alone, nobody asking
# what each copy changes so the collections' unique indexes hold
UNIQUE = {"applications": lambda i: {"number": f"ZBCOPY{i:010d}", "idempotency_key": None},
          "instances": lambda i: {"application_id": ObjectId()},
          "tasks": lambda i: {"instance_id": ObjectId(), "application_id": ObjectId()}}
DUE_MARKS = ("stats_due_at", "documents_due_at", "deferred_due_at", "next_timer_at", "remind_at", "lease_until")


def _worker():
    from api.cli import scheduled_jobs
    from api.runtime import runtime
    from workflows.cases.notify import delivery
    from workflows.cases.worker import Worker

    rt = runtime()
    return Worker(None, policy=delivery.Policy.from_settings(rt.settings), batch=rt.settings.worker_batch,
                  idle_seconds=rt.settings.worker_idle_seconds, scheduled=scheduled_jobs(rt.store))


def _settle(worker, rounds=30):
    for _ in range(rounds):
        if not worker.run_round().busy:
            return
    raise AssertionError("the worker kept finding work")


def _grow(collections, templates, size, have):
    """Copies of the settled case up to `size` applications (with one instance and two inbox rows each)."""
    for start in range(have, size, 1000):
        n = min(1000, size - start)
        for name, template in templates.items():
            copies = []
            for i in range(start, start + n):
                doc = {key: value for key, value in template.items() if key not in DUE_MARKS}
                doc.update(_id=ObjectId(), **UNIQUE[name](i))
                copies.append(doc)
            collections[name].insert_many(copies, ordered=False)


def test_idle_rounds_as_the_data_grows(app, settings, case):  # noqa: F811
    from workflows.bpmn.models import Instance
    from workflows.cases.applications.models import Application
    from workflows.cases.tasks.models import HumanTask

    submitted = case.submit()
    for approver in (case.civil_1, case.housing_1):
        case.act(approver, case.todo(approver)[0])
    worker = _worker()
    _settle(worker)
    assert case.application(submitted["id"])["status"] == "approved"

    def collections():      # read again after each counted block: it reconnects the app's client
        return {"applications": Application._get_collection(), "instances": Instance._get_collection(),
                "tasks": HumanTask._get_collection()}

    app_id = ObjectId(submitted["id"])
    found = collections()
    templates = {"applications": found["applications"].find_one({"_id": app_id}),
                 "instances": found["instances"].find_one({"application_id": app_id}),
                 "tasks": found["tasks"].find_one({"application_id": app_id})}
    assert all(templates.values()), templates
    db_pid = database_pid(settings.mongodb_uri)
    try:
        sizes = _measure(worker, settings, db_pid, collections, templates)
    finally:
        for collection in collections().values():
            collection.drop()               # the per-test delete_many of 100,000 documents would time out
        for model in (Application, Instance, HumanTask):
            model.ensure_indexes()
    write_result("worker_idle", {
        "idle_seconds": worker.idle_seconds, "rounds": ROUNDS, "at": clock.now().isoformat(), "sizes": sizes,
        "goal": "a round with nothing due costs O(1) index-only commands; idle CPU <= 20 ms per s at 100,000 "
                "applications",
        "note": "in-process worker rounds against the test SecantusDB; database CPU from /proc of its process",
    })


def _measure(worker, settings, db_pid, collections, templates) -> list:
    sizes, have = [], 1
    for size in SIZES:
        _grow(collections(), templates, size, have)
        have = max(have, size)
        _settle(worker)
        quiet0 = cpu_seconds(db_pid)
        time.sleep(QUIET_SECONDS)
        quiet_ms_per_s = (cpu_seconds(db_pid) - quiet0) * 1000 / QUIET_SECONDS
        walls, thread_cpu, db_cpu = [], [], []
        with counted_connection(settings) as counter:
            worker.run_round()      # the new connection's first round builds no index in production: not counted
            counter.reset()
            for _ in range(ROUNDS):
                db0, t0, w0 = cpu_seconds(db_pid), time.thread_time(), time.perf_counter()
                result = worker.run_round()
                walls.append(time.perf_counter() - w0)
                thread_cpu.append(time.thread_time() - t0)
                db_cpu.append(cpu_seconds(db_pid) - db0)
                assert not result.busy, result
            commands, waits = counter.counts.copy(), counter.wait_us_by.copy()
        round_cpu_ms = (sum(thread_cpu) + sum(db_cpu)) * 1000 / ROUNDS
        sizes.append({
            "applications": collections()["applications"].estimated_document_count(),
            "inbox_rows": collections()["tasks"].estimated_document_count(),
            "round_wall": percentiles([w * 1000 for w in walls]),
            "commands_per_round": round(sum(commands.values()) / ROUNDS, 2),
            "commands_by_name_per_round": per(commands, ROUNDS),
            "database_wait_ms_by_name_per_round": {k: round(v / 1000 / ROUNDS, 2) for k, v in waits.most_common()},
            "worker_cpu_per_round_ms": round(sum(thread_cpu) * 1000 / ROUNDS, 2),
            "database_cpu_per_round_ms": round(sum(db_cpu) * 1000 / ROUNDS, 2),
            "database_alone_ms_per_s": round(quiet_ms_per_s, 1),
            "idle_cpu_ms_per_s": round(round_cpu_ms / worker.idle_seconds + quiet_ms_per_s, 1),
        })
        print(f"\nidle worker at {size} applications: {sizes[-1]}", flush=True)
    return sizes
