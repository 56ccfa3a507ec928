"""A resident's application from submit to result, and the approver inbox around it, over HTTP."""
from __future__ import annotations

from tests.applications_fixtures import ID_CARD, case, good_data  # noqa: F401 (fixture)


def test_submit_approve_twice_and_the_resident_sees_the_result(case):
    submitted = case.submit()
    assert submitted["status"] == "submitted" and submitted["number"].startswith("ZB")
    assert len(submitted["number"]) == 15 and submitted["data"]["id_card"] == ID_CARD   # the owner sees it clear
    assert [s["name"] for s in submitted["current_steps"]] == ["受理审核"]
    assert submitted["current_steps"][0]["department"] == case.civil["id"]

    assert case.todo(case.housing_1) == []                 # not housing's turn yet
    [task] = case.todo(case.civil_1)
    assert task["application_number"] == submitted["number"] and task["applicant_name"] == ""
    detail = case.client.get(f"/api/v1/tasks/{task['id']}", headers=case.civil_1).json
    assert detail["data"]["id_card"] == "110***********002X" and detail["data"]["phone"] == "138****5678"

    case.act(case.civil_1, task, comment="材料齐全", data={"checked_originals": True})
    assert case.todo(case.civil_1) == [] and case.todo(case.civil_2) == []
    middle = case.application(submitted["id"])
    assert middle["status"] == "submitted" and [s["name"] for s in middle["current_steps"]] == ["住建复核"]
    assert [e["action"] for e in middle["timeline"]] == ["submitted", "approved"]
    assert middle["timeline"][1]["comment"] == "材料齐全" and middle["timeline"][1]["actor_name"] == "民政局"   # never a login name
    assert middle["withdrawable"] is False

    [recheck] = case.todo(case.housing_1)
    case.act(case.housing_1, recheck, comment="同意")
    done = case.application(submitted["id"])
    assert done["status"] == "approved" and done["result"]["decision"] == "approved" and done["current_steps"] == []
    done_list = case.client.get("/api/v1/tasks", query_string={"box": "done"}, headers=case.civil_1).json
    assert [t["outcome"] for t in done_list["items"]] == ["approved"]


def test_a_rejection_needs_a_comment_and_ends_the_case(case):
    submitted = case.submit()
    [task] = case.todo(case.civil_1)
    error = case.act(case.civil_1, task, decision="reject", expect=422)
    assert error["errors"][0]["path"] == "/comment"
    case.act(case.civil_1, task, decision="reject", comment="居住不满六个月")
    done = case.application(submitted["id"])
    assert done["status"] == "rejected" and done["result"]["reason"] == "居住不满六个月"


def test_the_gateway_reads_the_form_values_as_numbers(case):
    submitted = case.submit(good_data(months=3))
    [task] = case.todo(case.civil_1)
    case.act(case.civil_1, task)             # approved, but months < 6: the gateway takes the default flow …
    shown = case.application(submitted["id"])
    assert shown["status"] == "rejected"     # … to the end that declares the case rejected: the process decides
    assert shown["result"]["decision"] == "rejected"
    assert case.todo(case.housing_1) == []


def test_bad_form_data_is_refused_with_pointers_and_nothing_is_written(case, app):
    r = case.client.post("/api/v1/applications", json={"service_code": "residence", "submit": True,
                                                       "data": good_data(id_card="110105194912310021", months="x")},
                         headers=case.resident)
    assert r.status_code == 422
    assert {e["path"] for e in r.json["errors"]} >= {"/id_card", "/months"}
    with app.app_context():
        from workflows.cases.applications.models import Application
        from workflows.bpmn.models import Instance
        assert Application.objects.count() == 0 and Instance.objects(is_test=False).count() == 0


def test_unknown_service_and_task_form_data(case):
    r = case.client.post("/api/v1/applications", json={"service_code": "nope", "submit": True, "data": {}},
                         headers=case.resident)
    assert r.status_code == 422 and r.json["errors"][0]["path"] == "/service_code"
    case.submit()
    [task] = case.todo(case.civil_1)
    error = case.act(case.civil_1, task, data={"checked_originals": "maybe", "extra": 1}, expect=422)
    assert {e["path"] for e in error["errors"]} >= {"/data/checked_originals"}


def test_a_resident_sees_only_their_own(case, resident_login):
    from tests.conftest import bearer

    mine = case.submit()
    other = bearer(resident_login()["access_token"])
    assert case.client.get(f"/api/v1/applications/{mine['id']}", headers=other).status_code == 404
    assert case.client.get("/api/v1/applications", headers=other).json["total"] == 0
    r = case.client.post(f"/api/v1/applications/{mine['id']}/withdraw", json={"version": mine["version"]},
                         headers=other)
    assert r.status_code == 404 and r.json["code"] == "not_found"


def test_approvers_see_only_their_departments_tasks(case):
    case.submit()
    [task] = case.todo(case.civil_1)
    assert case.client.get(f"/api/v1/tasks/{task['id']}", headers=case.housing_1).status_code == 404
    r = case.client.post(f"/api/v1/tasks/{task['id']}/complete", json={"version": task["version"],
                                                                       "decision": "approve"},
                         headers=case.housing_1)
    assert r.status_code == 404
    assert case.client.get(f"/api/v1/tasks/{task['id']}", headers=case.resident).status_code == 404


def test_claim_makes_it_mine_and_a_colleague_cannot_act(case):
    case.submit()
    [task] = case.todo(case.civil_1)
    claimed = case.act(case.civil_1, task, action="claim")
    assert claimed["assignee"] and case.todo(case.civil_2) == [] and len(case.todo(case.civil_1)) == 1
    r = case.client.get(f"/api/v1/tasks/{task['id']}", headers=case.civil_2)
    assert r.status_code == 200                     # visible to the department
    case.act(case.civil_2, claimed, expect=403)
    case.act(case.civil_1, task, expect=409)        # the version moved on with the claim
    unclaimed = case.act(case.civil_1, claimed, action="unclaim")
    assert len(case.todo(case.civil_2)) == 1
    case.act(case.civil_2, unclaimed)


def test_withdraw_until_an_approver_acts(case):
    first = case.submit()
    withdrawn = case.client.post(f"/api/v1/applications/{first['id']}/withdraw",
                                 json={"version": first["version"], "reason": "填错了"}, headers=case.resident)
    assert withdrawn.status_code == 200 and withdrawn.json["status"] == "withdrawn"
    assert case.todo(case.civil_1) == []
    second = case.submit(good_data(address="人民路 2 号"))
    [task] = case.todo(case.civil_1)
    case.act(case.civil_1, task)
    late = case.client.post(f"/api/v1/applications/{second['id']}/withdraw", json={"version": second["version"]},
                            headers=case.resident)
    assert late.status_code == 409 and late.json["code"] == "conflict"


def test_return_for_supplement_then_resubmit_into_the_same_step(case):
    submitted = case.submit(good_data(months=5))
    [task] = case.todo(case.civil_1)
    error = case.act(case.civil_1, task, action="return", reason="x", fields=[{"path": "/nope"}], expect=422)
    assert error["errors"][0]["path"] == "/fields/0/path"
    case.act(case.civil_1, task, action="return", reason="居住月数有误",
             fields=[{"path": "/months", "reason": "请按居住证明填写"}])
    returned = case.application(submitted["id"])
    assert returned["status"] == "returned" and returned["return_request"]["fields"][0]["path"] == "/months"
    assert case.todo(case.civil_1) == []

    r = case.client.post(f"/api/v1/applications/{submitted['id']}/supplement",
                         json={"version": returned["version"], "data": good_data(months=12, phone="13900001111")},
                         headers=case.resident)
    assert r.status_code == 422 and r.json["errors"][0]["path"] == "/data/phone"
    r = case.client.post(f"/api/v1/applications/{submitted['id']}/supplement",
                         json={"version": returned["version"], "data": good_data(months=12)}, headers=case.resident)
    assert r.status_code == 200, r.json
    assert r.json["status"] == "submitted" and r.json["data"]["months"] == 12
    [again] = case.todo(case.civil_1)
    assert again["id"] == task["id"]
    case.act(case.civil_1, again)
    # months is now 12: the gateway sends it on to housing, so the process saw the corrected value
    assert len(case.todo(case.housing_1)) == 1
    actions = [e["action"] for e in case.application(submitted["id"])["timeline"]]
    assert actions == ["submitted", "returned", "supplemented", "approved"]


def test_drafts_autosave_and_submit(case):
    r = case.client.post("/api/v1/applications", json={"service_code": "residence", "data": {"name": "张"}},
                         headers=case.resident)
    assert r.status_code == 201 and r.json["status"] == "draft" and r.json["number"] is None
    draft = r.json
    saved = case.client.put(f"/api/v1/applications/{draft['id']}", json={"version": draft["version"],
                                                                        "data": good_data()}, headers=case.resident)
    assert saved.status_code == 200
    stale = case.client.put(f"/api/v1/applications/{draft['id']}", json={"version": draft["version"], "data": {}},
                            headers=case.resident)
    assert stale.status_code == 409
    sent = case.client.post(f"/api/v1/applications/{draft['id']}/submit", json={"version": saved.json["version"]},
                            headers=case.resident)
    assert sent.status_code == 200 and sent.json["status"] == "submitted" and sent.json["number"]
    assert len(case.todo(case.civil_1)) == 1


def test_idempotency_key_returns_the_same_application(case, app):
    first = case.submit(key="k-1")
    again = case.submit(key="k-1", expect=200)
    assert again["id"] == first["id"] and again["number"] == first["number"]
    with app.app_context():
        from workflows.bpmn.models import Instance
        assert Instance.objects(is_test=False).count() == 1


def test_attachments_must_be_mine_and_handlers_may_read_them(case, resident_login):
    from tests.conftest import bearer

    other = bearer(resident_login()["access_token"])
    theirs = case.photo(other)
    r = case.client.post("/api/v1/applications", json={"service_code": "residence", "submit": True,
                                                       "data": good_data(id_photo=theirs)}, headers=case.resident)
    assert r.status_code == 422
    mine = case.photo()
    assert case.client.get(f"/api/v1/attachments/{mine}", headers=case.civil_1).status_code == 404
    case.submit(good_data(id_photo=mine))
    [task] = case.todo(case.civil_1)
    detail = case.client.get(f"/api/v1/tasks/{task['id']}", headers=case.civil_1).json
    assert detail["attachments"][0]["id"] == mine
    assert case.client.get(detail["attachments"][0]["thumbnail"], headers=case.civil_1).status_code == 302
    assert case.client.get(f"/api/v1/attachments/{mine}", headers=case.housing_1).status_code == 404


def test_counts_and_filters(case):
    case.submit()
    case.submit(good_data(address="x"))
    counts = case.client.get("/api/v1/tasks/counts", headers=case.civil_1).json
    assert counts == {"todo": 2, "overdue": 0, "done": 0, "cap": 100}
    assert case.todo(case.civil_1, service="other") == []
    assert case.todo(case.civil_1, overdue="true") == []


def test_an_inbox_page_reads_one_row_past_itself_and_counts_nothing(case, settings):
    """A page reads one row past its end to tell whether more may follow (`total_capped`); no command counts the
    list (counting it read every row on the embedded database)."""
    from tests.commands import counting_commands

    for months in (6, 7, 8):
        case.submit(good_data(months=months))

    def page(**query):
        with counting_commands(settings) as counts:
            body = case.client.get("/api/v1/tasks", query_string=query, headers=case.civil_1).json
        return (body["total"], body["total_capped"], len(body["items"]),
                counts[("aggregate", "human_tasks")] + counts[("count", "human_tasks")])

    assert page(page_size=20) == (3, False, 3, 0)       # all of them
    assert page(page_size=2) == (3, True, 2, 0)         # more may follow
    assert page(page_size=2, page=2) == (3, False, 1, 0)
    assert page(page_size=3) == (3, False, 3, 0)
    assert page(page_size=2, page=3) == (3, False, 0, 0)
    assert page(page_size=20, service="other") == (0, False, 0, 0)


def test_the_applicant_is_notified_once_per_event(case, app):
    submitted = case.submit(good_data(months=5))
    [task] = case.todo(case.civil_1)
    case.act(case.civil_1, task, action="return", reason="请补正", fields=[{"path": "/months"}])
    returned = case.application(submitted["id"])
    case.client.post(f"/api/v1/applications/{submitted['id']}/supplement",
                     json={"version": returned["version"], "data": good_data(months=3)}, headers=case.resident)
    [again] = case.todo(case.civil_1)
    case.act(case.civil_1, again, decision="reject", comment="不满六个月")
    with app.app_context():
        from core import deferred
        from workflows.cases.notify.models import Notification
        deferred.deliver()    # submit's and the decision's messages ride in the application until the worker
        sent = list(Notification.objects(user_id__ne=None, kind__ne="task_assigned").order_by("created_at"))
        assert [n.kind for n in sent] == ["submitted", "returned", "rejected"]
        assert {n.user_id for n in sent} == {case.client.get("/api/v1/me", headers=case.resident).json["id"]}
        assert {n.application_number for n in sent} == {submitted["number"]}
        assert all(n.wechat_status == "pending" and n.read_at is None for n in sent)
        # the department's two approvers were told once that the review waits for them (the submit opened it)
        assert Notification.objects(kind="task_assigned").count() == 2


def test_a_timer_moves_the_case_and_the_inbox_follows(case, app, make_staff):
    """docs/bpmn/boundary_timers.bpmn: after 5 days the review is taken away and escalated."""
    from datetime import timedelta

    from core import clock
    from tests.applications_fixtures import publish_process, publish_service
    from tests.workflows_fixtures import example

    publish_process(case.client, case.designer, case.civil["id"], "boundary_timers", example("boundary_timers.bpmn"))
    publish_service(case.client, case.designer, "timed", case.civil["id"], "residence_apply", "boundary_timers",
                    name="限时事项")
    r = case.client.post("/api/v1/applications", json={"service_code": "timed", "submit": True,
                                                       "data": good_data()}, headers=case.resident)
    assert r.status_code == 201, r.json
    [review] = case.todo(case.civil_1)
    with app.app_context():
        from workflows.cases.applications import case_state
        assert case_state.fire_due_timers(now=clock.now() + timedelta(days=6)).fired >= 1
    [escalated] = case.todo(case.civil_1)
    assert escalated["name"] == "超时转领导审核" and escalated["id"] != review["id"]
    detail = case.application(r.json["id"])
    assert [s["name"] for s in detail["current_steps"]] == ["超时转领导审核"]
    case.act(case.civil_1, escalated)
    assert case.application(r.json["id"])["status"] == "approved"


def test_a_submit_and_an_approval_are_one_audit_record_each_naming_the_instance(case, app):
    from core import deferred
    from core.audit import AuditRecord
    from workflows.cases.applications.models import Application
    from workflows.cases.tasks.models import HumanTask

    AuditRecord.objects.delete()     # the fixture's set-up (drafts, publishing) is not what this counts
    submitted = case.submit()
    [task] = case.todo(case.civil_1)
    approved = case.act(case.civil_1, task, comment="材料齐全", data={"checked_originals": True})
    stored = HumanTask.objects(id=task["id"]).get()
    assert (approved["status"], approved["outcome"], approved["version"]) == (stored.status, "approved",
                                                                             stored.version)
    assert AuditRecord.objects.count() == 0      # carried by the application's writes until the worker moves them
    deferred.deliver()
    records = [(r.action, r.details) for r in AuditRecord.objects.order_by("at")]
    assert [action for action, _ in records] == ["application.submit", "task.approve"]
    instance_id = str(Application.objects(id=submitted["id"]).get().instance_id)
    assert records[0][1]["instance"] == records[1][1]["instance"] == instance_id
    assert records[1][1]["task_id"] == stored.task_id
