"""Applications and the approver inbox (issue 9, item 7): start+approve pairs, the inbox first page at 100,000
open tasks, a submit of a 100-field form with 3 photos. Reports JSON under tests/perf/results/; never fails on
timing.

How each figure is taken:
- pairs over HTTP: gunicorn, 2 sync workers, on a free loopback port against the test SecantusDB; 4 client
  threads each do submit (resident) → first page of 待办 (its approver: the client needs the task's id) →
  complete (approve). pairs/s is wall-clock; the app's CPU per pair is the CPU time (utime + stime from
  /proc/<pid>/stat) of the two worker processes over the run ÷ pairs.
- database commands: counted in-process (Flask test client, the same requests) by a pymongo CommandListener on a
  dedicated MongoClient that replaces the app's connection for the measurement (tests/perf/measure.py); the
  gunicorn run is cross-checked with SecantusDB's serverStatus opcounters (which also count driver heartbeats).
- "app CPU" in-process is the request thread's CPU time (time.thread_time): Python and driver work, without the
  wait for the database (SecantusDB is another process).
Knobs: ZB_BENCH_PAIRS (100), ZB_BENCH_INBOX_TASKS (100000), ZB_BENCH_INBOX_ROUNDS (3), ZB_BENCH_SUBMITS (60).
Run: .venv/bin/python -m pytest tests/perf/test_applications_bench.py -q -s --timeout 0
"""
from __future__ import annotations

import io
import json
import itertools
import os
import random
import threading
import time
import uuid
from collections import Counter, defaultdict
from datetime import timedelta

import requests
from bson import ObjectId
from PIL import Image
from pymongo import MongoClient

from core import clock
from core.db import database
from tests.applications_fixtures import REVIEW_FORM, publish_form, publish_process, publish_service
from tests.forms_fixtures import bench_form
from tests.perf.measure import (Gunicorn, counted_connection, cpu_seconds, cpu_shares, database_pid, explain,
                                opcounters, per)
from tests.perf.report import percentiles, write_result
from tests.storage_fixtures import jpeg

PAIRS = int(os.environ.get("ZB_BENCH_PAIRS", "100"))
INBOX_TASKS = int(os.environ.get("ZB_BENCH_INBOX_TASKS", "100000"))
INBOX_ROUNDS = int(os.environ.get("ZB_BENCH_INBOX_ROUNDS", "3"))
SUBMITS = int(os.environ.get("ZB_BENCH_SUBMITS", "60"))
CLIENTS = 4
PROFILED = 10         # runs under cProfile (thread CPU clock) for the CPU shares by function
TIMEOUT = 300          # generous: the test server is slow; a benchmark must not fail on a busy machine

# start → one user task (in a role lane: it goes to the service's department) → end, as the peer figure
ONE_TASK = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core" id="d" targetNamespace="http://z.example">
  <bpmn:collaboration id="c"><bpmn:participant id="p" processRef="bench_one" /></bpmn:collaboration>
  <bpmn:process id="bench_one" name="一步审批" isExecutable="true">
    <bpmn:laneSet id="ls"><bpmn:lane id="l_approver" name="approver"><bpmn:flowNodeRef>start</bpmn:flowNodeRef>
      <bpmn:flowNodeRef>approve</bpmn:flowNodeRef><bpmn:flowNodeRef>end</bpmn:flowNodeRef></bpmn:lane></bpmn:laneSet>
    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:userTask id="approve" name="审批">
      <bpmn:extensionElements><spiffworkflow:properties>
        <spiffworkflow:property name="formKey" value="review" /></spiffworkflow:properties></bpmn:extensionElements>
      <bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing></bpmn:userTask>
    <bpmn:endEvent id="end"><bpmn:incoming>f2</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="approve" />
    <bpmn:sequenceFlow id="f2" sourceRef="approve" targetRef="end" />
  </bpmn:process>
</bpmn:definitions>
"""
SMALL_FORM = {"type": "object", "title": "申请", "required": ["name"], "properties": {
    "name": {"type": "string", "maxLength": 50, "x-ui": {"widget": "text", "label": "姓名"}},
    "months": {"type": "integer", "minimum": 0, "x-ui": {"widget": "integer", "label": "居住月数"}}}}


def _publish(app, client, make_staff, department, apply_form, services):
    """Forms, the one-task process and one service per (code, department id) in `services`."""
    _, designer = make_staff("bench-designer", [{"role": "designer", "department_id": department["id"]}])
    _, admin = make_staff("bench-admin", [{"role": "admin"}])      # binds one department's form to every service
    publish_form(client, designer, department["id"], "bench_apply", apply_form)
    publish_form(client, designer, department["id"], "review", REVIEW_FORM)
    publish_process(client, designer, department["id"], "bench_one", ONE_TASK)
    for code, department_id in services:
        publish_service(client, admin, code, department_id, "bench_apply", "bench_one",
                        name=f"基准事项 {code}")


class Tally:
    """Per request kind: the app thread's CPU, wall time, database wait and commands."""

    def __init__(self, counter):
        self.counter = counter
        self.cpu, self.wall, self.db = defaultdict(list), defaultdict(list), defaultdict(list)
        self.commands: dict[str, Counter] = defaultdict(Counter)
        self.n: Counter = Counter()

    def __call__(self, kind, call, keep=True):
        before, wait0 = self.counter.counts.copy(), self.counter.wait_us
        cpu0, wall0 = time.thread_time(), time.perf_counter()
        result = call()
        cpu, wall = (time.thread_time() - cpu0) * 1000, (time.perf_counter() - wall0) * 1000
        if keep:
            self.cpu[kind].append(cpu)
            self.wall[kind].append(wall)
            self.db[kind].append((self.counter.wait_us - wait0) / 1000)
            self.commands[kind] += self.counter.counts - before
            self.n[kind] += 1
        return result

    def summary(self, kind) -> dict:
        return {"app_cpu": percentiles(self.cpu[kind]), "wall": percentiles(self.wall[kind]),
                "db_wait": percentiles(self.db[kind]),
                "commands": round(sum(self.commands[kind].values()) / self.n[kind], 2),
                "commands_by_name": per(self.commands[kind], self.n[kind])}


def _ok(response, status=200):
    assert response.status_code == status, (response.status_code, response.get_data(as_text=True)[:500])
    return response.json


# -- 1. start + approve pairs -----------------------------------------------------------------------------------

def _pair_in_process(client, tally, resident, approver, code, keep):
    body = {"service_code": code, "data": {"name": "张三", "months": 12}, "submit": True}
    tally("submit", lambda: _ok(client.post("/api/v1/applications", json=body, headers=resident), 201), keep)
    page = tally("inbox_page", lambda: _ok(client.get("/api/v1/tasks", headers=approver)), keep)
    [task] = page["items"]
    tally("complete", lambda: _ok(client.post(f"/api/v1/tasks/{task['id']}/complete", headers=approver,
                                              json={"version": task["version"], "decision": "approve"})), keep)


def _pair_over_http(http, base, resident, approver, code):
    r = http.post(base + "/api/v1/applications", json={"service_code": code, "data": {"name": "张三", "months": 12},
                                                       "submit": True}, headers=resident, timeout=TIMEOUT)
    assert r.status_code == 201, r.text[:500]
    r = http.get(base + "/api/v1/tasks", headers=approver, timeout=TIMEOUT)
    assert r.status_code == 200, r.text[:500]
    [task] = r.json()["items"]
    r = http.post(base + f"/api/v1/tasks/{task['id']}/complete", headers=approver, timeout=TIMEOUT,
                  json={"version": task["version"], "decision": "approve"})
    assert r.status_code == 200, r.text[:500]


def test_start_approve_pairs(app, client, settings, make_staff, make_department, resident_login):
    from tests.conftest import bearer
    from workflows.cases.applications.models import Application

    departments = [make_department(f"bench{i}", f"基准部门{i}") for i in range(CLIENTS)]
    _publish(app, client, make_staff, departments[0], SMALL_FORM,
             [(f"bench{i}", d["id"]) for i, d in enumerate(departments)])
    approvers = [make_staff(f"approver{i}", [{"role": "approver", "department_id": d["id"]}])[1]
                 for i, d in enumerate(departments)]
    residents = [bearer(resident_login()["access_token"]) for _ in range(CLIENTS)]

    # in-process, one client: commands and the request thread's CPU per request kind
    in_process = max(20, PAIRS // 10)
    with counted_connection(settings) as counter:
        tally = Tally(counter)
        for i in range(in_process + 3):
            if i == 3:
                ops_in0 = opcounters(database().client)
            _pair_in_process(client, tally, residents[0], approvers[0], "bench0", keep=i >= 3)
        ops_in = {k: v - ops_in0[k] for k, v in opcounters(database().client).items()}
        ops_in["command"] -= 1                       # the second serverStatus itself
        overhead = _driver_overhead()
        shares = cpu_shares(lambda: _pair_in_process(client, tally, residents[0], approvers[0], "bench0", False),
                            PROFILED)
    kinds = ("submit", "inbox_page", "complete")
    commands = Counter()
    for kind in kinds:
        commands += tally.commands[kind]

    server = Gunicorn(settings)
    try:
        server.wait_ready()
        sessions = [requests.Session() for _ in range(CLIENTS)]
        for i in range(CLIENTS):                      # warm-up: imports, caches, connections in both workers
            for _ in range(3):
                _pair_over_http(sessions[i], server.base, residents[i], approvers[i], f"bench{i}")
        admin = database().client
        ticket, latencies, errors, lock = itertools.count(), [], [], threading.Lock()

        def run(i):
            try:
                while next(ticket) < PAIRS:
                    t = time.perf_counter()
                    _pair_over_http(sessions[i], server.base, residents[i], approvers[i], f"bench{i}")
                    with lock:
                        latencies.append((time.perf_counter() - t) * 1000)
            except Exception as exc:   # reported below; the other clients finish
                errors.append(repr(exc))

        threads = [threading.Thread(target=run, args=(i,)) for i in range(CLIENTS)]
        db_pid = database_pid(settings.mongodb_uri)
        cpu0, ops0, wall0 = server.workers_cpu(), opcounters(admin), time.perf_counter()
        db_cpu0 = cpu_seconds(db_pid)
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        wall, cpu1, ops1 = time.perf_counter() - wall0, server.workers_cpu(), opcounters(admin)
        db_cpu = cpu_seconds(db_pid) - db_cpu0
    finally:
        server.stop()
    assert not errors, errors[:3]
    assert set(cpu0) == set(cpu1), "a gunicorn worker was restarted during the run"
    pairs = len(latencies)
    worker_cpu = sum(cpu1.values()) - sum(cpu0.values())
    ops = {k: ops1[k] - ops0[k] for k in ops1}
    ops["command"] -= 1                              # the second serverStatus itself
    with app.app_context():
        approved = Application.objects(status="approved").count()
    assert approved == in_process + 3 + PROFILED + CLIENTS * 3 + pairs
    worker = _worker_share(app, settings)

    cpu_per_pair = worker_cpu * 1000 / pairs
    per_pair = {"app_cpu_p50_ms_sum": round(sum(tally.summary(k)["app_cpu"]["p50_ms"] for k in kinds), 2),
                "db_wait_p50_ms_sum": round(sum(tally.summary(k)["db_wait"]["p50_ms"] for k in kinds), 2),
                "commands": round(sum(commands.values()) / in_process, 2),
                "commands_by_name": per(commands, in_process),
                "server_opcounters": {k: round(v / in_process, 2) for k, v in ops_in.items() if v}}
    write_result("applications_pairs", {
        "bpmn": "start → one user task (lane) → end", "clients": CLIENTS,
        "pair": "POST /applications (submit) + GET /tasks (the approver's first 待办 page, 20 a page: it holds "
                "just this task, so it is its own total and no count is sent) + POST /tasks/{id}/complete (approve)",
        "gunicorn_2_sync_workers": {
            "pairs": pairs, "wall_s": round(wall, 2), "pairs_per_s": round(pairs / wall, 2),
            "pair_latency": percentiles(latencies),
            "app_cpu_ms_per_pair": round(cpu_per_pair, 2),
            "database_server_cpu_ms_per_pair": round(db_cpu * 1000 / pairs, 2),
            # the app's workers and the database server during the run, and what the worker later does per case
            "all_processes_cpu_ms_per_pair": round(cpu_per_pair + db_cpu * 1000 / pairs + sum(
                part["cpu_ms_per_case"] + part["database_cpu_ms_per_case"] for part in worker.values()), 2),
            "app_cpu_ms_per_pair_goal": 15,
            "pairs_per_s_on_2_cores_if_only_app_cpu": round(2000 / cpu_per_pair, 1),
            "server_opcounters_per_pair": {k: round(v / pairs, 2) for k, v in ops.items() if v},
            "commands_per_pair_beyond_in_process": round((sum(ops.values()) - sum(ops_in.values()) * pairs
                                                          / in_process) / pairs, 2),
            "note": "CPU = utime+stime of both gunicorn worker processes over the run ÷ pairs; opcounters are the "
                    "server's (all clients, driver heartbeats and connection handshakes included)"},
        "in_process_per_pair": {**per_pair, "pairs": in_process, "commands_goal": 12,
                                "note": "Flask test client, one client; commands by a CommandListener on a "
                                        "dedicated MongoClient; app CPU = request thread CPU time"},
        "in_process_by_request": {k: tally.summary(k) for k in kinds},
        "worker_per_case": worker,
        "cpu_per_read_by_api": overhead,
        "cpu_share_by_function_in_process": shares,
    })


def _worker_share(app, settings) -> dict:
    """What the background worker then does for these cases, off the requests: move in the audit records and
    messages they carry (core/deferred.py), add them to the statistics (both in batches of up to 500) and make the
    result documents of a sample of them (PDF, write-once object, licence)."""
    from core import deferred
    from workflows.cases.applications.models import Application
    from workflows.cases.materials import results
    from workflows.cases.stats import rollups

    db_pid = database_pid(settings.mongodb_uri)
    out = {}
    with app.app_context(), counted_connection(settings) as counter:
        carrying = Application.objects(__raw__=deferred.due_query()).count()

        def move_all():          # every application carrying records, in batches of up to 500
            while deferred.deliver():
                pass
            return carrying

        for name, step in (("audit_records_and_messages", move_all),
                           ("statistics", lambda: rollups.flush_due()),
                           ("result_documents", lambda: results.issue_due(app.extensions["zhangban"].store,
                                                                          limit=30))):
            before, cpu0, cases = counter.counts.copy(), time.thread_time(), 0
            db_cpu0 = cpu_seconds(db_pid)
            while True:
                done = step()
                cases += done
                if not done or name != "statistics":
                    break
            commands = counter.counts - before
            commands = Counter({k: v for k, v in commands.items() if not k.startswith(("createIndexes", "endSess"))})
            n = max(cases, 1)
            out[name] = {"cases": cases, "cpu_ms_per_case": round((time.thread_time() - cpu0) * 1000 / n, 2),
                         "database_cpu_ms_per_case": round((cpu_seconds(db_pid) - db_cpu0) * 1000 / n, 2),
                         "commands_per_case": round(sum(commands.values()) / n, 2),
                         "commands_by_name": per(commands, n)}
    return out


def _driver_overhead(n=300):
    """The request thread's CPU for one read by _id, by the API that sends it (the database wait excluded):
    most of a pair's CPU is spent around its ~40 commands."""
    from workflows.cases.tasks.models import HumanTask

    oid = HumanTask.objects.only("id").first().id
    collection = HumanTask._get_collection()
    ways = {"mongoengine_objects_first": lambda: HumanTask.objects(id=oid).first(),
            "mongoengine_only_first": lambda: HumanTask.objects(id=oid).only("status", "version").first(),
            "pymongo_find_one": lambda: collection.find_one({"_id": oid}),
            "pymongo_find_one_projected": lambda: collection.find_one({"_id": oid}, {"status": 1, "version": 1})}
    out = {}
    for name, read in ways.items():
        for _ in range(20):
            read()
        cpu0 = time.thread_time()
        for _ in range(n):
            read()
        out[name + "_ms"] = round((time.thread_time() - cpu0) * 1000 / n, 3)
    return out


# -- 2. the inbox first page at 100,000 open tasks --------------------------------------------------------------

def _rows(count, mine, departments, user_id, now, rnd):
    """Open human_tasks rows: the first `mine` in the approver's groups (60 % department A, 30 % B, 10 % claimed
    by the approver), the rest spread over 48 other departments."""
    others = [str(ObjectId()) for _ in range(48)]
    for i in range(count):
        if i < mine:
            slot = i % 10
            department = departments[0] if slot < 6 or slot == 9 else departments[1]
            audience = f"user:{user_id}" if slot == 9 else f"dept:{department}"
        else:
            department = rnd.choice(others)
            audience = f"dept:{department}"
        yield {"task_id": str(uuid.UUID(int=rnd.getrandbits(128))), "instance_id": ObjectId(),
               "application_id": ObjectId(), "application_number": f"ZB{i:013d}", "applicant_name": "张*",
               "service_code": "residence", "service_name": "居住证申领", "element_id": "review",
               "name": "受理审核", "lane": "civil", "candidate_departments": [department], "candidate_users": [],
               "assignee": user_id if audience.startswith("user:") else None, "audience": [audience],
               "form_key": "review", "form_version": 1, "status": "open", "priority": 0,
               "due_at": now + timedelta(minutes=rnd.randint(-10 * 1440, 30 * 1440)),
               "created_at": now - timedelta(minutes=rnd.randint(0, 30 * 1440)), "completed_at": None,
               "completed_by": None, "outcome": None, "version": 1}


def _inbox_rounds(client, settings, approver, mine):
    from api.identity.service import authenticate
    from workflows.cases.tasks import service as tasks
    from workflows.cases.tasks.access import audience
    from workflows.cases.tasks.models import HumanTask

    actor = authenticate(settings, approver["Authorization"].split()[1])
    page = "/api/v1/tasks?page_size=20&sort=due"
    # what the list was before it was read in windows: one sorted query over the approver's groups
    one_query = {"find": HumanTask._get_collection_name(), "filter": {
        "status": "open", "audience": {"$in": audience(actor)}, "recused": {"$ne": actor.user_id}},
        "sort": {"due_at": 1, "created_at": 1}, "limit": 20}
    with counted_connection(settings) as counter:
        tally = Tally(counter)
        first = _ok(client.get(page, headers=approver))
        assert first["total_capped"] and len(first["items"]) == 20
        assert first["items"] == sorted(first["items"], key=lambda t: t["due_at"])
        window = dict(counter.last["find"])      # the last window the page read
        counts = _ok(client.get("/api/v1/tasks/counts", headers=approver))
        assert counts["todo"] == counts["cap"] == 100          # 99+
        raw = HumanTask._get_collection()
        for i in range(INBOX_ROUNDS + 1):
            tally("http_page", lambda: _ok(client.get(page, headers=approver)), i > 0)
            tally("http_counts", lambda: _ok(client.get("/api/v1/tasks/counts", headers=approver)), i > 0)
            tally("service_page", lambda: tasks.inbox_page(actor, "todo", page=1, page_size=20), i > 0)
            tally("one_sorted_query", lambda: list(raw.find(one_query["filter"], sort=list(one_query["sort"].items()),
                                                            limit=20)), i > 0)
        plans = {"window": explain(raw.database, window), "one_sorted_query": explain(raw.database, one_query)}
    return tally, window, plans


def test_inbox_first_page(app, client, settings, make_staff, make_department):
    from workflows.cases.tasks.models import HumanTask

    a, b = make_department("inboxa", "甲局"), make_department("inboxb", "乙局")
    user, approver = make_staff("inbox-approver", [{"role": "approver", "department_id": a["id"]},
                                                   {"role": "approver", "department_id": b["id"]}])
    mine = INBOX_TASKS // 10
    # a client of our own without the app's 30 s socket timeout: loading and dropping 100,000 rows is slow here
    loader = MongoClient(settings.mongodb_uri, tz_aware=True, uuidRepresentation="standard")
    collection = loader.get_default_database()[HumanTask._get_collection_name()]
    rnd, now, batch = random.Random(9), clock.now(), []
    try:
        collection.drop()                            # load without indexes, then build them: faster here
        load0 = time.perf_counter()
        for row in _rows(INBOX_TASKS, mine, (a["id"], b["id"]), str(user.id), now, rnd):
            batch.append(row)
            if len(batch) == 5000:
                collection.insert_many(batch, ordered=False)
                batch = []
        if batch:
            collection.insert_many(batch, ordered=False)
        load_s = time.perf_counter() - load0
        for spec in HumanTask._meta["index_specs"]:    # as HumanTask.ensure_indexes() does, without its timeout
            collection.create_index(spec["fields"], background=False,
                                    **{k: v for k, v in spec.items() if k != "fields"})
        index_s = time.perf_counter() - load0 - load_s
        print(f"\ninbox: {INBOX_TASKS} rows loaded in {load_s:.0f} s, indexed in {index_s:.0f} s", flush=True)
        assert collection.count_documents({}) == INBOX_TASKS
        tally, window, plans = _inbox_rounds(client, settings, approver, mine)
    finally:
        collection.drop()                            # the per-test delete_many would take minutes
        loader.close()
        HumanTask.ensure_indexes()
    write_result("applications_inbox", {
        "open_tasks": INBOX_TASKS, "in_approvers_groups": mine, "page_size": 20, "rounds": INBOX_ROUNDS,
        "load_insert_many_s": round(load_s, 1), "build_indexes_s": round(index_s, 1),
        "explain": plans, "last_window": json.loads(json.dumps(window.get("filter"), default=str)),
        "http_page_in_process": tally.summary("http_page"),
        "http_counts_in_process": tally.summary("http_counts"),
        "service_page": tally.summary("service_page"),
        "one_sorted_query_as_before": tally.summary("one_sorted_query"),
        "goal_p50_ms": {"page_and_counts_at_5000": 30, "at_100000_for_one_approver": 60},
        "note": "service_page = workflows.cases.tasks.service.inbox_page(...) as the view runs it (windows of the "
                "sort field, one query per group of the approver: workflows/cases/tasks/inbox.py); "
                "one_sorted_query = the single sorted query the list was before; in-process, wall on the test "
                "SecantusDB; app_cpu is the thread's CPU (the database wait excluded)",
    })


# -- 3. submit: a 100-field form with 3 photos ------------------------------------------------------------------

def test_submit_a_large_form_with_photos(app, client, settings, make_staff, make_department, resident_login):
    from tests.conftest import bearer

    schema, data = bench_form(fields=97)
    for k in range(3):
        schema["properties"][f"photo{k}"] = {"type": "string", "x-ui": {"widget": "photo", "label": f"照片{k}"}}
        schema["required"].append(f"photo{k}")
    assert len(schema["properties"]) == 100
    department = make_department("benchbig", "基准局")
    _publish(app, client, make_staff, department, schema, [("bench_big", department["id"])])
    resident = bearer(resident_login()["access_token"])
    for k in range(3):
        photo = jpeg(Image.new("RGB", (1200, 900), (40 * k, 120, 200)))       # three different photos
        r = client.post("/api/v1/attachments", data={"kind": "photo", "file": (io.BytesIO(photo), f"{k}.jpg")},
                        headers=resident, content_type="multipart/form-data")
        assert r.status_code in (200, 201), r.json
        data[f"photo{k}"] = r.json["id"]
    assert len({data[f"photo{k}"] for k in range(3)}) == 3
    body = {"service_code": "bench_big", "data": data, "submit": True}

    def submit():
        return _ok(client.post("/api/v1/applications", json=body, headers=resident), 201)

    with counted_connection(settings) as counter:
        tally = Tally(counter)
        for i in range(SUBMITS + 5):
            done = tally("submit", submit, i >= 5)
        shares = cpu_shares(submit, PROFILED)
    assert done["status"] == "submitted" and sorted(done["attachments"]) == sorted(data[f"photo{k}"] for k in range(3))
    summary = tally.summary("submit")
    write_result("applications_submit", {
        "form_fields": 100, "photos": 3, "repeat_rows": 20, "submits": SUBMITS,
        "app_cpu_goal_p50_ms": 30, **summary,
        "cpu_share_by_function": shares,
        "note": "in-process (Flask test client): app_cpu = the request thread's CPU time; commands by a "
                "CommandListener on a dedicated MongoClient",
    })
