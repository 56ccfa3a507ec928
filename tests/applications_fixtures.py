"""A real case over two departments, for the applications and inbox tests: forms, a process, a service.

Process: the applicant's data → 受理审核 (lane `civil`, task form `review`) → approve: 住建复核 (lane `housing`) →
end; reject: end.
"""
from __future__ import annotations

import pytest

from tests.storage_fixtures import jpeg
from tests.workflows_fixtures import BASE as PROCESSES

ID_CARD = "11010519491231002X"

APPLY_FORM = {"type": "object", "title": "居住证申领", "required": ["name", "id_card", "phone", "months"],
              "properties": {
                  "name": {"type": "string", "maxLength": 50, "x-ui": {"widget": "text", "label": "姓名"}},
                  "id_card": {"type": "string", "x-ui": {"widget": "id-card", "label": "身份证号"}},
                  "phone": {"type": "string", "x-ui": {"widget": "mobile", "label": "手机号"}},
                  "months": {"type": "integer", "minimum": 0, "maximum": 600,
                             "x-ui": {"widget": "integer", "label": "居住月数"}},
                  "address": {"type": "string", "x-ui": {"widget": "text", "label": "居住地址"}},
                  "id_photo": {"type": "string", "x-ui": {"widget": "photo", "label": "身份证照片"}}}}

REVIEW_FORM = {"type": "object", "title": "审核意见", "properties": {
    "checked_originals": {"type": "boolean", "x-ui": {"widget": "switch", "label": "已核验原件"}}}}

TWO_DEPARTMENTS = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core" id="d" targetNamespace="http://z.example">
  <bpmn:collaboration id="c"><bpmn:participant id="p" processRef="residence_permit" /></bpmn:collaboration>
  <bpmn:process id="residence_permit" name="居住证审批" isExecutable="true">
    <bpmn:laneSet id="ls">
      <bpmn:lane id="l_civil" name="civil"><bpmn:flowNodeRef>start</bpmn:flowNodeRef>
        <bpmn:flowNodeRef>review</bpmn:flowNodeRef><bpmn:flowNodeRef>gw</bpmn:flowNodeRef>
        <bpmn:flowNodeRef>end_rejected</bpmn:flowNodeRef></bpmn:lane>
      <bpmn:lane id="l_housing" name="housing"><bpmn:flowNodeRef>recheck</bpmn:flowNodeRef>
        <bpmn:flowNodeRef>end</bpmn:flowNodeRef></bpmn:lane>
    </bpmn:laneSet>
    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:userTask id="review" name="受理审核">
      <bpmn:extensionElements><spiffworkflow:properties>
        <spiffworkflow:property name="formKey" value="review" /></spiffworkflow:properties></bpmn:extensionElements>
      <bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing></bpmn:userTask>
    <bpmn:exclusiveGateway id="gw" default="f_no"><bpmn:incoming>f2</bpmn:incoming>
      <bpmn:outgoing>f_yes</bpmn:outgoing><bpmn:outgoing>f_no</bpmn:outgoing></bpmn:exclusiveGateway>
    <bpmn:userTask id="recheck" name="住建复核">
      <bpmn:extensionElements><spiffworkflow:properties>
        <spiffworkflow:property name="formKey" value="review" /></spiffworkflow:properties></bpmn:extensionElements>
      <bpmn:incoming>f_yes</bpmn:incoming>
      <bpmn:outgoing>f3</bpmn:outgoing></bpmn:userTask>
    <bpmn:endEvent id="end"><bpmn:extensionElements><spiffworkflow:properties><spiffworkflow:property name="outcome" value="approved" /></spiffworkflow:properties></bpmn:extensionElements><bpmn:incoming>f3</bpmn:incoming></bpmn:endEvent>
    <bpmn:endEvent id="end_rejected"><bpmn:extensionElements><spiffworkflow:properties><spiffworkflow:property name="outcome" value="rejected" /></spiffworkflow:properties></bpmn:extensionElements><bpmn:incoming>f_no</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="review" />
    <bpmn:sequenceFlow id="f2" sourceRef="review" targetRef="gw" />
    <bpmn:sequenceFlow id="f_yes" sourceRef="gw" targetRef="recheck">
      <bpmn:conditionExpression>decision == "approve" and months &gt;= 6</bpmn:conditionExpression>
    </bpmn:sequenceFlow>
    <bpmn:sequenceFlow id="f_no" sourceRef="gw" targetRef="end_rejected" />
    <bpmn:sequenceFlow id="f3" sourceRef="recheck" targetRef="end" />
  </bpmn:process>
</bpmn:definitions>
"""


def good_data(**changes):
    return {"name": "张三", "id_card": ID_CARD, "phone": "13812345678", "months": 12, "address": "人民路 1 号",
            **changes}


def publish_form(client, headers, department_id, key, schema):
    r = client.post("/api/v1/designer/forms", json={"key": key, "title": schema["title"],
                                                    "department": department_id, "schema": schema}, headers=headers)
    assert r.status_code == 201, r.json
    r = client.post(f"/api/v1/designer/forms/{key}/publish", headers=headers)
    assert r.status_code == 201, r.json
    return r.json


def publish_process(client, headers, department_id, key, bpmn_xml):
    r = client.post(PROCESSES, json={"key": key, "name": key, "department": department_id, "bpmn_xml": bpmn_xml},
                    headers=headers)
    assert r.status_code == 201, r.json
    r = client.post(f"{PROCESSES}/{key}/publish", headers=headers)
    assert r.status_code == 201, r.json
    return r.json


def publish_service(client, headers, code, department_id, form_key, process_key, *, time_limit_days=5,
                    name="居住证申领"):
    """A service published through the services designer API."""
    r = client.post("/api/v1/designer/services", headers=headers, json={
        "code": code, "department": department_id, "name": name, "form_key": form_key, "form_version": 1,
        "process_key": process_key, "process_version": 1, "time_limit_days": time_limit_days,
        "statutory_limit_days": max(time_limit_days, 20), "regions": ["110101"]})
    assert r.status_code == 201, r.json
    r = client.post(f"/api/v1/designer/services/{code}/publish", headers=headers)
    assert r.status_code == 201, r.json
    return r.json


class Case:
    """Everything a test needs to walk one case: the people and their headers."""

    def __init__(self, client, **kw):
        self.client = client
        self.__dict__.update(kw)

    def submit(self, data=None, headers=None, key=None, expect=201):
        extra = {"Idempotency-Key": key} if key else {}
        r = self.client.post("/api/v1/applications", json={"service_code": "residence", "data": data or good_data(),
                                                           "submit": True},
                             headers={**(headers or self.resident), **extra})
        assert r.status_code == expect, r.json
        return r.json

    def todo(self, headers, **query):
        r = self.client.get("/api/v1/tasks", query_string=query, headers=headers)
        assert r.status_code == 200, r.json
        return r.json["items"]

    def act(self, headers, task, action="complete", expect=200, **body):
        body.setdefault("version", task["version"])
        if action == "complete":
            body.setdefault("decision", "approve")
        r = self.client.post(f"/api/v1/tasks/{task['id']}/{action}", json=body, headers=headers)
        assert r.status_code == expect, r.json
        return r.json

    def application(self, app_id, headers=None):
        r = self.client.get(f"/api/v1/applications/{app_id}", headers=headers or self.resident)
        assert r.status_code == 200, r.json
        return r.json

    def photo(self, headers=None):
        r = self.client.post("/api/v1/attachments", data={"kind": "photo", "file": (__import__("io").BytesIO(
            jpeg()), "id.jpg")}, headers=headers or self.resident, content_type="multipart/form-data")
        assert r.status_code in (200, 201), r.json
        return r.json["id"]


def staffed(client, make_staff, make_department, resident_headers) -> Case:
    """The two departments, their people and the published forms, before any process or service."""
    civil = make_department("civil", "民政局")
    housing = make_department("housing", "住建局")
    _, designer = make_staff("designer", [{"role": "designer", "department_id": civil["id"]}])
    _, civil_1 = make_staff("civil-1", [{"role": "approver", "department_id": civil["id"]}])
    _, civil_2 = make_staff("civil-2", [{"role": "approver", "department_id": civil["id"]}])
    _, housing_1 = make_staff("housing-1", [{"role": "approver", "department_id": housing["id"]}])
    publish_form(client, designer, civil["id"], "residence_apply", APPLY_FORM)
    publish_form(client, designer, civil["id"], "review", REVIEW_FORM)
    return Case(client, civil=civil, housing=housing, designer=designer, civil_1=civil_1, civil_2=civil_2,
                housing_1=housing_1, resident=resident_headers)


@pytest.fixture
def case(app, client, make_staff, make_department, resident_headers):
    staff = staffed(client, make_staff, make_department, resident_headers)
    publish_process(client, staff.designer, staff.civil["id"], "residence_permit", TWO_DEPARTMENTS)
    publish_service(client, staff.designer, "residence", staff.civil["id"], "residence_apply", "residence_permit")
    return staff
