"""A step that fails in the worker is a state of the case: the resident sees it is being handled, the department
gets a task, and an approver retries the step or ends the case with a reason (workflows/cases/tasks/incidents.py)."""
from __future__ import annotations

from datetime import timedelta

from tests.applications_fixtures import good_data
from tests.test_case_outcomes import (TIMED_OUT, end, flow, people, process, serve, stored,  # noqa: F401
                                     user_task)

# after 5 days a script runs that fails (it divides by the start data's `zero`), then the case ends rejected
FAILING_TIMER = process("failing_timer", {"civil": ["start", "review", "timeout", "count", "done", "late"]}, (
    user_task("review", "受理审核", "f1", "f2")
    + '<bpmn:boundaryEvent id="timeout" attachedToRef="review" cancelActivity="true"><bpmn:outgoing>f3</bpmn:outgoing>'
      '<bpmn:timerEventDefinition id="t"><bpmn:timeDuration>"P5D"</bpmn:timeDuration></bpmn:timerEventDefinition>'
      '</bpmn:boundaryEvent>'
    + '<bpmn:scriptTask id="count" name="逾期计数"><bpmn:incoming>f3</bpmn:incoming><bpmn:outgoing>f4</bpmn:outgoing>'
      '<bpmn:script>late_days = 5 // (months - months)</bpmn:script></bpmn:scriptTask>'
    + end("done", "f2", "approved") + end("late", "f4", "rejected")
    + flow("f1", "start", "review") + flow("f2", "review", "done") + flow("f3", "timeout", "count")
    + flow("f4", "count", "late")))


def fire(days=8):
    from core import clock
    from workflows.cases.applications import case_state
    from workflows.cases.tasks import incidents

    return case_state.fire_due_timers(now=clock.now() + timedelta(days=days), on_incident=incidents.opened)


def incident_tasks(case, headers):
    return [t for t in case.todo(headers) if t["kind"] == "incident"]


def test_a_failed_timer_step_shows_on_the_case_and_opens_a_task_for_the_department(people, app):
    from core import deferred
    from workflows.cases.notify.models import Notification

    case = serve(people, "failing_timer", FAILING_TIMER)
    submitted = case.submit()
    assert fire().failed == 1
    shown = case.application(submitted["id"])
    assert shown["status"] == "submitted"
    assert (shown["timeline"][-1]["action"], shown["timeline"][-1]["comment"]) == ("incident", "办理中，工作人员正在处理")
    [task] = incident_tasks(case, case.civil_1)
    assert case.todo(case.housing_1) == []
    detail = case.client.get(f"/api/v1/tasks/{task['id']}", headers=case.civil_1).json
    assert detail["incident"]["element_id"] == "count" and detail["incident"]["kind"] == "error"
    assert "months" not in str(detail["incident"])       # the error's text (it may quote data) is not shown
    deferred.deliver()
    designer_id = case.client.get("/api/v1/me", headers=case.designer).json["id"]
    assert Notification.objects(kind="escalated", user_id=designer_id).count() == 1   # which element failed
    # the same failure handed over twice (two workers, a retried round) opens one task
    from workflows.cases.tasks import incidents
    _, instance = stored(submitted["id"])
    assert incidents.opened(instance.id) is False
    assert len(incident_tasks(case, case.civil_1)) == 1


def test_retrying_runs_the_step_again_and_a_new_failure_opens_a_new_task(people, app):
    case = serve(people, "failing_timer", FAILING_TIMER)
    submitted = case.submit()
    fire()
    [task] = incident_tasks(case, case.civil_1)
    case.act(case.civil_1, task, decision="approve", comment="已修复，重试")
    _, instance = stored(submitted["id"])
    assert instance.status == "running" and instance.next_timer_at is not None
    assert case.application(submitted["id"])["timeline"][-1]["action"] == "incident_retried"
    assert fire().failed == 1                                # still failing: a second task
    [second] = incident_tasks(case, case.civil_1)
    assert second["id"] != task["id"]
    stale = case.act(case.civil_1, task, decision="approve", expect=409)
    assert stale["code"] == "conflict"


def test_ending_the_case_at_an_incident_rejects_it_with_the_reason(people, app):
    case = serve(people, "failing_timer", FAILING_TIMER)
    submitted = case.submit()
    fire()
    [task] = incident_tasks(case, case.civil_1)
    refused = case.act(case.civil_1, task, decision="reject", comment="", expect=422)
    assert refused["errors"][0]["path"] == "/comment"
    case.act(case.civil_1, task, decision="reject", comment="逾期未办结，不予受理")
    shown = case.application(submitted["id"])
    assert (shown["status"], shown["result"]["decision"], shown["result"]["reason"]) == \
        ("rejected", "rejected", "逾期未办结，不予受理")
    _, instance = stored(submitted["id"])
    assert (instance.status, instance.outcome, instance.end_event) == ("completed", "rejected", "count")
    assert case.todo(case.civil_1) == []                     # the review and the incident: nothing left open


FAILING_START = process("failing_start", {"civil": ["start", "count", "review", "done"]}, (
    '<bpmn:scriptTask id="count" name="预审"><bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing>'
    '<bpmn:script>share = 5 // (months - months)</bpmn:script></bpmn:scriptTask>'
    + user_task("review", "受理审核", "f2", "f3") + end("done", "f3")
    + flow("f1", "start", "count") + flow("f2", "count", "review") + flow("f3", "review", "done")))


def test_a_submission_whose_first_step_fails_keeps_nothing_and_tells_the_designers_which_element(people, app):
    from workflows.cases.applications.models import Application
    from workflows.bpmn.models import Instance
    from workflows.cases.notify.models import Notification

    case = serve(people, "failing_start", FAILING_START)
    for _ in range(2):
        r = case.client.post("/api/v1/applications", headers=case.resident,
                             json={"service_code": "residence", "submit": True, "data": good_data()})
        assert r.status_code == 503 and r.json["code"] == "unavailable", r.json
    assert Application.objects.count() == 0 and Instance.objects(is_test=False).count() == 0
    designer_id = case.client.get("/api/v1/me", headers=case.designer).json["id"]
    told = Notification.objects(kind="escalated", user_id=designer_id)
    assert [n.body for n in told] == ["count（error）"]          # once for the element, not once per resident


def _publish_again(case, key, bpmn_xml):
    """A designer's fix: the draft changed and published as the next version."""
    from tests.applications_fixtures import PROCESSES

    draft = case.client.get(f"{PROCESSES}/{key}", headers=case.designer)
    assert draft.status_code == 200, draft.json
    r = case.client.put(f"{PROCESSES}/{key}", json={"bpmn_xml": bpmn_xml}, headers={
        **case.designer, "If-Match": draft.headers["ETag"]})
    assert r.status_code == 200, r.json
    r = case.client.post(f"{PROCESSES}/{key}/publish", headers=case.designer)
    assert r.status_code == 201, r.json
    return r.json["version"]


def test_a_retry_after_the_designer_publishes_a_fix_runs_the_step_on_the_fixed_version(people, app):
    case = serve(people, "failing_timer", FAILING_TIMER)
    submitted = case.submit()
    fire()
    assert _publish_again(case, "failing_timer", FAILING_TIMER.replace("5 // (months - months)", "5")) == 2
    [task] = incident_tasks(case, case.civil_1)
    case.act(case.civil_1, task, decision="approve", comment="流程已修正")
    _, instance = stored(submitted["id"])
    assert (instance.status, instance.process_version_number) == ("running", 2)
    assert "按流程第 2 版重试（原第 1 版）" in case.application(submitted["id"])["timeline"][-1]["comment"]
    assert fire().failed == 0                                 # the fixed script runs; the case reaches its end
    shown = case.application(submitted["id"])
    assert (shown["status"], shown["result"]["decision"]) == ("rejected", "rejected")
    application, instance = stored(submitted["id"])
    assert (instance.end_event, instance.outcome) == ("late", "rejected")
    assert case.todo(case.civil_1) == []


# the same process with the failing script taken out: the timeout goes straight to its end (test_case_outcomes'
# TIMED_OUT, published under this process's key)
WITHOUT_THE_SCRIPT = TIMED_OUT.replace('<bpmn:process id="timed_out"', '<bpmn:process id="failing_timer"')


def test_a_fix_that_drops_an_element_the_case_used_keeps_the_retry_on_its_own_version(people, app):
    case = serve(people, "failing_timer", FAILING_TIMER)
    submitted = case.submit()
    fire()
    _publish_again(case, "failing_timer", WITHOUT_THE_SCRIPT)
    [task] = incident_tasks(case, case.civil_1)
    case.act(case.civil_1, task, decision="approve")
    _, instance = stored(submitted["id"])
    assert (instance.status, instance.process_version_number) == ("running", 1)
    assert "新版流程缺少环节 count" in case.application(submitted["id"])["timeline"][-1]["comment"]
    assert fire().failed == 1                                 # still the old, failing definition
