"""Issue 23: 抄送 is a bounded, audited grant; 回避; timeline lines name no login names. Over HTTP, against the
two-department case (tests/applications_fixtures.py)."""
from __future__ import annotations

from datetime import timedelta

from tests.applications_fixtures import case, good_data  # noqa: F401 (fixture)


def _id(case, headers):
    return case.client.get("/api/v1/me", headers=headers).json["id"]


def _cc(case, headers, task, expect=200, **body):
    body.setdefault("user_ids", [])
    r = case.client.post(f"/api/v1/tasks/{task['id']}/cc", json=body, headers=headers)
    assert r.status_code == expect, r.json
    return r.json


def _copies(case, headers):
    return case.client.get("/api/v1/tasks/copies", headers=headers).json["items"]


# -- 抄送: who may copy ------------------------------------------------------------------------------------------

def test_only_an_approver_who_may_act_now_copies(case, make_staff):
    _, lead = make_staff("civil-lead", [{"role": "lead", "department_id": case.civil["id"]}])
    submitted = case.submit()
    [task] = case.todo(case.civil_1)
    housing = _id(case, case.housing_1)
    # a lead sees the task (escalations) but is no approver
    assert _cc(case, lead, task, 403, user_ids=[housing])["code"] == "task.cc_not_allowed"
    claimed = case.act(case.civil_1, task, action="claim")
    # a colleague cannot act on a task someone else holds: no copies either
    assert _cc(case, case.civil_2, claimed, 403, user_ids=[housing])["code"] == "task.cc_not_allowed"
    case.act(case.civil_1, claimed)
    # the approver who completed it may act on it no more
    assert _cc(case, case.civil_1, claimed, 403, user_ids=[housing])["code"] == "task.cc_not_allowed"
    [recheck] = case.todo(case.housing_1)
    case.act(case.housing_1, recheck)
    assert case.application(submitted["id"])["status"] == "approved"
    assert _cc(case, case.housing_1, recheck, 409, user_ids=[_id(case, case.civil_2)])["code"] == \
        "task.cc_case_closed"
    # a withdrawn case
    second = case.submit(good_data(address="二号"))
    [task] = case.todo(case.civil_1)
    r = case.client.post(f"/api/v1/applications/{second['id']}/withdraw",
                         json={"reason": "不办了", "version": second["version"]}, headers=case.resident)
    assert r.status_code == 200, r.json
    assert _cc(case, case.civil_1, task, 409, user_ids=[housing])["code"] == "task.cc_case_closed"
    assert _copies(case, case.housing_1) == []


def test_copies_go_to_staff_of_the_cases_departments_and_their_parents_only(case, make_staff, client, app,
                                                                          admin_headers):
    from bson import ObjectId

    from api.identity.models import Department

    city = client.post("/api/v1/departments", json={"code": "city", "name": "市政府"}, headers=admin_headers).json
    with app.app_context():      # civil sits under the city (as a tree an admin built)
        Department.objects(id=case.civil["id"]).update_one(set__parent_id=ObjectId(city["id"]),
                                                            set__path=[ObjectId(city["id"])])
    tax = client.post("/api/v1/departments", json={"code": "tax", "name": "税务局"}, headers=admin_headers).json
    _, outsider = make_staff("tax-1", [{"role": "approver", "department_id": tax["id"]}])
    _, mayor = make_staff("city-lead", [{"role": "lead", "department_id": city["id"]}])
    case.submit()
    [task] = case.todo(case.civil_1)
    refused = _cc(case, case.civil_1, task, 422, user_ids=[_id(case, case.housing_1), _id(case, outsider)])
    assert [e["path"] for e in refused["errors"]] == ["/user_ids/1"]
    assert _cc(case, case.civil_1, task, 422, department_id=tax["id"])["errors"][0]["path"] == "/department_id"
    assert _copies(case, outsider) == []
    # housing's lane is in the process (its step has not opened yet); the city is civil's parent
    assert _cc(case, case.civil_1, task, user_ids=[_id(case, case.housing_1), _id(case, mayor)]) == {"copied": 2}
    assert _cc(case, case.civil_1, task, department_id=case.housing["id"]) == {"copied": 0}   # housing-1 already


# -- 抄送: what a copy reads, for how long, and its record ----------------------------------------------------------

def test_a_copy_is_one_write_with_its_record_line_and_message(case, app):
    from core.audit import AuditRecord
    from workflows.cases.applications.models import Application
    from workflows.cases.notify.models import Notification
    from workflows.cases.tasks.models import CarbonCopy

    submitted = case.submit()
    [task] = case.todo(case.civil_1)
    housing = _id(case, case.housing_1)
    assert _cc(case, case.civil_1, task, user_ids=[housing], comment="请知悉") == {"copied": 1}
    with app.app_context():
        copy = CarbonCopy.objects.get(user_id=housing)
        assert AuditRecord.objects(action="task.cc").get().details["to"] == [housing]
        assert Notification.objects(kind="cc", user_id=housing).count() == 1
        assert Application.objects.get(id=submitted["id"]).deferred == []     # all of it delivered
        assert timedelta(days=29) < copy.expires_at - copy.created_at <= timedelta(days=30)
    line = case.application(submitted["id"])["timeline"][-1]
    assert line["action"] == "cc" and line["comment"] == "1 人：请知悉"
    # copied again: nothing new
    assert _cc(case, case.civil_1, task, user_ids=[housing]) == {"copied": 0}


def test_a_copy_reads_the_masked_case_until_it_ends_or_expires(case, app):
    from workflows.cases.tasks.models import CarbonCopy

    case.submit()
    [task] = case.todo(case.civil_1)
    _cc(case, case.civil_1, task, user_ids=[_id(case, case.housing_1), _id(case, case.civil_2)])
    [mine] = _copies(case, case.civil_2)
    detail = case.client.get(f"/api/v1/tasks/copies/{mine['id']}", headers=case.civil_2)
    assert detail.status_code == 200 and detail.json["data"]["id_card"].startswith("110***")
    with app.app_context():       # ZHANGBAN_CC_DAYS later
        from core import clock
        CarbonCopy.objects(id=mine["id"]).update_one(set__expires_at=clock.now() - timedelta(seconds=1))
    ended = case.client.get(f"/api/v1/tasks/copies/{mine['id']}", headers=case.civil_2)
    assert ended.status_code == 404
    # the case ends: the other copy stops reading too
    [housing_copy] = _copies(case, case.housing_1)
    case.act(case.civil_1, task)
    case.act(case.housing_1, case.todo(case.housing_1)[0])
    assert case.client.get(f"/api/v1/tasks/copies/{housing_copy['id']}", headers=case.housing_1).status_code == 404


def test_a_copys_full_photo_needs_a_reason_and_each_view_is_audited(case, app):
    from core.audit import AuditRecord

    case.submit(good_data(id_photo=case.photo()))
    [task] = case.todo(case.civil_1)
    _cc(case, case.civil_1, task, user_ids=[_id(case, case.housing_1)])
    [copy] = _copies(case, case.housing_1)
    [photo] = case.client.get(f"/api/v1/tasks/copies/{copy['id']}", headers=case.housing_1).json["attachments"]
    assert case.client.get(photo["thumbnail"], headers=case.housing_1).status_code == 302
    refused = case.client.get(photo["content"], headers=case.housing_1)
    assert refused.status_code == 403 and refused.json["message"].startswith("查看抄送办件的原图须说明理由")
    for _ in range(2):
        shown = case.client.get(photo["content"], query_string={"reason": "核对身份证原件"}, headers=case.housing_1)
        assert shown.status_code == 302
    with app.app_context():
        reads = AuditRecord.objects(action="attachment.read", actor_id=_id(case, case.housing_1),
                                    details__variant="full")
        assert [r.details.get("reason") for r in reads] == ["核对身份证原件", "核对身份证原件"]
    # the department handling it reads its files as before
    assert case.client.get(photo["content"], headers=case.civil_1).status_code == 302


# -- 回避 --------------------------------------------------------------------------------------------------------

def test_an_approver_never_acts_on_their_own_application(case, app):
    from core import deferred
    from workflows.cases.notify.models import Notification

    mine = case.submit(headers=case.civil_1)
    assert case.todo(case.civil_1) == []                               # not claimable for them
    with app.app_context():        # nor are they told of new work in their own case
        deferred.deliver()
        assert Notification.objects(kind="task_assigned", user_id=_id(case, case.civil_1)).count() == 0
        assert Notification.objects(kind="task_assigned", user_id=_id(case, case.civil_2)).count() == 1
    [task] = case.todo(case.civil_2)                                   # a colleague's, in the pool
    for action, body in (("claim", {}), ("complete", {}), ("return", {"reason": "x", "fields": [{"path": "/name"}]}),
                         ("transfer", {"user_id": _id(case, case.civil_2)})):
        refused = case.act(case.civil_1, task, action=action, expect=403, **body)
        assert refused["code"] == "task.recusal", action
    assert _cc(case, case.civil_1, task, 403, user_ids=[_id(case, case.housing_1)])["code"] == "task.recusal"
    counts = case.client.get("/api/v1/tasks/counts", headers=case.civil_1).json
    assert counts["todo"] == 0
    # nor is it handed to them
    case.act(case.civil_2, task, action="transfer", user_id=_id(case, case.civil_1), expect=422)
    case.act(case.civil_2, task)
    assert case.application(mine["id"], headers=case.civil_1)["timeline"][-1]["action"] == "approved"


def test_a_helper_never_acts_on_a_case_they_submitted_for_the_applicant(case, app):
    from workflows.cases.applications.models import Application

    submitted = case.submit()
    with app.app_context():      # as 帮办代办 records it: the staff member who submitted for the resident
        Application.objects(id=submitted["id"]).update_one(set__helper_id=_id(case, case.housing_1))
    case.act(case.civil_1, case.todo(case.civil_1)[0])
    assert case.todo(case.housing_1) == []
    with app.app_context():
        from workflows.cases.tasks.models import HumanTask
        row = HumanTask.objects(application_id=submitted["id"], status="open").get()
    refused = case.act(case.housing_1, {"id": str(row.id), "version": row.version}, action="claim", expect=403)
    assert refused["code"] == "task.recusal"



def test_a_resident_urging_their_case_reaches_colleagues_never_the_helper_who_submitted_it(case, app):
    from core import deferred
    from workflows.cases.applications.models import Application
    from workflows.cases.notify.models import Notification

    submitted = case.submit()
    with app.app_context():      # civil-2 submitted it for the resident (帮办代办): 回避
        Application.objects(id=submitted["id"]).update_one(set__helper_id=_id(case, case.civil_2))
        from workflows.cases.tasks.models import HumanTask
        HumanTask.objects(application_id=submitted["id"]).update(set__recused=[_id(case, case.civil_2)])
    r = case.client.post(f"/api/v1/applications/{submitted['id']}/urge", headers=case.resident)
    assert r.status_code == 200, r.json
    with app.app_context():
        deferred.deliver()
        urged = {n.user_id for n in Notification.objects(kind="urged")}
    assert urged == {_id(case, case.civil_1)}

# -- names on the timeline ---------------------------------------------------------------------------------------

def test_the_timeline_shows_display_names_or_the_department_never_login_names(case, make_staff):
    _, named = make_staff("civil-3", [{"role": "approver", "department_id": case.civil["id"]}])
    submitted = case.submit()
    [task] = case.todo(case.civil_1)
    moved = case.act(case.civil_1, task, action="transfer", user_id=_id(case, named), comment="请你办")
    _cc(case, named, moved, user_ids=[_id(case, case.housing_1)])
    case.act(named, moved)
    timeline = case.application(submitted["id"])["timeline"]
    shown = " ".join(f"{e.get('actor_name', '')} {e.get('comment', '')}" for e in timeline)
    for login in ("civil-1", "civil-3", "housing-1"):
        assert login not in shown
    assert [e["actor_name"] for e in timeline[1:]] == ["民政局", "民政局", "民政局"]
    assert timeline[1]["comment"] == "民政局：请你办"
    [copy] = _copies(case, case.housing_1)
    assert copy["from_name"] == "民政局"
