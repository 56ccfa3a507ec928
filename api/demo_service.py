"""Demo data, part two: a real service residents can apply for after `make run` — 居住证申领.

Form: name, 身份证号, phone, months of residence, address, an ID photo and a signature. Process over two
departments: 东城区民政局 accepts (受理审核), an exclusive gateway sends approved cases to 东城区公安分局 for a
countersign of two checks (户籍核查, 居住核查 — parallel, all must approve; the script before it clears the
acceptance's `decision`, so that each check's `decision` can be collected into `verdicts`), then 民政局 issues the
permit (制证发证).
Running it again changes nothing that is already there.
"""
from __future__ import annotations

from api.identity import admin
from api.runtime import settings
from api.identity.models import Department, User
from core.actor import ROLES, Actor
from forms import service as forms
from forms.models import FormDraft
from workflows.bpmn import service as processes
from workflows.cases.catalog import service as services
from workflows.cases.catalog.models import ServiceDraft
from workflows.bpmn.models import ProcessDraft

SERVICE_CODE = "residence-permit"
APPLY_FORM, REVIEW_FORM, PROCESS = "residence_permit_apply", "residence_permit_review", "residence_permit"

APPLY_SCHEMA = {
    "type": "object", "title": "居住证申领", "required": ["name", "id_card", "phone", "months", "id_photo", "signature"],
    "properties": {
        "name": {"type": "string", "maxLength": 50, "x-prefill": "profile.name",
                 "x-ui": {"widget": "text", "label": {"zh-CN": "姓名", "en": "Name"}, "order": 1}},
        "id_card": {"type": "string", "x-prefill": "profile.id_card",
                    "x-ui": {"widget": "id-card", "label": {"zh-CN": "身份证号", "en": "ID card number"}, "order": 2}},
        "phone": {"type": "string", "x-prefill": "profile.phone",
                  "x-ui": {"widget": "mobile", "label": {"zh-CN": "手机号", "en": "Mobile"}, "order": 3}},
        "months": {"type": "integer", "minimum": 0, "maximum": 1200,
                   "x-ui": {"widget": "integer", "label": {"zh-CN": "已居住月数", "en": "Months of residence"}}},
        "address": {"type": "string", "maxLength": 200,
                    "x-ui": {"widget": "text", "label": {"zh-CN": "居住地址", "en": "Address"}}},
        "id_photo": {"type": "string", "x-prefill": "material.id_photo",
                     "x-ui": {"widget": "photo", "label": {"zh-CN": "身份证照片", "en": "ID photo"}}},
        "signature": {"type": "string", "x-ui": {"widget": "signature",
                                                 "label": {"zh-CN": "申请人签名", "en": "Signature"}}}}}

REVIEW_SCHEMA = {"type": "object", "title": "审核意见", "properties": {
    "checked_originals": {"type": "boolean", "x-ui": {"widget": "switch",
                                                      "label": {"zh-CN": "已核验原件", "en": "Originals checked"}}}}}


def _task(element_id: str, name: str, incoming: str, outgoing: str, extra: str = "") -> str:
    return (f'<bpmn:userTask id="{element_id}" name="{name}"><bpmn:extensionElements><spiffworkflow:properties>'
            f'<spiffworkflow:property name="formKey" value="{REVIEW_FORM}" /></spiffworkflow:properties>'
            f'</bpmn:extensionElements><bpmn:incoming>{incoming}</bpmn:incoming><bpmn:outgoing>{outgoing}'
            f'</bpmn:outgoing>{extra}</bpmn:userTask>')


BPMN = f"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core" id="residence_permit_definitions"
    targetNamespace="http://zhangban.example/bpmn">
  <bpmn:collaboration id="collaboration"><bpmn:participant id="participant" processRef="{PROCESS}" />
  </bpmn:collaboration>
  <bpmn:process id="{PROCESS}" name="居住证审批" isExecutable="true">
    <bpmn:laneSet id="lanes">
      <bpmn:lane id="lane_civil" name="civil"><bpmn:flowNodeRef>start</bpmn:flowNodeRef>
        <bpmn:flowNodeRef>accept</bpmn:flowNodeRef><bpmn:flowNodeRef>accepted</bpmn:flowNodeRef>
        <bpmn:flowNodeRef>prepare</bpmn:flowNodeRef><bpmn:flowNodeRef>issue</bpmn:flowNodeRef>
        <bpmn:flowNodeRef>issued</bpmn:flowNodeRef><bpmn:flowNodeRef>refused</bpmn:flowNodeRef></bpmn:lane>
      <bpmn:lane id="lane_police" name="police"><bpmn:flowNodeRef>verify</bpmn:flowNodeRef>
        <bpmn:flowNodeRef>verified</bpmn:flowNodeRef></bpmn:lane>
    </bpmn:laneSet>
    <bpmn:startEvent id="start" name="提交申请"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    {_task("accept", "受理审核", "f1", "f2")}
    <bpmn:exclusiveGateway id="accepted" name="受理？" default="f_refuse">
      <bpmn:incoming>f2</bpmn:incoming><bpmn:outgoing>f_accept</bpmn:outgoing><bpmn:outgoing>f_refuse</bpmn:outgoing>
    </bpmn:exclusiveGateway>
    <bpmn:scriptTask id="prepare" name="确定核查项"><bpmn:incoming>f_accept</bpmn:incoming>
      <bpmn:outgoing>f3</bpmn:outgoing><bpmn:script>checks = ["户籍核查", "居住核查"]
del decision</bpmn:script></bpmn:scriptTask>
    {_task("verify", "联合核查（会签）", "f3", "f4", '''<bpmn:multiInstanceLoopCharacteristics isSequential="false">
        <bpmn:loopDataInputRef>checks</bpmn:loopDataInputRef><bpmn:loopDataOutputRef>verdicts</bpmn:loopDataOutputRef>
        <bpmn:inputDataItem id="check" name="check" /><bpmn:outputDataItem id="decision" name="decision" />
      </bpmn:multiInstanceLoopCharacteristics>''')}
    <bpmn:exclusiveGateway id="verified" name="核查通过？" default="f_fail">
      <bpmn:incoming>f4</bpmn:incoming><bpmn:outgoing>f_pass</bpmn:outgoing><bpmn:outgoing>f_fail</bpmn:outgoing>
    </bpmn:exclusiveGateway>
    {_task("issue", "制证发证", "f_pass", "f5")}
    <bpmn:endEvent id="issued" name="办结"><bpmn:extensionElements><spiffworkflow:properties><spiffworkflow:property name="outcome" value="approved" /></spiffworkflow:properties></bpmn:extensionElements><bpmn:incoming>f5</bpmn:incoming></bpmn:endEvent>
    <bpmn:endEvent id="refused" name="不予办理"><bpmn:extensionElements><spiffworkflow:properties><spiffworkflow:property name="outcome" value="rejected" /></spiffworkflow:properties></bpmn:extensionElements><bpmn:incoming>f_refuse</bpmn:incoming>
      <bpmn:incoming>f_fail</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="accept" />
    <bpmn:sequenceFlow id="f2" sourceRef="accept" targetRef="accepted" />
    <bpmn:sequenceFlow id="f_accept" sourceRef="accepted" targetRef="prepare">
      <bpmn:conditionExpression>decision == "approve" and months &gt;= 6</bpmn:conditionExpression>
    </bpmn:sequenceFlow>
    <bpmn:sequenceFlow id="f_refuse" sourceRef="accepted" targetRef="refused" />
    <bpmn:sequenceFlow id="f3" sourceRef="prepare" targetRef="verify" />
    <bpmn:sequenceFlow id="f4" sourceRef="verify" targetRef="verified" />
    <bpmn:sequenceFlow id="f_pass" sourceRef="verified" targetRef="issue">
      <bpmn:conditionExpression>all(v == "approve" for v in verdicts)</bpmn:conditionExpression>
    </bpmn:sequenceFlow>
    <bpmn:sequenceFlow id="f_fail" sourceRef="verified" targetRef="refused" />
    <bpmn:sequenceFlow id="f5" sourceRef="issue" targetRef="issued" />
  </bpmn:process>
</bpmn:definitions>
"""

POLICE = ("police", "东城区公安分局", "East District Public Security Bureau")
POLICE_APPROVER = ("demo-approver-3", "审批人 赵磊")


def seed(password: str, actor: Actor | None = None):
    actor = actor or Actor.system()
    ids = {d.code: str(d.id) for d in Department.objects.only("code")}
    if "civil" not in ids or "district-east" not in ids:
        return   # the identity demo comes first
    if POLICE[0] not in ids:
        police = admin.create_department(actor, code=POLICE[0], name=POLICE[1], name_en=POLICE[2], level="bureau",
                                         parent_id=ids["district-east"])
        ids[POLICE[0]] = str(police.id)
        yield f"department {POLICE[0]}: {POLICE[1]}"
    if not User.objects(username=POLICE_APPROVER[0]).first():
        admin.create_staff(actor, username=POLICE_APPROVER[0], password=password, display_name=POLICE_APPROVER[1],
                           grants=[{"role": "approver", "department_id": ids[POLICE[0]]}])
        yield f"user {POLICE_APPROVER[0]} / {password}: {POLICE_APPROVER[1]}"
    civil = ids["civil"]
    for key, schema in ((APPLY_FORM, APPLY_SCHEMA), (REVIEW_FORM, REVIEW_SCHEMA)):
        if not FormDraft.objects(key=key).first():
            forms.create_draft(actor, key=key, title=schema["title"], department=civil, schema=schema,
                               max_bytes=settings().form_max_draft_bytes)
            forms.publish(actor, key)
            yield f"form {key} v1"
    if not ProcessDraft.objects(key=PROCESS).first():
        processes.create_draft(actor, key=PROCESS, name="居住证审批", department=civil, bpmn_xml=BPMN)
        processes.publish(actor, PROCESS, known_lanes=set(ids) | set(ROLES))
        yield f"process {PROCESS} v1"
    if not ServiceDraft.objects(code=SERVICE_CODE).first():
        services.create_draft(actor, code=SERVICE_CODE, department=civil, name="居住证申领", name_en="Residence permit",
                              category="户籍", description="在本市居住满六个月的非本市户籍人员申领居住证。",
                              time_limit_days=10, statutory_limit_days=15, handling="online", regions=["110101"],
                              form_key=APPLY_FORM, form_version=1, process_key=PROCESS, process_version=1,
                              materials=[{"name": "身份证照片", "field": "/id_photo", "attachment_kind": "photo",
                                          "originals_needed": True},
                                         {"name": "申请人签名", "field": "/signature",
                                          "attachment_kind": "signature"}])
        services.publish(actor, SERVICE_CODE)
        yield f"service {SERVICE_CODE} v1: 居住证申领"
