"""Deadlines over HTTP: the service's limit in working days from submission, paused while the applicant corrects."""
from __future__ import annotations

from datetime import datetime, timedelta

from tests.applications_fixtures import case, good_data  # noqa: F401 (fixture)
from tests.time_fixtures import frozen_clock  # noqa: F401 (fixture)


def parse(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def test_the_deadline_counts_working_days_from_submission_by_the_calendar(case, app, tmp_path, frozen_clock):
    """A calendar imported for this year makes the next weekdays holidays: the deadline steps over them. The clock
    is set to a Wednesday in June: read from the real time, the count by hand crossed into a year whose holidays it
    does not know from late December on."""
    import json

    from api.cli import cli
    from core import clock
    from core import workdays

    frozen_clock.china("2026-06-10 10:00")
    today = clock.china_today()
    days_off = [today + timedelta(days=n) for n in range(1, 15)
                if (today + timedelta(days=n)).weekday() < 5 and (today + timedelta(days=n)).year == today.year][:3]
    doc = {"year": today.year, "holidays": [{"date": d.isoformat(), "name": "测试"} for d in days_off],
           "workdays": []}
    (tmp_path / "year.json").write_text(json.dumps(doc), encoding="utf-8")
    assert app.test_cli_runner().invoke(cli, ["calendar", "import", str(tmp_path / "year.json")]).exit_code == 0
    try:
        submitted = case.submit()
    finally:
        workdays.clear_cache()
    start, due = parse(submitted["submitted_at"]), parse(submitted["due_at"])
    expected, left = clock.china(start).date(), 5     # counted here by hand: weekdays that are not days off
    while left:
        expected += timedelta(days=1)
        if expected.weekday() < 5 and expected not in days_off:
            left -= 1
    assert clock.china(due).date() == expected and clock.china(due).time() == clock.china(start).time()
    [task] = case.todo(case.civil_1)
    assert parse(task["due_at"]) == due and task["overdue"] is False and task["escalated"] is False


def _back_date_pause(app_id, working_days_ago: int):
    """The application was returned so that `working_days_ago` working days lie after it up to now (what a real
    pause would leave). Today counts only when it is a working day: run on a Saturday (China time), the three days
    are Wednesday to Friday."""
    from core import clock
    from workflows.cases.applications.models import Application
    from core import workdays

    at, counted = clock.china(clock.now()), 0
    while counted < working_days_ago:
        counted += workdays.is_working_day(at.date())
        at -= timedelta(days=1)
    Application.objects(id=app_id).update_one(set__paused_at=at)
    return at


def test_the_clock_stops_while_the_applicant_corrects_and_the_deadline_moves_on(case, app):
    from core import clock, workdays
    from workflows.cases.applications.models import Application
    from workflows.cases.tasks.models import HumanTask

    submitted = case.submit(good_data(months=5))
    [task] = case.todo(case.civil_1)
    case.act(case.civil_1, task, action="return", reason="居住月数有误", fields=[{"path": "/months"}])
    returned = case.application(submitted["id"])
    stored = Application.objects(id=submitted["id"]).first()
    assert returned["status"] == "returned" and stored.paused_at is not None     # the pause is recorded
    paused_at = _back_date_pause(stored.id, 3)
    before = Application.objects(id=submitted["id"]).first()

    r = case.client.post(f"/api/v1/applications/{submitted['id']}/supplement",
                         json={"version": returned["version"], "data": good_data(months=12)}, headers=case.resident)
    assert r.status_code == 200, r.json
    event = r.json["timeline"][-1]
    assert event["action"] == "supplemented" and event["paused_days"] == 3
    assert workdays.working_days_between(paused_at, parse(event["at"])) == 3
    due = parse(r.json["due_at"])
    assert due == workdays.add_working_days(before.due_at, 3) and due > parse(submitted["due_at"])
    assert [parse(s["due_at"]) for s in r.json["current_steps"]] == [due]
    after = Application.objects(id=submitted["id"]).first()
    assert after.paused_at is None
    assert clock.china(after.remind_at) == clock.china(workdays.add_working_days(before.remind_at, 3))
    [again] = case.todo(case.civil_1)                        # the inbox row carries the moved deadline
    assert again["id"] == task["id"] and parse(again["due_at"]) == due
    assert HumanTask.objects(id=task["id"]).first().due_at is not None


def test_returned_and_supplemented_the_same_day_moves_nothing(case):
    submitted = case.submit(good_data(months=5))
    [task] = case.todo(case.civil_1)
    case.act(case.civil_1, task, action="return", reason="请补正", fields=[{"path": "/months"}])
    returned = case.application(submitted["id"])
    r = case.client.post(f"/api/v1/applications/{submitted['id']}/supplement",
                         json={"version": returned["version"], "data": good_data(months=12)}, headers=case.resident)
    assert r.status_code == 200 and r.json["timeline"][-1]["paused_days"] == 0
    assert r.json["due_at"] == submitted["due_at"]


def test_a_service_without_a_limit_has_no_deadline(case, app):
    from tests.applications_fixtures import publish_service

    publish_service(case.client, case.designer, "instant", case.civil["id"], "residence_apply", "residence_permit",
                    time_limit_days=0,
                    name="即办事项")
    r = case.client.post("/api/v1/applications", json={"service_code": "instant", "submit": True,
                                                       "data": good_data()}, headers=case.resident)
    assert r.status_code == 201 and r.json["due_at"] is None
    from workflows.cases.applications.models import Application
    assert Application.objects(id=r.json["id"]).first().remind_at is None
