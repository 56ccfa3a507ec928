"""Task data against the task's form (issue 8, items 3 and 4): checked, only the form's fields kept, and each
field kind arriving in process data with the type docs/bpmn.md documents, so the documented expressions work
on data exactly as a mini-program's form sends it."""
from __future__ import annotations

import pytest

from tests.workflows_fixtures import BASE, DesignerRun, example, upload
from tests.workflows_fixtures import civil_designer, forms  # noqa: F401 (fixtures)

TYPED_FORM = {"type": "object", "required": ["amount"], "properties": {
    "amount": {"type": "string", "x-ui": {"widget": "money", "label": "金额"}},
    "count": {"type": "integer", "x-ui": {"widget": "integer", "label": "人数"}},
    "ratio": {"type": "number", "x-ui": {"widget": "number", "label": "比例"}},
    "apply_date": {"type": "string", "x-ui": {"widget": "date", "label": "申请日期"}},
    "appointment": {"type": "string", "x-ui": {"widget": "datetime", "label": "预约时间"}},
    "agree": {"type": "boolean", "x-ui": {"widget": "switch", "label": "同意"}},
    "kind": {"type": "string", "enum": ["urban", "rural"], "x-ui": {"widget": "select", "label": "户籍"}},
    "difficulties": {"type": "array", "items": {"enum": ["illness", "disability"]},
                     "x-ui": {"widget": "checkbox", "label": "困难"}},
    "family": {"type": "array", "x-ui": {"widget": "repeat", "label": "家庭成员"}, "items": {
        "type": "object", "properties": {"born": {"type": "string", "x-ui": {"widget": "date", "label": "出生"}}}}},
}}

# the expressions of docs/bpmn.md, "How form fields arrive in process data", each evaluated by a script task
DOCUMENTED = {
    "big": "amount >= 10000",
    "fee": "round_money(amount * Decimal('0.01'))",
    "more": "count + 1",
    "double": "ratio * 2",
    "waited": "days_between(apply_date, date(2026, 6, 1))",
    "deadline": "add_working_days(apply_date, 5)",
    "hour_utc": "appointment.hour",
    "agreed": "agree == True",
    "rural": "kind == 'rural'",
    "ill": "'illness' in difficulties",
    "first_born_year": "family[0]['born'].year",
}


def _process() -> str:
    script = "\n".join(f"{name} = {expr}" for name, expr in DOCUMENTED.items())
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core" id="d" targetNamespace="http://x">
  <bpmn:process id="typed_flow" isExecutable="true">
    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:userTask id="fill"><bpmn:extensionElements><spiffworkflow:properties>
      <spiffworkflow:property name="formKey" value="typed" /></spiffworkflow:properties></bpmn:extensionElements>
      <bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing></bpmn:userTask>
    <bpmn:scriptTask id="compute"><bpmn:incoming>f2</bpmn:incoming><bpmn:outgoing>f3</bpmn:outgoing>
      <bpmn:script>{script.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")}</bpmn:script>
    </bpmn:scriptTask>
    <bpmn:userTask id="hold"><bpmn:extensionElements><spiffworkflow:properties>
      <spiffworkflow:property name="formKey" value="review" /></spiffworkflow:properties></bpmn:extensionElements>
      <bpmn:incoming>f3</bpmn:incoming><bpmn:outgoing>f4</bpmn:outgoing></bpmn:userTask>
    <bpmn:endEvent id="end"><bpmn:incoming>f4</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="fill" />
    <bpmn:sequenceFlow id="f2" sourceRef="fill" targetRef="compute" />
    <bpmn:sequenceFlow id="f3" sourceRef="compute" targetRef="hold" />
    <bpmn:sequenceFlow id="f4" sourceRef="hold" targetRef="end" />
  </bpmn:process>
</bpmn:definitions>"""


@pytest.fixture
def typed(client, civil_designer, department, forms):
    r = client.post("/api/v1/designer/forms", json={"key": "typed", "title": "typed", "department": department["id"],
                                                    "schema": TYPED_FORM}, headers=civil_designer)
    assert r.status_code == 201, r.json
    assert client.post("/api/v1/designer/forms/typed/publish", headers=civil_designer).status_code == 201
    upload(client, civil_designer, department["id"], "typed_flow", _process())
    r = client.post(f"{BASE}/typed_flow/publish", headers=civil_designer)
    assert r.status_code == 201, r.json
    return DesignerRun(client, civil_designer, "typed_flow")


def test_form_values_reach_the_documented_expressions_with_their_types(typed):
    # exactly what a mini-program form sends: text for money and numbers, ISO text for dates
    typed.complete("fill", {"amount": "20000", "count": "3", "ratio": "0.5", "apply_date": "2026-05-01",
                            "appointment": "2026-05-04T09:30:00+08:00", "agree": True, "kind": "rural",
                            "difficulties": ["illness"], "family": [{"born": "1990-03-07"}]})
    data = typed.task("hold")["data"]
    # deadline: 劳动节 is 1–5 May 2026 and 9 May a 调休 working day (the official calendar, as the case's clock)
    assert {k: data[k] for k in DOCUMENTED} == {
        "big": True, "fee": "200.00", "more": 4, "double": 1.0, "waited": 31, "deadline": "2026-05-11",
        "hour_utc": 1, "agreed": True, "rural": True, "ill": True, "first_born_year": 1990}
    assert data["amount"] == "20000.00" and data["count"] == 3 and data["apply_date"] == "2026-05-01"


def test_task_data_is_checked_against_the_tasks_form_and_nothing_changes(client, civil_designer, department,
                                                                         forms):
    upload(client, civil_designer, department["id"], "exclusive_gateway", example("exclusive_gateway.bpmn"))
    assert client.post(f"{BASE}/exclusive_gateway/publish", headers=civil_designer).status_code == 201
    run = DesignerRun(client, civil_designer, "exclusive_gateway")
    before = run.refresh()
    r = run.complete("review", {"amount": "abc", "extra": 1}, expect=422)
    assert r.json["code"] == "invalid"
    assert {e["path"]: e["code"] for e in r.json["errors"]} == {"/data/amount": "money"}
    after = run.refresh()
    assert after["version"] == before["version"] and after["path"] == before["path"]   # nothing happened
    assert [t["element_id"] for t in after["ready_tasks"]] == ["review"]

    r = run.complete("review", {}, expect=422)                                         # amount is required
    assert [(e["path"], e["code"]) for e in r.json["errors"]] == [("/data/amount", "required")]

    run.complete("review", {"amount": "12000", "extra": 1, "__class__": "x", "decision": "forged"})
    data = run.task("leader_review")["data"]
    assert "extra" not in data and "__class__" not in data                               # only the form's fields
    # … and the action's variables, which no form data can set
    assert data["amount"] == "12000.00" and run.state["path"][1]["changes"] == {
        "amount": "12000.00", "decision": "approve", "approved": True}


def test_task_errors_follow_accept_language(typed):
    r = typed.client.post(f"{typed.url}/tasks/{typed.task('fill')['id']}/complete", json={"data": {"count": "x"}},
                          headers={**typed.headers, "Accept-Language": "en"})
    assert r.status_code == 422
    assert {e["path"]: e["message"] for e in r.json["errors"]} == {"/data/amount": "This field is required",
                                                                   "/data/count": "Wrong type: expected a whole number"}


def test_start_data_is_checked_and_typed_with_the_start_events_form(client, civil_designer, department, forms):
    xml = example("exclusive_gateway.bpmn").replace(
        '<bpmn:startEvent id="start">',
        '<bpmn:startEvent id="start"><bpmn:extensionElements><spiffworkflow:properties>'
        '<spiffworkflow:property name="formKey" value="fee_review" /></spiffworkflow:properties>'
        '</bpmn:extensionElements>')
    upload(client, civil_designer, department["id"], "exclusive_gateway", xml)
    assert client.post(f"{BASE}/exclusive_gateway/publish", headers=civil_designer).status_code == 201
    url = f"{BASE}/exclusive_gateway/versions/1/test-runs"
    r = client.post(url, json={"data": {"amount": "abc"}}, headers=civil_designer)
    assert r.status_code == 422 and [(e["path"], e["code"]) for e in r.json["errors"]] == [("/data/amount", "money")]
    run = DesignerRun(client, civil_designer, "exclusive_gateway",
                      data={"amount": "800", "stray": True})
    assert run.task("review")["data"] == {"amount": "800.00"}     # typed, stray dropped
