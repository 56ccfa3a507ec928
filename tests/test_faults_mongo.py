"""MongoDB stopped in the middle of a submit, an approval and a publish (issue 14, item 2) — at every write of
each, in turn. The client gets 503 in the error shape with Retry-After; after the server is back, a retry (the
same Idempotency-Key, the same task version) either succeeds or says the first attempt went through; what a
crash left half-written is repaired by `zhangban rebuild-projections`, run as its own process; and in the end
every application has been approved exactly once, with one inbox row per waiting step.
"""
from __future__ import annotations

from collections import Counter

import pytest

from tests.applications_fixtures import case  # noqa: F401 — the fixture
from tests.faults import FlakyMongo, report, zhangban

pytestmark = pytest.mark.timeout(600)


@pytest.fixture
def flaky(app, settings, tmp_path):
    """Listed before the fixtures that create data, so they write to this test's own server."""
    from core import db

    mongo = FlakyMongo(tmp_path, settings)
    yield mongo
    db.connect(settings)
    mongo.stop()


def assert_unavailable(r):
    assert r.status_code == 503, (r.status_code, r.get_data(as_text=True)[:300])
    assert set(r.json) == {"code", "message", "errors", "request_id"} and r.json["code"] == "unavailable"
    assert r.headers["Retry-After"]


def assert_cut(r, cut: str):
    """503 — unless the cut write was the audit record's, which waits in the spool for the sealer instead (the
    audit log never fails a request); then the request went through."""
    if cut == "insert audit" and r.status_code < 300:
        return
    assert_unavailable(r)


def submit(case, key):
    return case.client.post("/api/v1/applications", json={"service_code": "residence", "submit": True,
                                                           "data": __import__("tests.applications_fixtures",
                                                                              fromlist=["good_data"]).good_data()},
                            headers={**case.resident, "Idempotency-Key": key})


def test_mongodb_stopped_at_each_write_of_a_submit(flaky, case, app):
    from workflows.cases.applications.models import Application
    from workflows.bpmn.models import Instance

    case.submit(key="first")                 # the day's first number creates its counter: one write more
    writes = flaky.writes_of(lambda: case.submit(key="probe"))
    # the instance, the application (carrying its audit record and message: core/deferred.py), the inbox row
    assert {"insert process_instances", "insert applications", "update human_tasks"} <= set(writes), writes
    outcomes = []
    for n in range(1, len(writes) + 1):
        flaky.tripwire.arm(n)
        assert_cut(submit(case, f"cut-{n}"), writes[n - 1])
        assert flaky.down
        flaky.start()
        again = submit(case, f"cut-{n}")
        assert again.status_code in (200, 201), (n, writes[n - 1], again.json)
        outcomes.append((writes[n - 1], again.status_code))

    repaired = report(zhangban(flaky.settings, "rebuild-projections", "--min-age-seconds", "0"))
    # records spooled while the server was down are inserted and sealed; the chain is whole
    assert "audit log intact" in zhangban(flaky.settings, "audit", "verify")
    assert report(zhangban(flaky.settings, "rebuild-projections"))["rows_added"] == 0     # nothing left to do
    with app.app_context():    # `audit verify` moved the records the applications carried in before it sealed
        assert not Application.objects(deferred_due_at__ne=None).count()

    with app.app_context():
        per_key = Counter(a.idempotency_key for a in Application.objects.only("idempotency_key"))
        assert set(per_key.values()) == {1} and len(per_key) == len(writes) + 2, per_key
        linked = {a.instance_id for a in Application.objects.only("instance_id")}
        running = {i.id for i in Instance.objects(status="running").only("id")}
        assert running == linked, f"instances without an application still run: {running - linked}"
    # one row each in the inbox (those a crash left out were written by the rebuild), and each approved once
    todo = case.todo(case.civil_1, page_size=100)
    assert Counter(t["application_id"] for t in todo) == Counter({a: 1 for a in {t["application_id"] for t in todo}})
    assert len(todo) == len(writes) + 2, (len(todo), repaired, outcomes)
    for task in todo:
        case.act(case.civil_1, task)
    assert len(case.todo(case.housing_1, page_size=100)) == len(writes) + 2


def test_mongodb_stopped_at_each_write_of_an_approval(flaky, case, app):
    case.submit(key="first")
    case.submit(key="probe")
    first, probe = case.todo(case.civil_1)
    case.act(case.civil_1, first)
    writes = flaky.writes_of(lambda: case.act(case.civil_1, probe))
    assert len(writes) >= 4, writes
    first_tries = {}
    for n in range(1, len(writes) + 1):
        case.submit(key=f"approve-{n}")
        task = next(t for t in case.todo(case.civil_1, page_size=100) if t["id"] not in first_tries)
        flaky.tripwire.arm(n)
        url, body = f"/api/v1/tasks/{task['id']}/complete", {"version": task["version"], "decision": "approve"}
        assert_cut(case.client.post(url, json=body, headers=case.civil_1), writes[n - 1])
        flaky.start()
        again = case.client.post(url, json=body, headers=case.civil_1)
        # either the retry approves, or the task moved on (409) — the first attempt's take went through
        assert again.status_code in (200, 409), (n, writes[n - 1], again.json)
        first_tries[task["id"]] = (writes[n - 1], again.status_code)

    zhangban(flaky.settings, "rebuild-projections", "--min-age-seconds", "0")   # nothing in flight: stopped
    # what a crash left taken-but-not-moved is back in the inbox; the approver acts on it as usual
    for task in case.todo(case.civil_1, page_size=100):
        case.act(case.civil_1, task)
    assert case.todo(case.civil_1, page_size=100) == []
    rechecks = case.todo(case.housing_1, page_size=100)
    assert Counter(t["application_id"] for t in rechecks) == Counter(
        {a: 1 for a in {t["application_id"] for t in rechecks}}), "a step doubled"
    assert len(rechecks) == len(writes) + 2, (len(rechecks), first_tries)
    for task in rechecks:
        application = case.application(task["application_id"])
        approvals = [e for e in application["timeline"] if e["action"] == "approved"]
        assert len(approvals) <= 1, application["timeline"]
        assert [s["name"] for s in application["current_steps"]] == ["住建复核"], application
    # what each approval owes rode in its first durable write: once the worker has moved them in, every approved
    # case has exactly one approval record, and 住建 was told once that its step waits
    assert "audit log intact" in zhangban(flaky.settings, "audit", "verify")
    with app.app_context():
        from core.audit import AuditRecord
        from workflows.cases.notify.models import Notification
        cases = {t["application_id"] for t in rechecks}
        records = Counter(r.details["application"] for r in AuditRecord.objects(action="task.approve"))
        assert records == Counter({a: 1 for a in cases}), (records, first_tries)
        housing_1 = case.client.get("/api/v1/me", headers=case.housing_1).json["id"]
        opened = Counter(n.application_id for n in Notification.objects(kind="task_assigned", user_id=housing_1))
        assert opened == Counter({a: 1 for a in cases}), (opened, first_tries)


def test_mongodb_stopped_at_each_write_of_a_publish(flaky, app, client, make_staff, make_department):
    from tests.applications_fixtures import REVIEW_FORM, publish_form
    from tests.workflows_fixtures import BASE, example

    department = make_department("civil", "民政局")
    _, designer = make_staff("designer", [{"role": "designer", "department_id": department["id"]}])
    publish_form(client, designer, department["id"], "review", REVIEW_FORM)
    xml = example("user_task_form.bpmn")

    def draft(key):
        r = client.post(BASE, json={"key": key, "name": key, "department": department["id"],
                                    "bpmn_xml": xml.replace("user_task_form", key)},
                        headers=designer)
        assert r.status_code == 201, r.json

    draft("probe")
    probe = []
    writes = flaky.writes_of(lambda: probe.append(client.post(f"{BASE}/probe/publish", headers=designer)))
    assert probe[0].status_code == 201 and writes, (probe[0].json, writes)
    for n in range(1, len(writes) + 1):
        key = f"cut{n}"
        draft(key)
        flaky.tripwire.arm(n)
        first = client.post(f"{BASE}/{key}/publish", headers=designer)
        assert_cut(first, writes[n - 1])
        flaky.start()
        again = first if first.status_code == 201 else client.post(f"{BASE}/{key}/publish", headers=designer)
        assert again.status_code == 201, (n, writes[n - 1], again.json)
        versions = client.get(f"{BASE}/{key}/versions", headers=designer).json
        numbers = [v["version"] for v in versions["items"]]
        shown = client.get(f"{BASE}/{key}", headers=designer).json
        # the draft names the newest stored version: a version written before the cut is not published twice
        # under one number; at worst the retry stores the next number (the same content)
        assert shown["published_version"] == max(numbers) == again.json["version"], (n, writes[n - 1], numbers)
        assert len(numbers) == len(set(numbers)) and len(numbers) <= 2, numbers
