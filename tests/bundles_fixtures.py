"""新生儿出生一件事 for the bundle tests: three departments' services, each with a one-step process.

health (卫健委) 出生医学证明 — police (公安局) 户口登记, needs the birth certificate first — medical (医保局)
参保登记, in parallel, and its rejection ends only its own part.
"""
from __future__ import annotations

import pytest

from tests.applications_fixtures import REVIEW_FORM, publish_form, publish_process, publish_service

DESIGNER = "/api/v1/designer/bundles"


def one_step(process_id: str, lane: str, name: str) -> str:
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d_{process_id}"
    xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core"
    targetNamespace="http://z.example">
  <bpmn:process id="{process_id}" name="{name}" isExecutable="true">
    <bpmn:laneSet id="ls"><bpmn:lane id="l" name="{lane}"><bpmn:flowNodeRef>start</bpmn:flowNodeRef>
      <bpmn:flowNodeRef>review</bpmn:flowNodeRef><bpmn:flowNodeRef>end</bpmn:flowNodeRef></bpmn:lane></bpmn:laneSet>
    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:userTask id="review" name="{name}审核">
      <bpmn:extensionElements><spiffworkflow:properties>
        <spiffworkflow:property name="formKey" value="bundle_review" /></spiffworkflow:properties>
      </bpmn:extensionElements>
      <bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing></bpmn:userTask>
    <bpmn:endEvent id="end"><bpmn:incoming>f2</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="review" />
    <bpmn:sequenceFlow id="f2" sourceRef="review" targetRef="end" />
  </bpmn:process>
</bpmn:definitions>"""


def form(title: str, id_field: str, *extra) -> dict:
    props = {id_field: {"type": "string", "x-ui": {"widget": "id-card", "label": "父母身份证号"}},
             "baby_name": {"type": "string", "maxLength": 20, "x-ui": {"widget": "text", "label": "新生儿姓名"}}}
    for name in extra:
        props[name] = {"type": "string", "maxLength": 100, "x-ui": {"widget": "text", "label": name}}
    return {"type": "object", "title": title, "required": [id_field, "baby_name", *extra], "properties": props}


SERVICES = [  # code, department code, name, form, id field
    ("birth_cert", "health", "出生医学证明", form("出生医学证明", "mother_id_card"), "mother_id_card"),
    ("hukou_birth", "police", "出生登记", form("出生登记", "parent_id_card", "address"), "parent_id_card"),
    ("baby_insurance", "medical", "参保登记", form("参保登记", "id_card"), "id_card"),
]


def bundle_body(department_id: str, **changes) -> dict:
    body = {"code": "newborn", "department": department_id, "name": "新生儿出生一件事",
            "description": "出生医学证明、户口登记、医保参保一次办",
            "parts": [{"key": "birth", "service_code": "birth_cert"},
                      {"key": "hukou", "service_code": "hukou_birth", "depends_on": ["birth"]},
                      {"key": "insurance", "service_code": "baby_insurance", "on_reject": "part_only"}],
            "shared_fields": [{"key": "parent_id", "label": "父母身份证号",
                               "fields": {"birth": "mother_id_card", "hukou": "parent_id_card",
                                          "insurance": "id_card"}},
                              {"key": "baby_name", "label": "新生儿姓名",
                               "fields": {"birth": "baby_name", "hukou": "baby_name", "insurance": "baby_name"}}]}
    body.update(changes)
    return body


ID_CARD = "11010519491231002X"


def good(**parts) -> dict:
    return {"bundle_code": "newborn", "shared": {"parent_id": ID_CARD, "baby_name": "张小宝"},
            "parts": {"hukou": {"address": "人民路 1 号"}, **parts}}


class Newborn:
    def __init__(self, client, **kw):
        self.client = client
        self.__dict__.update(kw)

    def publish_bundle(self, **changes):
        r = self.client.post(DESIGNER, json=bundle_body(self.health["id"], **changes), headers=self.designer)
        assert r.status_code == 201, r.json
        r = self.client.post(f"{DESIGNER}/newborn/publish", headers=self.designer)
        assert r.status_code == 201, r.json
        return r.json

    def submit(self, body=None, expect=201, key=None):
        headers = {**self.resident, **({"Idempotency-Key": key} if key else {})}
        r = self.client.post("/api/v1/bundle-cases", json=body or good(), headers=headers)
        assert r.status_code == expect, r.json
        return r.json

    def case(self, case_id):
        r = self.client.get(f"/api/v1/bundle-cases/{case_id}", headers=self.resident)
        assert r.status_code == 200, r.json
        return r.json

    def todo(self, headers):
        r = self.client.get("/api/v1/tasks", headers=headers)
        assert r.status_code == 200, r.json
        return r.json["items"]

    def worker(self) -> int:
        """The worker's bundles job, as its round runs it: the bundles whose parts ended move on."""
        from workflows.cases.bundles import cases

        return cases.advance_due()

    def decide(self, headers, decision="approve", comment="同意", *, then_worker=True):
        """An approver decides their department's part; then (unless told not to) the worker's round moves the
        bundle on, as `zhangban worker` does within seconds."""
        [task] = self.todo(headers)
        r = self.client.post(f"/api/v1/tasks/{task['id']}/complete", headers=headers,
                             json={"version": task["version"], "decision": decision, "comment": comment})
        assert r.status_code == 200, r.json
        if then_worker:
            self.worker()
        return task


@pytest.fixture
def newborn(client, make_staff, make_department, admin_headers, resident_headers):
    departments = {code: make_department(code, name) for code, name in
                   (("health", "卫健委"), ("police", "公安局"), ("medical", "医保局"))}
    approvers = {code: make_staff(f"{code}-1", [{"role": "approver", "department_id": d["id"]}])[1]
                 for code, d in departments.items()}
    publish_form(client, admin_headers, departments["health"]["id"], "bundle_review", REVIEW_FORM)
    for code, dept, name, schema, _ in SERVICES:
        publish_form(client, admin_headers, departments[dept]["id"], f"{code}_form", schema)
        publish_process(client, admin_headers, departments[dept]["id"], f"{code}_process",
                        one_step(f"{code}_process", dept, name))
        publish_service(client, admin_headers, code, departments[dept]["id"], f"{code}_form", f"{code}_process",
                        name=name)
    _, designer = make_staff("health-designer", [{"role": "designer", "department_id": departments["health"]["id"]}])
    return Newborn(client, designer=designer, resident=resident_headers, admin=admin_headers,
                   approvers=approvers, **departments)
