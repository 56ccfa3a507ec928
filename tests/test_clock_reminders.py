"""Reminders at 75 % of the limit and escalation when overdue: `reminders.scan(now)` with a chosen `now`, and what
approvers see over HTTP."""
from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from tests.applications_fixtures import case, good_data  # noqa: F401 (fixture)


def parse(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def overdue(submitted) -> datetime:
    """When the case is escalated: its deadline, or the first working hour after it."""
    from workflows.cases.clock import deadlines

    return deadlines.in_working_hours(parse(submitted["due_at"]))


@pytest.fixture
def scan(app):
    from workflows.cases.clock import reminders

    def run(now, **kw):
        with app.app_context():
            return reminders.scan(now, **kw)
    return run


@pytest.fixture
def lead(case, make_staff, admin_headers):
    """A lead of 民政局, granted over the admin API."""
    user, headers = make_staff("civil-lead")
    r = case.client.post(f"/api/v1/users/{user.id}/roles", json={"role": "lead", "department_id": case.civil["id"]},
                         headers=admin_headers)
    assert r.status_code == 200 and "lead" in r.json["roles"], r.json
    return str(user.id), headers


def sent(kind):
    from workflows.cases.notify.models import Notification

    return sorted((n.user_id, n.application_number) for n in Notification.objects(kind=kind))


def user_id(case, name):
    from api.identity.models import User

    return str(User.objects(username=name).first().id)


def test_a_reminder_at_75_percent_reaches_the_handlers_once(case, scan):
    from core import clock
    from workflows.cases.applications.models import Application
    from core import workdays
    from workflows.cases.clock import deadlines

    submitted = case.submit()
    stored = Application.objects(id=submitted["id"]).first()
    start = parse(submitted["submitted_at"])
    at = clock.as_utc(stored.remind_at)
    raw = workdays.add_working_days(start, 3.75)                      # 75 % of 5 working days …
    assert at == deadlines.in_working_hours(raw) and at >= raw         # … moved into working hours
    local = clock.china(at)
    assert workdays.is_working_day(local.date()) and "09:00" <= local.strftime("%H:%M") <= "17:00"
    assert scan(at - timedelta(seconds=1)) == {"reminded": 0, "escalated": 0}
    assert sent("reminder") == []

    assert scan(at) == {"reminded": 1, "escalated": 0}
    civil = sorted([user_id(case, "civil-1"), user_id(case, "civil-2")])    # unclaimed: the department's approvers
    assert sent("reminder") == [(u, submitted["number"]) for u in civil]
    assert scan(at + timedelta(hours=1)) == {"reminded": 0, "escalated": 0}   # once
    assert len(sent("reminder")) == 2


def test_a_claimed_task_reminds_only_its_assignee(case, scan):
    submitted = case.submit()
    [task] = case.todo(case.civil_1)
    case.act(case.civil_1, task, action="claim")
    assert scan(parse(submitted["due_at"]) - timedelta(seconds=1))["reminded"] == 1
    assert sent("reminder") == [(user_id(case, "civil-1"), submitted["number"])]


def test_overdue_escalates_once_to_the_lead_and_flags_the_inbox(case, scan, lead, app):
    from core.audit import AuditRecord
    from workflows.cases.applications.models import Application
    from workflows.cases.tasks.models import HumanTask

    submitted = case.submit()
    other = case.submit(good_data(address="另一户"))
    [task, _] = case.todo(case.civil_1)
    due = parse(submitted["due_at"])
    assert scan(due - timedelta(seconds=1)) == {"reminded": 2, "escalated": 0}
    # both are overdue at `due + 1 day` (in working hours); each is escalated once
    assert scan(overdue(submitted) + timedelta(days=1)) == {"reminded": 0, "escalated": 2}
    assert sent("escalated") == sorted([(lead[0], submitted["number"]), (lead[0], other["number"])])
    assert scan(overdue(submitted) + timedelta(days=2)) == {"reminded": 0, "escalated": 0}
    assert len(sent("escalated")) == 2 and len(sent("reminder")) == 4
    assert AuditRecord.objects(action="application.escalate").count() == 2
    assert HumanTask.objects(escalated=True).count() == 2

    # the red flag in 待办: escalated; overdue once the deadline has passed by the real clock too
    past = datetime(2026, 1, 5, 2, 0)
    Application.objects(id=submitted["id"]).update_one(set__due_at=past)
    HumanTask.objects(application_id=submitted["id"]).update(set__due_at=past)
    rows = {t["application_number"]: t for t in case.todo(case.civil_1)}
    assert rows[submitted["number"]]["escalated"] is True and rows[submitted["number"]]["overdue"] is True
    assert rows[other["number"]]["escalated"] is True and rows[other["number"]]["overdue"] is False
    assert [t["application_number"] for t in case.todo(case.civil_1, overdue="true")] == [submitted["number"]]
    assert case.client.get("/api/v1/tasks/counts", headers=case.civil_1).json["overdue"] == 1

    # the lead may open the task the message names, but acting stays with approvers
    assert case.client.get(f"/api/v1/tasks/{task['id']}", headers=lead[1]).status_code == 200
    refused = case.client.post(f"/api/v1/tasks/{task['id']}/complete", json={"version": task["version"],
                                                                           "decision": "approve"}, headers=lead[1])
    assert refused.status_code == 403
    assert case.client.get(f"/api/v1/tasks/{task['id']}", headers=case.housing_1).status_code == 404


def test_the_service_may_escalate_to_another_role(case, scan, lead, app):
    from workflows.cases.catalog.models import ServiceVersion

    ServiceVersion.objects(code="residence").update_one(set__body__escalate_to_role="approver")
    submitted = case.submit()
    assert scan(overdue(submitted) + timedelta(minutes=1))["escalated"] == 1
    assert sent("escalated") == sorted((user_id(case, n), submitted["number"]) for n in ("civil-1", "civil-2"))


def test_the_handling_department_is_the_one_escalated(case, scan, lead, make_staff, admin_headers):
    """After 民政局 approves, 住建局 handles the case: its lead hears of the delay, not 民政局's."""
    user, _ = make_staff("housing-lead", [{"role": "lead", "department_id": case.housing["id"]}])
    submitted = case.submit()
    [task] = case.todo(case.civil_1)
    case.act(case.civil_1, task)
    assert scan(overdue(submitted) + timedelta(minutes=1))["escalated"] == 1
    assert sent("escalated") == [(str(user.id), submitted["number"])]
    assert sent("reminder") == [(user_id(case, "housing-1"), submitted["number"])]


def test_a_paused_application_is_neither_reminded_nor_escalated(case, scan, lead):
    submitted = case.submit(good_data(months=5))
    [task] = case.todo(case.civil_1)
    case.act(case.civil_1, task, action="return", reason="请补正", fields=[{"path": "/months"}])
    assert scan(parse(submitted["due_at"]) + timedelta(days=30)) == {"reminded": 0, "escalated": 0}
    assert sent("reminder") == [] and sent("escalated") == []


def test_work_per_call_is_bounded(case, scan, lead):
    first = case.submit()
    case.submit(good_data(address="x"))
    later = overdue(first) + timedelta(days=1)
    assert scan(later, limit=1) == {"reminded": 1, "escalated": 1}
    assert scan(later, limit=1) == {"reminded": 1, "escalated": 1}
    assert scan(later, limit=1) == {"reminded": 0, "escalated": 0}


def test_a_lost_mark_sends_nothing_twice(case, scan, lead):
    """A worker that crashed after writing the messages but before marking the application: the next round
    finds it again and the outbox's dedupe keys keep the messages single."""
    from workflows.cases.applications.models import Application

    submitted = case.submit()
    later = overdue(submitted) + timedelta(days=1)
    scan(later)
    Application.objects(id=submitted["id"]).update_one(unset__reminded_at=True, unset__escalated_at=True)
    scan(later)
    assert len(sent("reminder")) == 2 and len(sent("escalated")) == 1


def test_lead_is_a_department_role(case, admin_headers, make_staff):
    user, _ = make_staff("no-dept-lead")
    r = case.client.post(f"/api/v1/users/{user.id}/roles", json={"role": "lead"}, headers=admin_headers)
    assert r.status_code == 422 and r.json["errors"][0]["path"] == "/department_id"
