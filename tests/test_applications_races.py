"""Races and crashes around applications and tasks: one winner, nothing written twice, and what a crash leaves
behind is repaired by `rebuild-projections`."""
from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest

from tests.applications_fixtures import case, good_data  # noqa: F401 (fixture)


def _parallel(app, calls, workers=8):
    """Run each call in its own request context on a pool of threads; returns the responses in order."""
    barrier = threading.Barrier(min(workers, len(calls)))

    def run(call):
        with app.app_context():
            client = app.test_client()
            if len(calls) <= workers:
                barrier.wait()
            return call(client)
    with ThreadPoolExecutor(workers) as pool:
        return list(pool.map(run, calls))


def test_twenty_approvers_racing_on_one_task_one_wins(case, app):
    submitted = case.submit()
    [task] = case.todo(case.civil_1)
    body = {"version": task["version"], "decision": "approve", "comment": "同意"}
    heads = [case.civil_1, case.civil_2] * 10
    responses = _parallel(app, [lambda c, h=h: c.post(f"/api/v1/tasks/{task['id']}/complete", json=body, headers=h)
                                for h in heads], workers=20)
    codes = sorted(r.status_code for r in responses)
    assert codes == [200] + [409] * 19, codes
    final = case.application(submitted["id"])
    assert [e["action"] for e in final["timeline"]] == ["submitted", "approved"]
    assert len(case.todo(case.housing_1)) == 1        # the process moved on exactly once
    with app.app_context():
        from workflows.cases.applications.models import Application
        from workflows.bpmn.models import Instance
        instance = Instance.objects.get(id=Application.objects.get(number=final["number"]).instance_id)
        assert [p["element_id"] for p in instance.path].count("review") == 1


def test_two_hundred_submits_with_one_hundred_keys_make_one_hundred_applications(case, app):
    def submit(key):
        return lambda c: c.post("/api/v1/applications", json={"service_code": "residence", "submit": True,
                                                               "data": good_data()},
                                headers={**case.resident, "Idempotency-Key": key})
    calls = [submit(f"key-{i % 100}") for i in range(200)]
    responses = _parallel(app, calls, workers=8)
    assert {r.status_code for r in responses} <= {200, 201, 409}, {r.status_code for r in responses}
    by_key = {}
    for i, r in enumerate(responses):
        if r.status_code in (200, 201):
            by_key.setdefault(f"key-{i % 100}", set()).add(r.json["id"])
    assert all(len(ids) == 1 for ids in by_key.values())
    with app.app_context():
        from workflows.cases.applications.models import Application
        from workflows.bpmn.models import Instance
        from workflows.cases.tasks.models import HumanTask
        assert Application.objects.count() == 100
        assert Instance.objects(is_test=False).count() == 100
        assert HumanTask.objects(status="open").count() == 100
        assert len(set(Application.objects.distinct("number"))) == 100


@pytest.mark.parametrize("attempt", range(3))
def test_withdraw_racing_an_approval_one_wins(case, app, attempt):
    submitted = case.submit()
    [task] = case.todo(case.civil_1)
    withdraw = lambda c: c.post(f"/api/v1/applications/{submitted['id']}/withdraw",   # noqa: E731
                                json={"version": submitted["version"]}, headers=case.resident)
    approve = lambda c: c.post(f"/api/v1/tasks/{task['id']}/complete",   # noqa: E731
                               json={"version": task["version"], "decision": "approve"}, headers=case.civil_1)
    w, a = _parallel(app, [withdraw, approve], workers=2)
    assert sorted([w.status_code, a.status_code]) == [200, 409], (w.json, a.json)
    final = case.application(submitted["id"])
    if w.status_code == 200:
        assert final["status"] == "withdrawn" and case.todo(case.housing_1) == []
        assert [e["action"] for e in final["timeline"]] == ["submitted", "withdrawn"]
    else:
        assert final["status"] == "submitted" and len(case.todo(case.housing_1)) == 1
        assert [e["action"] for e in final["timeline"]] == ["submitted", "approved"]


def test_a_crash_between_the_instance_and_the_projection_is_repaired(case, app, monkeypatch):
    from workflows.cases.tasks import projection
    from workflows.cases.tasks.rebuild import rebuild

    submitted = case.submit()
    [task] = case.todo(case.civil_1)

    def crash(*args, **kwargs):
        raise RuntimeError("the worker died here")
    monkeypatch.setattr(projection, "sync", crash)
    r = case.client.post(f"/api/v1/tasks/{task['id']}/complete", json={"version": task["version"],
                                                                       "decision": "approve"}, headers=case.civil_1)
    assert r.status_code == 500 and "died" not in r.get_data(as_text=True)     # no stack trace to the client
    monkeypatch.undo()
    assert case.todo(case.housing_1) == []                           # the projection is behind the case …
    # … which the case-state writer had written first: the application shows the step and the decision
    assert [s["name"] for s in case.application(submitted["id"])["current_steps"]] == ["住建复核"]

    with app.app_context():
        report = rebuild()
        assert report.rows_added == 1 and report.steps_fixed == 0 and report.decisions_added == 0, report
        assert rebuild().differences == 0                             # and a second run finds nothing
    [recheck] = case.todo(case.housing_1)
    assert recheck["name"] == "住建复核"
    repaired = case.application(submitted["id"])
    assert [s["name"] for s in repaired["current_steps"]] == ["住建复核"]
    assert [e["action"] for e in repaired["timeline"]] == ["submitted", "approved"]   # the decision is shown
    case.act(case.housing_1, recheck)
    assert case.application(submitted["id"])["status"] == "approved"


def test_an_approval_that_died_before_the_engine_is_reopened(case, app, monkeypatch):
    from core import clock
    from workflows.bpmn import instances
    from workflows.cases.tasks.rebuild import rebuild

    case.submit()
    [task] = case.todo(case.civil_1)
    monkeypatch.setattr(instances, "complete_task", lambda *a, **k: (_ for _ in ()).throw(SystemExit(1)))
    with pytest.raises(SystemExit):
        case.client.post(f"/api/v1/tasks/{task['id']}/complete", json={"version": task["version"],
                                                                       "decision": "approve"}, headers=case.civil_1)
    monkeypatch.undo()
    # the row was put back on the way out; if the process had been killed instead, rebuild reopens it
    assert len(case.todo(case.civil_1)) == 1
    with app.app_context():
        from workflows.cases.tasks.models import HumanTask
        row = HumanTask.objects.get(status="open")
        HumanTask.objects(id=row.id).update_one(set__status="done", set__completed_by="x", inc__version=1,
                                                set__completed_at=clock.now())
        assert case.todo(case.civil_1) == []
        # taken a moment ago: maybe an approval still running, so a rebuild on a live system leaves it …
        fenced = rebuild()
        assert (fenced.rows_reopened, fenced.left_in_flight) == (0, 1)
        assert case.todo(case.civil_1) == []
        # … and one with the service stopped (or minutes later) reopens it
        assert rebuild(min_age=timedelta(0)).rows_reopened == 1
    [again] = case.todo(case.civil_1)
    case.act(case.civil_1, again)


def test_the_first_numbers_of_a_day_racing_to_create_its_counter_are_all_distinct(app):
    """Eight processes (each its own block) take their first number of a day at once: eight distinct blocks."""
    from datetime import datetime

    from workflows.cases.applications import cases
    day = datetime(2031, 5, 6, 9, 0).strftime("%Y%m%d")
    barrier = threading.Barrier(8)

    def first_of_a_process(_):
        block = cases._NumberBlock()          # what one gunicorn worker holds
        with app.app_context():
            barrier.wait()         # all eight create a counter that does not exist yet
            return block.take(day)
    with ThreadPoolExecutor(8) as pool:
        numbers = list(pool.map(first_of_a_process, range(8)))
    assert sorted(numbers) == [i * cases.NUMBER_BLOCK + 1 for i in range(8)]


def test_numbers_within_a_process_are_unique_under_threads_and_one_write_serves_a_block(app, settings):
    from datetime import datetime

    from tests.perf.measure import counted_connection
    from workflows.cases.applications import cases
    day = datetime(2031, 5, 7, 9, 0)
    with app.app_context(), counted_connection(settings) as counter:
        with ThreadPoolExecutor(8) as pool:
            numbers = list(pool.map(lambda _: cases.next_number(day), range(25)))
        writes = counter.counts["findAndModify application_counters"]
    assert sorted(numbers) == [f"ZB20310507{i:05d}" for i in range(1, 26)]
    # three blocks (1–10, 11–20, 21–30); the day's first finds no counter, creates it and asks again
    assert writes == 4
