"""What approvers expect on a phone: transfer, delegate, add a signer, return to an earlier step, copy, batch
approve; and the applicant's urge. Over HTTP, against the two-department case."""
from __future__ import annotations

from tests.applications_fixtures import case, good_data  # noqa: F401 (fixture)


def _user_id(case, headers):
    return case.client.get("/api/v1/me", headers=headers).json["id"]


def _only(case, headers):
    [task] = case.todo(headers)
    return task


def test_transfer_makes_the_task_the_colleagues(case):
    submitted = case.submit()
    task = _only(case, case.civil_1)
    error = case.act(case.civil_1, task, action="transfer", user_id=_user_id(case, case.housing_1), expect=422)
    assert error["errors"][0]["path"] == "/user_id"          # not an approver of this step's department
    moved = case.act(case.civil_1, task, action="transfer", user_id=_user_id(case, case.civil_2), comment="请你办")
    assert case.todo(case.civil_1) == [] and case.todo(case.civil_2)[0]["id"] == task["id"]
    case.act(case.civil_1, moved, expect=403)                  # visible to the department, but no longer mine
    case.act(case.civil_2, moved)
    actions = [e["action"] for e in case.application(submitted["id"])["timeline"]]
    assert actions == ["submitted", "transferred", "approved"]


def test_delegate_works_on_it_and_it_comes_back_to_decide(case, app):
    submitted = case.submit()
    task = _only(case, case.civil_1)
    delegated = case.act(case.civil_1, task, action="delegate", user_id=_user_id(case, case.civil_2))
    assert case.todo(case.civil_1) == []
    back = case.act(case.civil_2, delegated, comment="核对无误")   # the delegate's complete hands it back
    assert back["assignee"] == _user_id(case, case.civil_1) and back["status"] == "open"
    assert case.todo(case.housing_1) == []                     # the process did not move
    case.act(case.civil_1, back)
    assert len(case.todo(case.housing_1)) == 1
    timeline = case.application(submitted["id"])["timeline"]
    assert [e["action"] for e in timeline] == ["submitted", "delegated", "delegate_done", "approved"]
    assert timeline[2]["comment"] == "同意：核对无误"
    with app.app_context():
        from core import deferred
        from workflows.cases.notify.models import Notification
        deferred.deliver()      # the worker's round: the message rode in the application's write
        # (besides 待办 of the case, which the whole department heard of when it arrived)
        assert {n.kind for n in Notification.objects(user_id=_user_id(case, case.civil_2))} == {"delegated",
                                                                                               "task_assigned"}


def test_a_signer_before_me_and_after_me(case):
    first = case.submit()
    task = _only(case, case.civil_1)
    before = case.act(case.civil_1, task, action="add-signer", user_id=_user_id(case, case.civil_2),
                      position="before")
    back = case.act(case.civil_2, before, comment="同意受理")
    case.act(case.civil_1, back)
    assert [e["action"] for e in case.application(first["id"])["timeline"]] == [
        "submitted", "signer_added", "signed", "approved"]

    second = case.submit(good_data(address="y"))
    task = _only(case, case.civil_1)
    after = case.act(case.civil_1, task, action="add-signer", user_id=_user_id(case, case.civil_2),
                     position="after", decision="approve", comment="我同意")
    assert case.todo(case.civil_1) == [] and len(case.todo(case.housing_1)) == 1   # only the first case's
    case.act(case.civil_2, after, decision="reject", comment="居住证明不足")    # the signer decides
    final = case.application(second["id"])
    assert final["status"] == "rejected"
    assert [e["action"] for e in final["timeline"]] == ["submitted", "approved", "signer_added", "rejected"]


def test_return_to_an_earlier_step(case):
    submitted = case.submit()
    case.act(case.civil_1, _only(case, case.civil_1))
    recheck = _only(case, case.housing_1)
    targets = case.client.get(f"/api/v1/tasks/{recheck['id']}/return-targets", headers=case.housing_1).json
    assert targets == [{"element_id": "review", "name": "受理审核"}]
    error = case.act(case.housing_1, recheck, action="return-to", element_id="recheck", comment="x", expect=422)
    assert error["errors"][0]["path"] == "/element_id"
    case.act(case.housing_1, recheck, action="return-to", element_id="review", comment="请重新受理")
    again = _only(case, case.civil_1)
    assert again["name"] == "受理审核" and case.todo(case.housing_1) == []
    case.act(case.civil_1, again)
    case.act(case.housing_1, _only(case, case.housing_1))
    final = case.application(submitted["id"])
    assert final["status"] == "approved"
    assert [e["action"] for e in final["timeline"]] == ["submitted", "approved", "sent_back", "approved", "approved"]


def test_carbon_copy_gives_read_access_and_an_unread_list(case):
    case.submit(good_data(id_photo=case.photo()))
    task = _only(case, case.civil_1)
    housing_id = _user_id(case, case.housing_1)
    r = case.client.post(f"/api/v1/tasks/{task['id']}/cc", json={"user_ids": [housing_id], "comment": "请知悉"},
                         headers=case.civil_1)
    assert r.status_code == 200 and r.json == {"copied": 1}, r.json
    copies = case.client.get("/api/v1/tasks/copies", query_string={"unread": "true"}, headers=case.housing_1).json
    assert copies["total"] == 1 and copies["items"][0]["read"] is False
    detail = case.client.get(f"/api/v1/tasks/copies/{copies['items'][0]['id']}", headers=case.housing_1)
    assert detail.status_code == 200 and detail.json["data"]["id_card"].startswith("110***")
    photo = detail.json["attachments"][0]
    assert case.client.get(photo["thumbnail"], headers=case.housing_1).status_code == 302
    assert case.client.get("/api/v1/tasks/copies", query_string={"unread": "true"},
                           headers=case.housing_1).json["total"] == 0
    assert case.client.get(f"/api/v1/tasks/copies/{copies['items'][0]['id']}",
                           headers=case.civil_2).status_code == 404


def test_batch_approve_reports_each_outcome(case):
    case.submit()
    case.submit(good_data(address="z"))
    one, two = case.todo(case.civil_1)
    r = case.client.post("/api/v1/tasks/batch-complete", headers=case.civil_1, json={
        "decision": "approve", "items": [{"id": one["id"], "version": one["version"]},
                                         {"id": two["id"], "version": two["version"] + 5},
                                         {"id": "6b0000000000000000000000", "version": 1}]})
    assert r.status_code == 200
    assert [(x["status"], x["code"]) for x in r.json["results"]] == [(200, "ok"), (409, "conflict"),
                                                                     (404, "not_found")]
    assert len(case.todo(case.housing_1)) == 1 and len(case.todo(case.civil_1)) == 1


def test_urge_once_a_day(case, app):
    submitted = case.submit()
    task = _only(case, case.civil_1)
    case.act(case.civil_1, task, action="claim")
    r = case.client.post(f"/api/v1/applications/{submitted['id']}/urge", headers=case.resident)
    assert r.status_code == 200 and r.json["timeline"][-1]["action"] == "urged"
    again = case.client.post(f"/api/v1/applications/{submitted['id']}/urge", headers=case.resident)
    assert again.status_code == 429 and int(again.headers["Retry-After"]) > 0
    with app.app_context():
        from core import deferred
        from workflows.cases.notify.models import Notification
        deferred.deliver()        # the worker's round: the message rode in the application's write
        assert [n.user_id for n in Notification.objects(kind="urged")] == [_user_id(case, case.civil_1)]


def test_urging_a_task_nobody_has_claimed_reaches_the_departments_approvers(case, app):
    submitted = case.submit()
    assert _only(case, case.civil_1)["assignee"] is None
    r = case.client.post(f"/api/v1/applications/{submitted['id']}/urge", headers=case.resident)
    assert r.status_code == 200
    with app.app_context():
        from core import deferred
        from core.audit import AuditRecord
        from workflows.cases.notify.models import Notification
        deferred.deliver()
        told = sorted(n.user_id for n in Notification.objects(kind="urged"))
        assert told == sorted([_user_id(case, case.civil_1), _user_id(case, case.civil_2)])   # not housing's
        assert AuditRecord.objects(action="application.urge").get().details["handlers"] == 2


def test_the_task_list_reads_every_stored_field_its_rows_show():
    """The 待办 page reads plain rows with LIST_FIELDS: a field added to TaskOut must be read too."""
    from api.applications_schemas import TaskOut
    from workflows.cases.tasks.service import LIST_FIELDS

    computed = {"id", "overdue", "render_url"}
    assert set(TaskOut().fields) - computed <= set(LIST_FIELDS)
