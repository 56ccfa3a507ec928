"""Statistics over a year of 200,000 applications: how long /api/v1/stats takes, and what a case's rollup write costs.

Writes tests/perf/results/stats.json. The year (2025) is seeded as what the endpoint reads: the rollup documents
of ZB_BENCH_STATS_APPS applications (default 200,000) spread over 20 departments × 10 services and the year's
days (weekdays busier), each case drawn at random (80 % online, 90 % completed, 8 % of those late, 85 % without
补正, 0–25 working days, 30 % rated), inserted with insert_many. A sample of cases in the present year goes
through the real write path over HTTP (submit, 补正, approve, reject, withdraw, rate) and its kept rollups are
compared with a recount from the applications. Then each query is timed through the Flask test client (token
check, reads, sums, serialization) over ZB_BENCH_STATS_REPEAT runs (default 20), with the application's own CPU
time per request (thread time: what a loaded machine's waiting does not inflate) and the server's execution time
of each find from `explain`.
"""
from __future__ import annotations

import os
import random
import time
from collections import Counter, defaultdict
from datetime import date, timedelta

from bson import ObjectId

from tests.perf.measure import counted_connection, cpu_shares
from tests.perf.report import percentiles, timed, write_result
from tests.stats_fixtures import (approve, case, good_data, rate, reject,  # noqa: F401 (fixtures)
                                  return_and_supplement, withdraw)

APPS = int(os.environ.get("ZB_BENCH_STATS_APPS", "200000"))
REPEAT = int(os.environ.get("ZB_BENCH_STATS_REPEAT", "20"))
DEPARTMENTS, SERVICES_EACH, YEAR = 20, 10, 2025


def _draw(rng: random.Random) -> Counter:
    """One case's counters, as rollups.contribution would give them."""
    c = Counter(submitted=1, online=int(rng.random() < 0.8))
    if rng.random() < 0.9:
        days = min(int(rng.expovariate(1 / 5)), 25)
        c.update({"completed": 1, "approved" if rng.random() < 0.88 else "rejected": 1,
                  "overdue": int(rng.random() < 0.08), "first_time": int(rng.random() < 0.85), "days_sum": days,
                  f"h.d{days}": 1})
        if rng.random() < 0.3:
            score = rng.choices((1, 2, 3, 4, 5), (3, 2, 5, 20, 70))[0]
            c.update(rated=1, good=int(score >= 4), bad=int(score <= 2), score_sum=score)
    elif rng.random() < 0.5:
        c["withdrawn"] = 1
    return c


def seed_year(app) -> dict:
    from api.identity.models import Department
    from workflows.cases.stats.models import COUNTERS, Rollup
    from workflows.cases.stats.rollups import targets

    rng = random.Random(12)
    departments = [Department(code=f"bench{n:02d}", name=f"第{n + 1}局", path=[]) for n in range(DEPARTMENTS)]
    Department.objects.insert(departments)
    services = [(str(d.id), f"svc{n:02d}{k}", f"事项{n:02d}-{k}") for n, d in enumerate(departments)
                for k in range(SERVICES_EACH)]
    weights = [1 / (i + 1) for i in range(len(services))]          # a few services take most of the cases
    days = [date(YEAR, 1, 1) + timedelta(days=n) for n in range(365)]
    day_weights = [1.0 if d.weekday() < 5 else 0.1 for d in days]
    cases: dict = defaultdict(Counter)          # (service, day) → its cases' counters
    started = time.perf_counter()
    for service, day in zip(rng.choices(services, weights, k=APPS), rng.choices(days, day_weights, k=APPS)):
        cases[(service, day)].update(_draw(rng))
    docs: dict = defaultdict(Counter)
    meta: dict = {}
    for (service, day), counts in cases.items():
        for _id, keys in targets(service[0], service[1], day):
            docs[_id].update(counts)
            meta[_id] = {**keys, "service_name": service[2] if keys["service_code"] else ""}
    rows = [{"_id": _id, **meta[_id], **{k: c.get(k, 0) for k in COUNTERS},
             "h": {k[2:]: v for k, v in c.items() if k.startswith("h.")}} for _id, c in docs.items()]
    drawn_s = time.perf_counter() - started
    started = time.perf_counter()
    collection = Rollup._get_collection()
    for n in range(0, len(rows), 5000):
        collection.insert_many(rows[n:n + 5000], ordered=False)
    grain = {4: "year", 7: "month", 10: "day"}
    by_kind = Counter(f"{r['scope']}/{grain[len(r['period'])]}" for r in rows)
    return {"applications": APPS, "departments": DEPARTMENTS, "services": len(services),
            "rollup_documents": len(rows), "documents_by_grain": dict(sorted(by_kind.items())),
            "draw_s": round(drawn_s, 1), "insert_s": round(time.perf_counter() - started, 1),
            "departments_list": [str(d.id) for d in departments]}


def test_stats_over_a_year_of_200000_applications(app, case, make_staff, admin_headers):
    from workflows.cases.stats import rollups

    # the real write path: a sample of cases this year, then the kept rollups against a recount
    started = time.perf_counter()
    sample = Counter()
    for n in range(4):
        approve(case, case.submit())
        b = case.submit()
        return_and_supplement(case, b)
        rate(case, approve(case, b)["id"], 4 + n % 2)
        rate(case, reject(case, case.submit())["id"], 1 + n % 2)
        withdraw(case, case.submit())
        case.submit()
        sample.update(approved=2, rejected=1, withdrawn=1, open=1)
    sample_s = time.perf_counter() - started
    with app.app_context():
        sample_differences = rollups.differences()
    assert sample_differences == []

    with app.app_context():
        seeded = seed_year(app)
    departments = seeded.pop("departments_list")
    lead_user, lead = make_staff("bench-lead")
    case.client.post(f"/api/v1/users/{lead_user.id}/roles", json={"role": "lead", "department_id": departments[0]},
                     headers=admin_headers)

    year = {"from": f"{YEAR}-01-01", "to": f"{YEAR}-12-31"}
    ragged = {"from": f"{YEAR}-01-15", "to": f"{YEAR}-12-14"}
    queries = {
        "year_by_department": ("/api/v1/stats", admin_headers, {**year, "group": "department"}),
        "year_by_service": ("/api/v1/stats", admin_headers, {**year, "group": "service"}),
        "year_by_month": ("/api/v1/stats", admin_headers, {**year, "group": "month"}),
        "year_lead_by_month": ("/api/v1/stats", lead, {**year, "group": "month"}),
        "year_lead_by_service": ("/api/v1/stats", lead, {**year, "group": "service"}),
        "year_one_service_by_month": ("/api/v1/stats", admin_headers, {**year, "group": "month", "service": "svc000"}),
        "ragged_by_department": ("/api/v1/stats", admin_headers, {**ragged, "group": "department"}),
        "ragged_by_service": ("/api/v1/stats", admin_headers, {**ragged, "group": "service"}),
        "quarter_by_day": ("/api/v1/stats", admin_headers, {"from": f"{YEAR}-10-01", "to": f"{YEAR}-12-31",
                                                            "group": "day"}),
        "year_by_service_csv": ("/api/v1/stats/export.csv", admin_headers, {**year, "group": "service"}),
    }
    results = {}
    for name, (url, headers, query) in queries.items():
        def call():
            r = case.client.get(url, query_string=query, headers=headers)
            assert r.status_code == 200, r.data[:300]
            return r
        r = call()
        with app.app_context(), counted_connection(app.extensions["zhangban"].settings) as counter:
            call()
        read, plans = _documents_read(app, query, headers is lead, departments[0])
        cpu = []
        for _ in range(5):
            started = time.thread_time()
            call()
            cpu.append((time.thread_time() - started) * 1000)
        results[name] = {**percentiles(timed(call, REPEAT, warmup=2)), "app_cpu_ms": percentiles(cpu),
                         "commands": dict(counter.counts),
                         "rows": len(r.json["rows"]) if r.is_json else len(r.data.decode("utf-8-sig").splitlines()) - 2,
                         "rollup_documents_read": read, "plans": plans}
        assert not any(p["collscan"] for p in plans), plans
        if name == "year_by_service":
            results[name]["cpu_shares"] = cpu_shares(call, 5, top=10)
        if name == "year_by_department":
            assert r.json["total"]["applications"] == APPS

    # what a case movement costs the rollups: one bulk write of nine upserts into the seeded collection
    with app.app_context():
        from core import clock
        from workflows.cases.applications.models import Application

        moving = Application(department="bench-bump", service_code="x", submitted_at=clock.now())
        movement = rollups._ops(moving.department, moving.service_code, "", rollups.submit_day(moving),
                                {"completed": 1, "days_sum": 3, "h.d3": 1})
        bump = percentiles(timed(lambda: rollups._write(movement), 50, warmup=3))

    with app.app_context():     # dropped here: deleting ~70,000 documents one by one outlasts the harness's timeout
        from workflows.cases.stats.models import Rollup

        Rollup._get_collection().drop()
        Rollup.ensure_indexes()
    write_result("stats", {"seeded": seeded, "sample_cases": dict(sample), "sample_http_s": round(sample_s, 1),
                           "sample_recount_differences": len(sample_differences), "queries": results,
                           "rollup_write_per_movement_ms": bump, "target_ms": 200})


def _documents_read(app, query, as_lead, lead_department) -> tuple[int, list]:
    """How many rollups the report reads, and the query plans of its finds."""
    from core.actor import Actor
    from core.db import database
    from tests.perf.measure import explain
    from workflows.cases.stats import service
    from workflows.cases.stats.models import Rollup

    with app.app_context():
        q = service.Query(start=date.fromisoformat(query["from"]), end=date.fromisoformat(query["to"]),
                          group=query.get("group", "department"), service=query.get("service"))
        actor = Actor("x", frozenset({"lead"}), {"lead": [lead_department]}) if as_lead else \
            Actor("x", frozenset({"admin"}))
        wheres = service.queries(q, service._check(actor, q))
        plans = [explain(database(), {"find": "stats_rollups", "filter": where}) for where in wheres]
        return sum(Rollup.objects(__raw__=w).count() for w in wheres), [
            {k: p.get(k) for k in ("winning_plan", "collscan", "keys_examined", "docs_examined", "server_ms")}
            for p in plans]
