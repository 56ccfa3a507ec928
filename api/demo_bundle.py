"""Demo data, part three (issue 12): 新生儿出生一件事, a two-department bundle, and a 秒批 service.

- 东城区卫生健康委员会 issues the 出生医学证明 (service `newborn-birth-cert`); 东城区公安分局 registers the birth
  (`newborn-hukou`), which needs the certificate first; the bundle `newborn` asks the parent's 身份证号 and the
  baby's name once for both.
- 居住证签注 (`fast-residence`): a DMN decision approves at once when the resident has lived here two years or
  more (rule `long_stay`), refuses under six months (`too_short`), and leaves the rest to 民政局.
Runs after api/demo.py and api/demo_service.py (it reuses their departments, review form and police bureau).
Running it again changes nothing that is already there.
"""
from __future__ import annotations

from api.identity import admin
from api.identity.models import Department, User
from api.runtime import settings
from core.actor import ROLES, Actor
from forms import service as forms
from forms.models import FormDraft
from workflows.bpmn import service as processes
from workflows.cases.bundles import service as bundles
from workflows.cases.bundles.models import BundleDraft
from workflows.cases.catalog import service as services
from workflows.cases.catalog.models import ServiceDraft
from workflows.bpmn.models import ProcessDraft

REVIEW_FORM = "residence_permit_review"     # api/demo_service.py's
HEALTH = ("health", "东城区卫生健康委员会", "East District Health Commission")
HEALTH_APPROVER = ("demo-approver-4", "审批人 孙悦")
DMN13 = "https://www.omg.org/spec/DMN/20191111/MODEL/"


def _label(zh, en):
    return {"zh-CN": zh, "en": en}


def _schema(title, id_field, *, address=False):
    props = {id_field: {"type": "string", "x-prefill": "profile.id_card",
                        "x-ui": {"widget": "id-card", "label": _label("父/母身份证号", "Parent's ID card number")}},
             "baby_name": {"type": "string", "maxLength": 20,
                           "x-ui": {"widget": "text", "label": _label("新生儿姓名", "Baby's name")}},
             "birth_date": {"type": "string", "format": "date",
                            "x-ui": {"widget": "date", "label": _label("出生日期", "Date of birth")}}}
    if address:
        props["address"] = {"type": "string", "maxLength": 200,
                            "x-ui": {"widget": "text", "label": _label("户籍地址", "Registered address")}}
    return {"type": "object", "title": title, "required": [id_field, "baby_name", "birth_date"] +
            (["address"] if address else []), "properties": props}


RENEWAL_SCHEMA = {"type": "object", "title": "居住证签注", "required": ["name", "id_card", "months"], "properties": {
    "name": {"type": "string", "maxLength": 50, "x-prefill": "profile.name",
             "x-ui": {"widget": "text", "label": _label("姓名", "Name")}},
    "id_card": {"type": "string", "x-prefill": "profile.id_card",
                "x-ui": {"widget": "id-card", "label": _label("身份证号", "ID card number")}},
    "months": {"type": "integer", "minimum": 0, "maximum": 1200,
               "x-ui": {"widget": "integer", "label": _label("已居住月数", "Months of residence")}}}}


def one_step(process_id: str, lane: str, name: str) -> str:
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core" id="{process_id}_definitions"
    targetNamespace="http://zhangban.example/bpmn">
  <bpmn:process id="{process_id}" name="{name}" isExecutable="true">
    <bpmn:laneSet id="lanes"><bpmn:lane id="lane" name="{lane}"><bpmn:flowNodeRef>start</bpmn:flowNodeRef>
      <bpmn:flowNodeRef>review</bpmn:flowNodeRef><bpmn:flowNodeRef>done</bpmn:flowNodeRef></bpmn:lane></bpmn:laneSet>
    <bpmn:startEvent id="start" name="提交申请"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:userTask id="review" name="{name}"><bpmn:extensionElements><spiffworkflow:properties>
      <spiffworkflow:property name="formKey" value="{REVIEW_FORM}" /></spiffworkflow:properties>
      </bpmn:extensionElements><bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing></bpmn:userTask>
    <bpmn:endEvent id="done" name="办结"><bpmn:incoming>f2</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="review" />
    <bpmn:sequenceFlow id="f2" sourceRef="review" targetRef="done" />
  </bpmn:process>
</bpmn:definitions>
"""


FAST_DMN = f"""<?xml version="1.0" encoding="UTF-8"?>
<definitions xmlns="{DMN13}" id="renewal_fast_definitions" name="居住证签注秒批" namespace="http://zhangban.example/dmn">
  <decision id="renewal_fast" name="居住证签注秒批">
    <decisionTable id="renewal_fast_table" hitPolicy="FIRST">
      <input id="in_months" label="已居住月数">
        <inputExpression id="in_months_expr" typeRef="number"><text>months</text></inputExpression>
      </input>
      <output id="out_decision" label="结论" name="decision" typeRef="string" />
      <output id="out_reason" label="理由" name="reason" typeRef="string" />
      <rule id="long_stay"><description>居住满两年</description>
        <inputEntry id="long_in"><text>&gt;= 24</text></inputEntry>
        <outputEntry id="long_decision"><text>"approve"</text></outputEntry>
        <outputEntry id="long_reason"><text>"居住满两年，系统自动签注"</text></outputEntry>
      </rule>
      <rule id="too_short"><description>居住不满六个月</description>
        <inputEntry id="short_in"><text>&lt; 6</text></inputEntry>
        <outputEntry id="short_decision"><text>"reject"</text></outputEntry>
        <outputEntry id="short_reason"><text>"居住不满六个月，不予签注"</text></outputEntry>
      </rule>
    </decisionTable>
  </decision>
</definitions>
"""

SERVICES = [  # code, department code, name, form key, schema, process key
    ("newborn-birth-cert", "health", "出生医学证明", "newborn_birth_apply", _schema("出生医学证明", "mother_id_card"),
     "newborn_birth"),
    ("newborn-hukou", "police", "出生登记（户口）", "newborn_hukou_apply",
     _schema("出生登记", "parent_id_card", address=True), "newborn_hukou"),
    ("fast-residence", "civil", "居住证签注（秒批）", "residence_renewal_apply", RENEWAL_SCHEMA, "residence_renewal"),
]


def seed(password: str, actor: Actor | None = None):
    actor = actor or Actor.system()
    ids = {d.code: str(d.id) for d in Department.objects.only("code")}
    if "police" not in ids or "district-east" not in ids or not FormDraft.objects(key=REVIEW_FORM).first():
        return   # the identity demo and the 居住证 demo come first
    if HEALTH[0] not in ids:
        health = admin.create_department(actor, code=HEALTH[0], name=HEALTH[1], name_en=HEALTH[2], level="bureau",
                                         parent_id=ids["district-east"])
        ids[HEALTH[0]] = str(health.id)
        yield f"department {HEALTH[0]}: {HEALTH[1]}"
    if not User.objects(username=HEALTH_APPROVER[0]).first():
        admin.create_staff(actor, username=HEALTH_APPROVER[0], password=password, display_name=HEALTH_APPROVER[1],
                           grants=[{"role": "approver", "department_id": ids[HEALTH[0]]}])
        yield f"user {HEALTH_APPROVER[0]} / {password}: {HEALTH_APPROVER[1]}"
    for code, dept, name, form_key, schema, process_key in SERVICES:
        yield from _service(actor, ids, code, dept, name, form_key, schema, process_key)
    if not BundleDraft.objects(code="newborn").first():
        bundles.create_draft(actor, code="newborn", department=ids[HEALTH[0]], name="新生儿出生一件事",
                             name_en="A newborn's birth, in one go", category="生育",
                             description="出生医学证明和出生登记（户口）一次提交，卫健委签发后公安分局自动接续办理。",
                             parts=[{"key": "birth", "service_code": "newborn-birth-cert"},
                                    {"key": "hukou", "service_code": "newborn-hukou", "depends_on": ["birth"]}],
                             shared_fields=[
                                 {"key": "parent_id_card", "label": "父/母身份证号",
                                  "fields": {"birth": "mother_id_card", "hukou": "parent_id_card"}},
                                 {"key": "baby_name", "label": "新生儿姓名",
                                  "fields": {"birth": "baby_name", "hukou": "baby_name"}},
                                 {"key": "birth_date", "label": "出生日期",
                                  "fields": {"birth": "birth_date", "hukou": "birth_date"}}])
        bundles.publish(actor, "newborn")
        yield "bundle newborn v1: 新生儿出生一件事 (出生医学证明 → 出生登记)"


def _service(actor, ids, code, dept, name, form_key, schema, process_key):
    department = ids[dept]
    if not FormDraft.objects(key=form_key).first():
        forms.create_draft(actor, key=form_key, title=schema["title"], department=department, schema=schema,
                           max_bytes=settings().form_max_draft_bytes)
        forms.publish(actor, form_key)
        yield f"form {form_key} v1"
    fast = code == "fast-residence"
    if not ProcessDraft.objects(key=process_key).first():
        processes.create_draft(actor, key=process_key, name=name, department=department,
                               bpmn_xml=one_step(process_key, dept, f"{name}审核"),
                               dmn=[{"name": "renewal_fast.dmn", "xml": FAST_DMN}] if fast else None)
        processes.publish(actor, process_key, known_lanes=set(ids) | set(ROLES))
        yield f"process {process_key} v1"
    if not ServiceDraft.objects(code=code).first():
        extra = {"auto_approval": {"process_key": process_key, "process_version": 1, "decision_id": "renewal_fast"}} \
            if fast else {}
        services.create_draft(actor, code=code, department=department, name=name, category="户籍",
                              time_limit_days=5, statutory_limit_days=15, handling="online", regions=["110101"],
                              form_key=form_key, form_version=1, process_key=process_key, process_version=1, **extra)
        services.publish(actor, code)
        yield f"service {code} v1: {name}" + (" (秒批: renewal_fast)" if fast else "")
