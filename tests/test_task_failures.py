"""What an approver's action that fails leaves behind: nothing. The task is open again at a new version, and the
application is as withdrawable as before (a failed approval used to leave `staff_acted` set for good)."""
from __future__ import annotations

from tests.applications_fixtures import TWO_DEPARTMENTS, case, good_data, publish_process, publish_service  # noqa: F401

# The same case, except that the gateway after 受理审核 divides by zero: every approval meets an incident.
FAILING = TWO_DEPARTMENTS.replace('id="residence_permit"', 'id="failing_permit"').replace(
    'processRef="residence_permit"', 'processRef="failing_permit"').replace(
    "months &gt;= 6", "months / 0 &gt;= 6")


def _failing_case(case):
    publish_process(case.client, case.designer, case.civil["id"], "failing_permit", FAILING)
    publish_service(case.client, case.designer, "failing", case.civil["id"], "residence_apply", "failing_permit")
    r = case.client.post("/api/v1/applications", json={"service_code": "failing", "data": good_data(), "submit": True},
                         headers=case.resident)
    assert r.status_code == 201, r.json
    return r.json


def test_a_failed_approval_leaves_the_application_withdrawable(case):
    submitted = _failing_case(case)
    [task] = case.todo(case.civil_1)
    error = case.act(case.civil_1, task, expect=422)
    assert error["code"] == "workflow_incident" and error["errors"][0]["element_id"] == "gw"
    [again] = case.todo(case.civil_1)                         # the task is open again, at a new version
    assert again["id"] == task["id"] and again["version"] > task["version"]
    mine = case.application(submitted["id"])
    assert mine["withdrawable"] is True and mine["status"] == "submitted"
    assert [e["action"] for e in mine["timeline"]] == ["submitted"]
    r = case.client.post(f"/api/v1/applications/{submitted['id']}/withdraw",
                         json={"version": mine["version"], "reason": "不办了"}, headers=case.resident)
    assert r.status_code == 200 and r.json["status"] == "withdrawn"
    assert case.todo(case.civil_1) == []


def test_after_an_approval_that_went_through_a_failure_elsewhere_does_not_unlock_withdrawing(case):
    # the first case is approved (staff acted for good); a second one fails: only the second stays withdrawable
    done = case.submit()
    [task] = case.todo(case.civil_1)
    case.act(case.civil_1, task)
    assert case.application(done["id"])["withdrawable"] is False
    failing = _failing_case(case)
    [task] = case.todo(case.civil_1)
    case.act(case.civil_1, task, expect=422)
    assert case.application(failing["id"])["withdrawable"] is True
    assert case.application(done["id"])["withdrawable"] is False


def test_a_signer_after_me_that_cannot_be_handed_the_task_leaves_no_opinion_and_no_mark(case):
    submitted = case.submit()
    [task] = case.todo(case.civil_1)
    housing = case.client.get("/api/v1/me", headers=case.housing_1).json["id"]
    error = case.act(case.civil_1, task, action="add-signer", user_id=housing, position="after",
                     decision="approve", comment="我同意", expect=422)
    assert error["errors"][0]["path"] == "/user_id"
    mine = case.application(submitted["id"])
    assert mine["withdrawable"] is True and [e["action"] for e in mine["timeline"]] == ["submitted"]
