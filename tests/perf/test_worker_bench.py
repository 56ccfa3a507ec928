"""One `zhangban worker` process fires 10,000 due timers: how long it takes, and the rate along the way.

10,000 instances of a published process (start → intermediate timer → script → end) wait on a timer already due:
one is started through the engine, the rest are copies of its document (insert_many). Then one real worker
process runs until every instance has completed. Each firing is a claim (a conditional write with a lease), the
engine's restore/fire/serialize, the conditional state write and an audit record. Reported, never asserted.
Writes tests/perf/results/worker_timers.json. ZB_BENCH_TIMERS changes the count.
"""
from __future__ import annotations

import os
import signal
import threading
import time

import pytest
from bson import ObjectId
from pymongo.errors import PyMongoError

from core.actor import Actor
from tests.perf.report import write_result
from tests.test_worker import publish_waiting
from tests.worker_processes import start_worker, stop_all, worker_env
from workflows.bpmn import instances
from workflows.bpmn.models import Instance

TIMERS = int(os.environ.get("ZB_BENCH_TIMERS", "10000"))
LIMIT = 3600        # seconds: the benchmark stops here and reports what it reached


@pytest.mark.timeout(LIMIT + 600)
def test_one_worker_fires_10000_due_timers(app, settings):
    with app.app_context():
        version = publish_waiting("PT1S")
        first = instances.start(Actor.system(), version, {})
        template = Instance._get_collection().find_one({"_id": first.id})
        collection = Instance._get_collection()
        for offset in range(0, TIMERS - 1, 1000):
            collection.insert_many([{**template, "_id": ObjectId()} for _ in range(min(1000, TIMERS - 1 - offset))])
        assert collection.count_documents({"key": "wait_then_mark"}) == TIMERS
        time.sleep(1.5)                                        # every timer is due now

        worker = start_worker(worker_env(settings, WORKER_BATCH=100))
        try:
            line = ""
            while "started" not in line:
                line = worker.stderr.readline()
                assert line, "the worker did not start"
            # keep reading its log: a full stderr pipe blocks the worker at its next log line (a run on a machine
            # at load 40 logged timeouts with tracebacks and stopped firing at 3,220 for its last half hour)
            log_lines: list[str] = []
            reader = threading.Thread(target=lambda: log_lines.extend(worker.stderr), daemon=True)
            reader.start()
            began, samples, done = time.monotonic(), [], 0
            while done < TIMERS and time.monotonic() - began < LIMIT:
                time.sleep(2)
                try:   # only these instances are in the database: the status index answers it
                    done = collection.count_documents({"status": "completed"})
                except PyMongoError:
                    continue    # a sample lost on a busy server (the socket timeout): the next one counts
                samples.append((round(time.monotonic() - began, 1), done))
            elapsed = time.monotonic() - began
            worker.send_signal(signal.SIGTERM)
            worker.wait(timeout=120)
            reader.join(timeout=10)
        finally:
            stop_all([worker])
        not_once = sum(1 for doc in collection.find({"key": "wait_then_mark"}, {"path": 1})
                       if [p["element_id"] for p in doc["path"]].count("wait") != 1)

    progress = [samples[i] for i in range(0, len(samples), 5)] + samples[-1:]   # (seconds, fired) every ~10 s
    write_result("worker_timers", {
        "timers": TIMERS, "fired": done, "seconds": round(elapsed, 1), "per_second": round(done / elapsed, 1),
        "load_average_1_5_15_min_at_end": [round(x, 1) for x in os.getloadavg()],
        "progress_seconds_fired": progress, "not_fired_exactly_once": not_once, "workers": 1, "batch": 100,
        "worker_log_errors": sum(1 for line in log_lines if "ERROR" in line or "Traceback" in line),
        "note": "one real `zhangban worker` process; each firing = claim (lease) + restore/fire/serialize + "
                "conditional write + audit record; SecantusDB --standalone on the same 2-core machine"})


COUNTED = int(os.environ.get("ZB_BENCH_COUNTED_TIMERS", "300"))


def test_database_commands_per_fired_timer(app, settings):
    """In-process, with the commands counted: the rounds a worker runs (claim, fire, audit, seal, reminders,
    notifications) over COUNTED due timers, per timer and by command and collection. Writes
    tests/perf/results/worker_commands.json."""
    from tests.perf.measure import counted_connection, per
    from workflows.cases.worker import Worker

    with app.app_context():
        version = publish_waiting("PT1S")
        first = instances.start(Actor.system(), version, {})
        template = Instance._get_collection().find_one({"_id": first.id})
        Instance._get_collection().insert_many([{**template, "_id": ObjectId()} for _ in range(COUNTED - 1)])
        time.sleep(1.5)                                        # every timer is due now
        worker = Worker(batch=100)
        with counted_connection(settings) as counter:
            began, cpu_began, rounds = time.monotonic(), time.process_time(), 0
            while Instance.objects(key="wait_then_mark", status__ne="completed").count() and rounds < 50:
                worker.run_round()
                rounds += 1
            elapsed, cpu = time.monotonic() - began, time.process_time() - cpu_began
        fired = Instance.objects(key="wait_then_mark", status="completed").count()
    write_result("worker_commands", {
        "timers": COUNTED, "fired": fired, "rounds": rounds, "seconds": round(elapsed, 2),
        "per_second": round(fired / elapsed, 1), "cpu_ms_per_timer": round(1000 * cpu / max(fired, 1), 2),
        "db_wait_ms_per_timer": round(counter.wait_us / 1000 / max(fired, 1), 2),
        "commands_per_timer": round(counter.total / max(fired, 1), 2),
        "by_command": per(counter.counts, max(fired, 1)),
        "db_wait_ms_per_timer_by_command": {k: round(v / 1000 / max(fired, 1), 2)
                                            for k, v in counter.wait_us_by.most_common()},
        "note": "in-process Worker.run_round() until every timer fired; the count loop's own count_documents "
                "are included (one per round)"})
