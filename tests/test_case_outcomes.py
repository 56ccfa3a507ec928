"""A case's result is the end its process reached, and every step reaches the case through one writer
(docs/bpmn.md "办结结果", workflows/bpmn/engine/outcome.py, workflows/cases/applications/case_state.py)."""
from __future__ import annotations

from datetime import timedelta

import pytest

from tests.applications_fixtures import good_data, publish_form, publish_process, publish_service, staffed

NS = ('xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" '
      'xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core" id="d" targetNamespace="http://z.example"')


def props(**values) -> str:
    inner = "".join(f'<spiffworkflow:property name="{k}" value="{v}" />' for k, v in values.items())
    return f"<bpmn:extensionElements><spiffworkflow:properties>{inner}</spiffworkflow:properties></bpmn:extensionElements>"


def user_task(element_id, name, incoming, outgoing, **extra):
    return (f'<bpmn:userTask id="{element_id}" name="{name}">{props(formKey="review", **extra)}'
            f'<bpmn:incoming>{incoming}</bpmn:incoming><bpmn:outgoing>{outgoing}</bpmn:outgoing></bpmn:userTask>')


def end(element_id, incoming, outcome=None):
    return (f'<bpmn:endEvent id="{element_id}">{props(outcome=outcome) if outcome else ""}'
            f'<bpmn:incoming>{incoming}</bpmn:incoming></bpmn:endEvent>')


def flow(flow_id, source, target, condition=None):
    body = f"<bpmn:conditionExpression>{condition}</bpmn:conditionExpression>" if condition else ""
    return f'<bpmn:sequenceFlow id="{flow_id}" sourceRef="{source}" targetRef="{target}">{body}</bpmn:sequenceFlow>'


def process(key, lanes: dict, body: str) -> str:
    lane_xml = "".join(f'<bpmn:lane id="l_{name}" name="{name}">'
                       + "".join(f"<bpmn:flowNodeRef>{n}</bpmn:flowNodeRef>" for n in nodes) + "</bpmn:lane>"
                       for name, nodes in lanes.items())
    return (f'<?xml version="1.0" encoding="UTF-8"?><bpmn:definitions {NS}>'
            f'<bpmn:process id="{key}" isExecutable="true"><bpmn:laneSet id="ls">{lane_xml}</bpmn:laneSet>'
            f'<bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>{body}'
            f"</bpmn:process></bpmn:definitions>")


# review → gateway: 6 months or more → 通过 (approved); otherwise → 不符合条件 (rejected)
GATEWAY_TO_REJECTED = process("gated", {"civil": ["start", "review", "gw", "ok", "no"]}, (
    user_task("review", "受理审核", "f1", "f2")
    + '<bpmn:exclusiveGateway id="gw" default="f_no"><bpmn:incoming>f2</bpmn:incoming>'
      '<bpmn:outgoing>f_ok</bpmn:outgoing><bpmn:outgoing>f_no</bpmn:outgoing></bpmn:exclusiveGateway>'
    + end("ok", "f_ok", "approved") + end("no", "f_no", "rejected")
    + flow("f1", "start", "review") + flow("f2", "review", "gw") + flow("f_ok", "gw", "ok", "months &gt;= 6")
    + flow("f_no", "gw", "no")))

# 受理审核 (civil) → 住建复核 (housing) → end, no gateway
TWO_IN_A_ROW = process("in_a_row", {"civil": ["start", "review"], "housing": ["recheck", "end"]}, (
    user_task("review", "受理审核", "f1", "f2") + user_task("recheck", "住建复核", "f2", "f3") + end("end", "f3")
    + flow("f1", "start", "review") + flow("f2", "review", "recheck") + flow("f3", "recheck", "end")))

# 不同意 at the review is routed: a second look (复议) decides
ROUTED = process("routed", {"civil": ["start", "review", "gw", "reconsider", "ok", "no"]}, (
    user_task("review", "受理审核", "f1", "f2", onReject="route")
    + '<bpmn:exclusiveGateway id="gw" default="f_again"><bpmn:incoming>f2</bpmn:incoming>'
      '<bpmn:outgoing>f_yes</bpmn:outgoing><bpmn:outgoing>f_again</bpmn:outgoing></bpmn:exclusiveGateway>'
    + user_task("reconsider", "复议", "f_again", "f4")
    + end("ok", "f_yes", "approved") + end("no", "f4", "approved")
    + flow("f1", "start", "review") + flow("f2", "review", "gw") + flow("f_yes", "gw", "ok", "approved")
    + flow("f_again", "gw", "reconsider") + flow("f4", "reconsider", "no")))

# the review has 5 days; then an interrupting timer takes it away and the case ends 逾期不予受理 (rejected)
TIMED_OUT = process("timed_out", {"civil": ["start", "review", "timeout", "done", "late"]}, (
    user_task("review", "受理审核", "f1", "f2")
    + '<bpmn:boundaryEvent id="timeout" attachedToRef="review" cancelActivity="true"><bpmn:outgoing>f3</bpmn:outgoing>'
      '<bpmn:timerEventDefinition id="t"><bpmn:timeDuration>"P5D"</bpmn:timeDuration></bpmn:timerEventDefinition>'
      '</bpmn:boundaryEvent>'
    + end("done", "f2", "approved") + end("late", "f3", "rejected")
    + flow("f1", "start", "review") + flow("f2", "review", "done") + flow("f3", "timeout", "late")))

# as TIMED_OUT, but the timeout goes on to a leader's review (in another department)
TIMED_ESCALATION = process("timed_escalation", {"civil": ["start", "review", "timeout", "done"],
                                                "housing": ["leader", "leader_done"]}, (
    user_task("review", "受理审核", "f1", "f2")
    + '<bpmn:boundaryEvent id="timeout" attachedToRef="review" cancelActivity="true"><bpmn:outgoing>f3</bpmn:outgoing>'
      '<bpmn:timerEventDefinition id="t"><bpmn:timeDuration>"P5D"</bpmn:timeDuration></bpmn:timerEventDefinition>'
      '</bpmn:boundaryEvent>'
    + user_task("leader", "超时转领导审核", "f3", "f4")
    + end("done", "f2", "approved") + end("leader_done", "f4", "approved")
    + flow("f1", "start", "review") + flow("f2", "review", "done") + flow("f3", "timeout", "leader")
    + flow("f4", "leader", "leader_done")))


@pytest.fixture
def people(app, client, make_staff, make_department, resident_headers):
    return staffed(client, make_staff, make_department, resident_headers)


def serve(people, key, bpmn):
    """`bpmn` published as the service `residence` (what Case.submit applies for)."""
    publish_process(people.client, people.designer, people.civil["id"], key, bpmn)
    publish_service(people.client, people.designer, "residence", people.civil["id"], "residence_apply", key)
    return people


def stored(app_id):
    from workflows.cases.applications.models import Application
    from workflows.bpmn.models import Instance

    application = Application.objects(id=app_id).get()
    return application, Instance.objects(id=application.instance_id).get()


def test_an_approval_the_gateway_sends_to_a_rejected_end_rejects_the_case_and_issues_nothing(people):
    case = serve(people, "gated", GATEWAY_TO_REJECTED)
    submitted = case.submit(good_data(months=3))
    [task] = case.todo(case.civil_1)
    case.act(case.civil_1, task, decision="approve", comment="同意")
    shown = case.application(submitted["id"])
    assert shown["status"] == "rejected" and shown["result"]["decision"] == "rejected"
    assert shown["result"]["reason"] == ""          # the approver's 同意 is not the reason of a rejection
    application, instance = stored(submitted["id"])
    assert (instance.end_event, instance.outcome) == ("no", "rejected")
    assert application.documents_due_at is None     # no licence is made for a rejected case
    assert [e.action for e in application.timeline] == ["submitted", "approved"]   # what the approver did


def test_the_same_process_approves_when_the_gateway_reaches_the_approved_end(people):
    case = serve(people, "gated", GATEWAY_TO_REJECTED)
    submitted = case.submit(good_data(months=12))
    [task] = case.todo(case.civil_1)
    case.act(case.civil_1, task, decision="approve", comment="同意")
    shown = case.application(submitted["id"])
    assert (shown["status"], shown["result"]["reason"]) == ("approved", "同意")
    application, instance = stored(submitted["id"])
    assert (instance.end_event, instance.outcome) == ("ok", "approved") and application.documents_due_at


def test_a_rejection_at_the_first_of_two_steps_ends_the_case_and_the_second_never_opens(people):
    from workflows.cases.notify.models import Notification
    from workflows.cases.tasks.models import HumanTask

    case = serve(people, "in_a_row", TWO_IN_A_ROW)
    submitted = case.submit()
    [task] = case.todo(case.civil_1)
    case.act(case.civil_1, task, decision="reject", comment="材料不实")
    shown = case.application(submitted["id"])
    assert (shown["status"], shown["result"]["decision"], shown["result"]["reason"]) == \
        ("rejected", "rejected", "材料不实")
    assert shown["current_steps"] == [] and case.todo(case.housing_1) == []
    application, instance = stored(submitted["id"])
    assert (instance.status, instance.end_event, instance.outcome) == ("completed", "review", "rejected")
    assert HumanTask.objects(application_id=application.id, element_id="recheck").count() == 0
    from core import deferred
    deferred.deliver()      # the step's messages rode in the instance's write
    assert Notification.objects(kind="rejected", application_id=submitted["id"]).count() == 1


def test_a_task_that_routes_rejections_lets_the_process_decide(people):
    case = serve(people, "routed", ROUTED)
    submitted = case.submit()
    [task] = case.todo(case.civil_1)
    case.act(case.civil_1, task, decision="reject", comment="再议")
    shown = case.application(submitted["id"])
    assert shown["status"] == "submitted" and [s["name"] for s in shown["current_steps"]] == ["复议"]
    [again] = case.todo(case.civil_1)
    case.act(case.civil_1, again, decision="approve", comment="复议通过")
    assert case.application(submitted["id"])["status"] == "approved"


def test_a_process_ended_by_a_timer_takes_its_ends_outcome(people, app):
    from core import clock
    from workflows.cases.applications import case_state

    case = serve(people, "timed_out", TIMED_OUT)
    submitted = case.submit()
    assert case.todo(case.civil_1)
    assert case_state.fire_due_timers(now=clock.now() + timedelta(days=8)).fired == 1
    shown = case.application(submitted["id"])
    assert (shown["status"], shown["result"]["decision"]) == ("rejected", "rejected")
    assert case.todo(case.civil_1) == []


def test_a_timer_that_takes_away_the_step_waiting_for_a_correction_moves_the_case_on(people, app):
    from core import clock
    from workflows.cases.applications import case_state

    case = serve(people, "timed_escalation", TIMED_ESCALATION)
    submitted = case.submit()
    [task] = case.todo(case.civil_1)
    case.act(case.civil_1, task, action="return", reason="请补充地址",
             fields=[{"path": "/address", "reason": "地址不全"}])
    assert case.application(submitted["id"])["status"] == "returned"
    assert case_state.fire_due_timers(now=clock.now() + timedelta(days=30)).fired == 1
    shown = case.application(submitted["id"])
    assert shown["status"] == "submitted" and shown["return_request"] is None
    assert [s["name"] for s in shown["current_steps"]] == ["超时转领导审核"]
    assert shown["timeline"][-1]["action"] == "return_cancelled"
    # the resident's correction no longer applies; the leader's step does
    r = case.client.post(f"/api/v1/applications/{submitted['id']}/supplement", headers=case.resident,
                         json={"version": shown["version"], "data": good_data(address="人民路 2 号")})
    assert r.status_code == 409, r.json
    [leader] = case.todo(case.housing_1)
    case.act(case.housing_1, leader, decision="approve", comment="同意")
    assert case.application(submitted["id"])["status"] == "approved"


def test_a_step_older_than_the_one_written_changes_nothing(people, app):
    """Two requests racing: the slower one carries an older revision of the instance and must not undo the newer."""
    from workflows.cases.applications import case_state
    from workflows.bpmn.models import Instance

    case = serve(people, "in_a_row", TWO_IN_A_ROW)
    submitted = case.submit()
    _, before = stored(submitted["id"])
    before.ready = []            # an older step that (say) ended the process
    before.status, before.outcome = "completed", "approved"
    [task] = case.todo(case.civil_1)
    case.act(case.civil_1, task)
    application, now = stored(submitted["id"])
    assert application.instance_revision == now.revision > before.revision
    assert case_state.follow(application, before) is False
    application, _ = stored(submitted["id"])
    assert application.status == "submitted" and [s.element_id for s in application.current_steps] == ["recheck"]
    # a person's line of an older step still reaches the timeline: what they did happened
    from workflows.cases.applications.models import Event
    from core import clock
    late = Event(at=clock.now(), action="approved", step="会签", actor_name="h2")
    assert case_state.follow(application, before, event=late) is False
    application, _ = stored(submitted["id"])
    assert application.timeline[-1].actor_name == "h2" and application.status == "submitted"
    assert [t["element_id"] for t in case.todo(case.housing_1)] == ["recheck"]
    assert Instance.objects(id=now.id).get().status == "running"


def test_the_engine_refuses_to_act_on_a_cancelled_instance(people, app):
    from core.actor import Actor
    from core.errors import Conflict
    from workflows.bpmn import instances

    case = serve(people, "in_a_row", TWO_IN_A_ROW)
    submitted = case.submit()
    [task] = case.todo(case.civil_1)
    _, instance = stored(submitted["id"])
    assert instances.cancel(Actor.system(), instance)
    cancelled = type(instance).objects(id=instance.id).get()
    engine_task = instances.view(instance)["ready_tasks"][0]["id"]
    with pytest.raises(Conflict) as refused:
        instances.complete_task(Actor.system(), cancelled, engine_task, {})
    assert refused.value.message_key == "workflow.instance_ended"
    # a stale copy that still says running is refused by the write itself
    with pytest.raises(Conflict):
        instances.complete_task(Actor.system(), instance, engine_task, {})
    assert type(instance).objects(id=instance.id).get().status == "cancelled"
    assert [t["id"] for t in case.todo(case.civil_1)] == [task["id"]]     # nothing moved the case's row


def test_a_row_taken_by_an_action_that_fails_after_a_withdrawal_is_not_left_open(people, app):
    """The ghost task: a withdrawal lands between an approver's take and the failure that puts the row back."""
    from core.actor import Actor
    from workflows.cases.applications.models import Application
    from workflows.cases.tasks import projection, service as tasks
    from workflows.cases.tasks.models import HumanTask

    case = serve(people, "in_a_row", TWO_IN_A_ROW)
    submitted = case.submit()
    [row] = case.todo(case.civil_1)
    task = HumanTask.objects(id=row["id"]).get()
    approver = Actor(user_id="x", roles=frozenset({"approver"}))
    tasks.take(approver, task, task.version, "approved", "done")
    Application.objects(id=submitted["id"]).update_one(set__status="withdrawn")   # the resident, meanwhile
    projection.cancel_all(task.instance_id)
    tasks.put_back(task)
    assert HumanTask.objects(id=row["id"]).get().status == "cancelled"
    assert case.todo(case.civil_1) == []


def test_publishing_a_process_with_several_ends_asks_each_for_its_outcome(people):
    bpmn = GATEWAY_TO_REJECTED.replace(props(outcome="rejected"), "").replace(props(outcome="approved"), "")
    r = people.client.post("/api/v1/designer/processes", headers=people.designer, json={
        "key": "gated", "name": "gated", "department": people.civil["id"], "bpmn_xml": bpmn})
    assert r.status_code == 201, r.json
    r = people.client.post("/api/v1/designer/processes/gated/publish", headers=people.designer)
    assert r.status_code == 422
    assert sorted(e["element_id"] for e in r.json["errors"] if e["code"] == "no_outcome") == ["no", "ok"]
    bad = GATEWAY_TO_REJECTED.replace('value="rejected"', 'value="denied"')
    r = people.client.post("/api/v1/designer/processes/gated/validate", headers=people.designer,
                           json={"bpmn_xml": bad})
    assert r.status_code == 200 and [(e["code"], e["element_id"]) for e in r.json["errors"]] == [("bad_outcome", "no")]


def test_a_task_form_may_not_define_the_decision_the_buttons_give(people):
    """审核结果 = 退回补正 in the form and 同意 pressed: the form's field must not be able to say something else."""
    contradicting = {"type": "object", "title": "审核意见", "properties": {
        "decision": {"type": "string", "enum": ["pass", "return"], "x-ui": {"widget": "radio", "label": "审核结果"}},
        "approved": {"type": "boolean", "x-ui": {"widget": "switch", "label": "同意"}}}}
    publish_form(people.client, people.designer, people.civil["id"], "old_review", contradicting)
    bpmn = TWO_IN_A_ROW.replace('value="review"', 'value="old_review"', 1)
    r = people.client.post("/api/v1/designer/processes", headers=people.designer, json={
        "key": "in_a_row", "name": "in_a_row", "department": people.civil["id"], "bpmn_xml": bpmn})
    assert r.status_code == 201, r.json
    r = people.client.post("/api/v1/designer/processes/in_a_row/publish", headers=people.designer)
    assert r.status_code == 422
    assert [(e["code"], e["element_id"], e["field"]) for e in r.json["errors"]] == [
        ("decision_field", "review", "decision"), ("decision_field", "review", "approved")]
    assert "审批结果来自同意/不同意按钮" in r.json["errors"][0]["message"]      # said in the designer's language


def test_the_buttons_decision_reaches_the_process_whatever_the_form_sends(people, app):
    case = serve(people, "routed", ROUTED)
    submitted = case.submit()
    [task] = case.todo(case.civil_1)
    r = case.client.post(f"/api/v1/tasks/{task['id']}/complete", headers=case.civil_1, json={
        "version": task["version"], "decision": "reject", "comment": "再议",
        "data": {"checked_originals": True, "decision": "approve", "approved": True}})
    assert r.status_code == 200, r.json
    _, instance = stored(submitted["id"])
    review = [p for p in instance.path if p["element_id"] == "review"][-1]
    assert review["changes"]["decision"] == "reject" and review["changes"]["approved"] is False
    assert [s["name"] for s in case.application(submitted["id"])["current_steps"]] == ["复议"]


def test_a_task_that_opens_tells_those_who_can_act_on_it_once(people, app):
    from core import deferred
    from workflows.cases.notify.models import Notification

    case = serve(people, "in_a_row", TWO_IN_A_ROW)
    me = {name: case.client.get("/api/v1/me", headers=getattr(case, name)).json["id"]
          for name in ("civil_1", "civil_2", "housing_1")}
    submitted = case.submit()
    deferred.deliver()
    assert sorted((n.user_id, n.title) for n in Notification.objects(kind="task_assigned")) == sorted([
        (me["civil_1"], "受理审核：居住证申领"), (me["civil_2"], "受理审核：居住证申领")])   # not housing's
    [task] = case.todo(case.civil_1)
    case.act(case.civil_1, task)
    deferred.deliver()
    deferred.deliver()
    opened = sorted((n.user_id, n.title, n.application_id) for n in Notification.objects(kind="task_assigned"))
    assert opened == sorted([(me["civil_1"], "受理审核：居住证申领", submitted["id"]),
                             (me["civil_2"], "受理审核：居住证申领", submitted["id"]),
                             (me["housing_1"], "住建复核：居住证申领", submitted["id"])])
