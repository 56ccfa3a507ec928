"""The clock: how long `reminders.scan` takes over many due applications, and a deadline's working-day walk.

Writes tests/perf/results/clock_scan.json. N applications (ZB_BENCH_CLOCK_APPS, default 500), each with one open
unclaimed inbox row in one department, are all past their reminder point and deadline; scan runs in rounds of
`limit` (100) until nothing is left: first at a time past the reminder point but before the deadline (reminders
only), then past the deadline (escalations only). A reminder costs one outbox bulk insert per application and one
update for the round; an escalation one outbox insert, one conditional update and one audit record per application
and one flag update for the round.
"""
from __future__ import annotations

import os
import time
from datetime import datetime, timedelta, timezone

from bson import ObjectId

from tests.perf.report import percentiles, timed, write_result

APPS = int(os.environ.get("ZB_BENCH_CLOCK_APPS", "500"))


def test_scan_many_due_applications(app, make_staff, make_department):
    from workflows.cases.applications.models import Application
    from core import workdays
    from workflows.cases.clock import reminders
    from workflows.cases.tasks.models import HumanTask

    dept = make_department("civil", "民政局")["id"]
    make_staff("a1", [{"role": "approver", "department_id": dept}])
    make_staff("a2", [{"role": "approver", "department_id": dept}])
    make_staff("boss", [{"role": "lead", "department_id": dept}])
    with app.app_context():
        start = datetime(2026, 11, 2, 2, 0, tzinfo=timezone.utc)
        apps, rows = [], []
        for n in range(APPS):
            oid = ObjectId()
            apps.append(Application(id=oid, number=f"ZB20261102{n:05d}", applicant_id="r", service_code="s",
                                    service_version=1, service_name="居住证", department=dept, form_key="f",
                                    form_version=1, status="submitted", instance_id=ObjectId(), submitted_at=start,
                                    due_at=start + timedelta(days=7), remind_at=start + timedelta(days=5))
                        .to_mongo().to_dict())
            rows.append(HumanTask(task_id=str(n), instance_id=apps[-1]["instance_id"], application_id=oid,
                                  name="受理审核", candidate_departments=[dept], audience=[f"dept:{dept}"],
                                  due_at=start + timedelta(days=7)).to_mongo().to_dict())
        Application._get_collection().insert_many(apps)
        HumanTask._get_collection().insert_many(rows)

        def drain(now, kind):
            samples, total = [], 0
            while True:
                t0 = time.perf_counter()
                got = reminders.scan(now, limit=100)
                samples.append((time.perf_counter() - t0) * 1000)
                if not got[kind]:
                    return samples[:-1], total
                total += got[kind]

        reminding, reminded = drain(start + timedelta(days=6), "reminded")     # past the reminder, not yet due
        now = start + timedelta(days=30)
        escalating, escalated = drain(now, "escalated")
        assert reminded == APPS and escalated == APPS
        idle = timed(lambda: reminders.scan(now, limit=100), 20, warmup=2)

        workdays.clear_cache()
        walk = timed(lambda: workdays.add_working_days(start, 20), 200, warmup=5)
    write_result("clock_scan", {
        "applications": APPS, "limit": 100,
        "remind_round_ms": percentiles(reminding), "remind_per_application_ms": round(sum(reminding) / APPS, 2),
        "escalate_round_ms": percentiles(escalating),
        "escalate_per_application_ms": round(sum(escalating) / APPS, 2),
        "idle_scan_ms": percentiles(idle), "add_20_working_days_ms": percentiles(walk)})
