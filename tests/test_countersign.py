"""会签 per case over HTTP: 受理审核's approver picks the countersigners from the department (within the bounds the
process declares), each gets their own task at once, 2 of 3 decides as soon as it is decided (the rest are
cancelled and told), and a signer who has not acted can be taken out (减签)."""
from __future__ import annotations

import pytest

from tests.applications_fixtures import APPLY_FORM, REVIEW_FORM, Case, good_data, publish_form, publish_process
from tests.applications_fixtures import publish_service

OPINION_FORM = {"type": "object", "title": "会签意见", "required": ["opinion"], "properties": {
    "opinion": {"type": "string", "enum": ["approve", "reject"],
                "x-ui": {"widget": "radio", "label": "会签意见",
                         "options": [{"value": "approve", "label": "同意"}, {"value": "reject", "label": "不同意"}]}}}}

PICKED = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core" id="d" targetNamespace="http://z.example">
  <bpmn:process id="joint_review" name="联合审查" isExecutable="true">
    <bpmn:laneSet id="ls">
      <bpmn:lane id="l_civil" name="civil"><bpmn:flowNodeRef>start</bpmn:flowNodeRef>
        <bpmn:flowNodeRef>review</bpmn:flowNodeRef><bpmn:flowNodeRef>gw</bpmn:flowNodeRef>
        <bpmn:flowNodeRef>end_rejected</bpmn:flowNodeRef><bpmn:flowNodeRef>end</bpmn:flowNodeRef>
        <bpmn:flowNodeRef>outcome</bpmn:flowNodeRef><bpmn:flowNodeRef>end_not_agreed</bpmn:flowNodeRef></bpmn:lane>
      <bpmn:lane id="l_housing" name="housing"><bpmn:flowNodeRef>countersign</bpmn:flowNodeRef></bpmn:lane>
    </bpmn:laneSet>
    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:userTask id="review" name="受理审核">
      <bpmn:extensionElements><spiffworkflow:properties>
        <spiffworkflow:property name="formKey" value="review" />
        <spiffworkflow:property name="pickSigners" value="countersign" /></spiffworkflow:properties>
      </bpmn:extensionElements>
      <bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing></bpmn:userTask>
    <bpmn:exclusiveGateway id="gw" default="f_no"><bpmn:incoming>f2</bpmn:incoming>
      <bpmn:outgoing>f_yes</bpmn:outgoing><bpmn:outgoing>f_no</bpmn:outgoing></bpmn:exclusiveGateway>
    <bpmn:userTask id="countersign" name="联合会签">
      <bpmn:extensionElements><spiffworkflow:properties>
        <spiffworkflow:property name="formKey" value="opinion" />
        <spiffworkflow:property name="signersMin" value="2" />
        <spiffworkflow:property name="signersMax" value="3" /></spiffworkflow:properties></bpmn:extensionElements>
      <bpmn:incoming>f_yes</bpmn:incoming><bpmn:outgoing>f3</bpmn:outgoing>
      <bpmn:multiInstanceLoopCharacteristics isSequential="false">
        <bpmn:loopDataInputRef>signers</bpmn:loopDataInputRef>
        <bpmn:loopDataOutputRef>opinions</bpmn:loopDataOutputRef>
        <bpmn:inputDataItem id="signer" name="signer" />
        <bpmn:outputDataItem id="opinion" name="opinion" />
        <bpmn:completionCondition>len([o for o in opinions if o == 'approve']) &gt;= 2 or len([o for o in opinions if o != 'approve']) &gt; nrOfInstances - 2</bpmn:completionCondition>
      </bpmn:multiInstanceLoopCharacteristics>
    </bpmn:userTask>
    <bpmn:exclusiveGateway id="outcome" default="f_not_agreed"><bpmn:incoming>f3</bpmn:incoming>
      <bpmn:outgoing>f_agreed</bpmn:outgoing><bpmn:outgoing>f_not_agreed</bpmn:outgoing></bpmn:exclusiveGateway>
    <bpmn:endEvent id="end"><bpmn:extensionElements><spiffworkflow:properties><spiffworkflow:property name="outcome" value="approved" /></spiffworkflow:properties></bpmn:extensionElements><bpmn:incoming>f_agreed</bpmn:incoming></bpmn:endEvent>
    <bpmn:endEvent id="end_not_agreed"><bpmn:extensionElements><spiffworkflow:properties><spiffworkflow:property name="outcome" value="rejected" /></spiffworkflow:properties></bpmn:extensionElements><bpmn:incoming>f_not_agreed</bpmn:incoming></bpmn:endEvent>
    <bpmn:endEvent id="end_rejected"><bpmn:extensionElements><spiffworkflow:properties><spiffworkflow:property name="outcome" value="rejected" /></spiffworkflow:properties></bpmn:extensionElements><bpmn:incoming>f_no</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="review" />
    <bpmn:sequenceFlow id="f2" sourceRef="review" targetRef="gw" />
    <bpmn:sequenceFlow id="f_yes" sourceRef="gw" targetRef="countersign">
      <bpmn:conditionExpression>decision == "approve"</bpmn:conditionExpression></bpmn:sequenceFlow>
    <bpmn:sequenceFlow id="f_no" sourceRef="gw" targetRef="end_rejected" />
    <bpmn:sequenceFlow id="f3" sourceRef="countersign" targetRef="outcome" />
    <bpmn:sequenceFlow id="f_agreed" sourceRef="outcome" targetRef="end">
      <bpmn:conditionExpression>len([o for o in opinions if o == 'approve']) &gt;= 2</bpmn:conditionExpression>
    </bpmn:sequenceFlow>
    <bpmn:sequenceFlow id="f_not_agreed" sourceRef="outcome" targetRef="end_not_agreed" />
  </bpmn:process>
</bpmn:definitions>
"""


@pytest.fixture
def joint(app, client, make_staff, make_department, resident_headers):
    civil = make_department("civil", "民政局")
    housing = make_department("housing", "住建局")
    _, designer = make_staff("designer", [{"role": "designer", "department_id": civil["id"]}])
    _, civil_1 = make_staff("civil-1", [{"role": "approver", "department_id": civil["id"]}])
    people = {}
    for name in ("h1", "h2", "h3", "h4"):
        _, people[name] = make_staff(name, [{"role": "approver", "department_id": housing["id"]}])
    publish_form(client, designer, civil["id"], "residence_apply", APPLY_FORM)
    publish_form(client, designer, civil["id"], "review", REVIEW_FORM)
    publish_form(client, designer, civil["id"], "opinion", OPINION_FORM)
    publish_process(client, designer, civil["id"], "joint_review", PICKED)
    publish_service(client, designer, "residence", civil["id"], "residence_apply", "joint_review")
    case = Case(client, civil=civil, housing=housing, designer=designer, civil_1=civil_1, resident=resident_headers,
                **people)
    case.ids = {name: client.get("/api/v1/me", headers=headers).json["id"] for name, headers in people.items()}
    case.ids["civil_1"] = client.get("/api/v1/me", headers=civil_1).json["id"]
    return case


def _picked(joint, *names, expect=200):
    submitted = joint.submit()
    [review] = joint.todo(joint.civil_1)
    joint.act(joint.civil_1, review, signers=[joint.ids[n] for n in names], expect=expect)
    return submitted


def _sign(joint, name, opinion, expect=200):
    [task] = joint.todo(getattr(joint, name))
    decision = {"decision": "reject", "comment": "不同意"} if opinion == "reject" else {}
    return joint.act(getattr(joint, name), task, data={"opinion": opinion}, expect=expect, **decision)


def _messages(app, user_id, kind):
    with app.app_context():
        from core import deferred
        from workflows.cases.notify.models import Notification
        deferred.deliver()      # the worker's round: messages ride in the application's write until then
        return Notification.objects(user_id=user_id, kind=kind).count()


def test_the_approver_picks_countersigners_within_the_bounds_and_each_gets_their_own_task(joint):
    submitted = joint.submit()

    def pick(*names, expect=422):
        [review] = joint.todo(joint.civil_1)        # a refusal puts the task back at a new version
        return joint.act(joint.civil_1, review, signers=[joint.ids[n] for n in names], expect=expect)

    error = pick("h1")                                                     # fewer than 2
    assert error["errors"][0]["path"] == "/signers" and error["errors"][0]["code"] == "count"
    assert pick("h1", "h2", "h3", "h4")["errors"][0]["path"] == "/signers"   # more than 3
    error = pick("h1", "civil_1")                                          # not a housing approver
    assert [(e["path"], e["code"]) for e in error["errors"]] == [("/signers/1", "not_allowed")]
    assert pick("h1", "h1")["errors"][0]["code"] == "duplicate"
    assert joint.application(submitted["id"])["withdrawable"] is True      # nothing happened to the case

    pick("h1", "h2", "h3", expect=200)
    for name in ("h1", "h2", "h3"):
        [task] = joint.todo(getattr(joint, name))      # assigned to that signer alone
        assert task["assignee"] == joint.ids[name] and task["name"] == "联合会签"
    assert joint.todo(joint.h4) == []
    steps = joint.application(submitted["id"])["current_steps"]
    assert [s["name"] for s in steps] == ["联合会签"] * 3


def test_two_of_three_decides_as_soon_as_two_agree_and_the_third_is_told(joint, app):
    submitted = _picked(joint, "h1", "h2", "h3")
    _sign(joint, "h2", "approve")
    assert joint.application(submitted["id"])["status"] == "submitted"
    _sign(joint, "h3", "approve")                       # 2 of 3: decided while h1 has not acted
    final = joint.application(submitted["id"])
    assert final["status"] == "approved" and final["current_steps"] == []
    assert joint.todo(joint.h1) == []
    assert _messages(app, joint.ids["h1"], "task_cancelled") == 1
    assert _messages(app, joint.ids["h2"], "task_cancelled") == 0


def test_two_signers_approving_at_the_same_moment_both_succeed(joint, app):
    """Both take their own task; the one whose engine write comes second finds the instance moved and runs again
    on it, instead of answering the signer 409."""
    import threading

    submitted = _picked(joint, "h1", "h2")
    tasks = {name: joint.todo(getattr(joint, name))[0] for name in ("h1", "h2")}
    barrier, answers = threading.Barrier(2), {}

    def sign(name):
        with app.app_context():
            client = app.test_client()
            barrier.wait()
            r = client.post(f"/api/v1/tasks/{tasks[name]['id']}/complete", headers=getattr(joint, name),
                            json={"version": tasks[name]["version"], "decision": "approve",
                                  "data": {"opinion": "approve"}})
            answers[name] = (r.status_code, r.json)
    threads = [threading.Thread(target=sign, args=(name,)) for name in tasks]
    [t.start() for t in threads]
    [t.join() for t in threads]
    assert {name: status for name, (status, _) in answers.items()} == {"h1": 200, "h2": 200}, answers
    final = joint.application(submitted["id"])
    assert final["status"] == "approved"               # both opinions reached the engine: 2 agree
    assert [e["action"] for e in final["timeline"]].count("approved") == 3     # 受理审核 + the two signers


def test_two_of_three_fails_as_soon_as_two_refuse(joint, app):
    submitted = _picked(joint, "h1", "h2", "h3")
    _sign(joint, "h1", "reject")
    _sign(joint, "h2", "reject")                        # 2 of 3 can no longer be reached
    final = joint.application(submitted["id"])
    assert final["status"] == "rejected" and final["current_steps"] == [] and joint.todo(joint.h3) == []
    assert _messages(app, joint.ids["h3"], "task_cancelled") == 1


def test_removing_a_signer_who_has_not_acted_is_audited_and_the_rest_decide(joint, app):
    submitted = _picked(joint, "h1", "h2", "h3")
    [h3_task] = joint.todo(joint.h3)
    error = joint.act(joint.h4, h3_task, action="remove-signer", version=h3_task["version"] + 1, expect=409)
    assert error["code"] == "conflict"
    joint.act(joint.h4, h3_task, action="remove-signer", comment="回避")    # any housing approver may
    assert joint.todo(joint.h3) == []
    assert _messages(app, joint.ids["h3"], "task_cancelled") == 1
    timeline = joint.application(submitted["id"])["timeline"]
    assert timeline[-1]["action"] == "signer_removed" and "回避" in timeline[-1]["comment"]
    with app.app_context():
        from core.audit import AuditRecord
        assert AuditRecord.objects(action="task.remove_signer").count() == 1
    _sign(joint, "h1", "approve")
    assert joint.application(submitted["id"])["status"] == "submitted"     # 1 of the 2 that count
    _sign(joint, "h2", "approve")
    assert joint.application(submitted["id"])["status"] == "approved"


def test_removing_so_that_the_rule_is_decided_moves_the_case_at_once(joint):
    submitted = _picked(joint, "h1", "h2", "h3")
    _sign(joint, "h1", "reject")
    [h2_task] = joint.todo(joint.h2)
    joint.act(joint.h4, h2_task, action="remove-signer")   # now 1 refusal of 2: two approvals cannot be had
    final = joint.application(submitted["id"])
    # the countersign is decided (not agreed) and its gateway goes to the end that declares the case rejected
    assert (final["status"], final["result"]["decision"]) == ("rejected", "rejected")
    assert joint.todo(joint.h3) == []


def test_what_cannot_be_removed(joint):
    _picked(joint, "h1", "h2")
    [h1_task] = joint.todo(joint.h1)
    joint.act(joint.civil_1, h1_task, action="remove-signer", expect=404)   # not their department's
    _sign(joint, "h2", "reject")            # 1 refusal of 2 with 2 required: decided, both gone
    assert joint.todo(joint.h1) == []
    submitted = joint.submit(good_data(address="y"))
    [review] = joint.todo(joint.civil_1)
    error = joint.act(joint.civil_1, review, action="remove-signer", expect=422)     # not a countersign
    assert error["errors"][0]["element_id"] == "review"
    assert joint.todo(joint.civil_1)[0]["version"] == review["version"] + 2         # taken and put back
    assert joint.application(submitted["id"])["status"] == "submitted"
