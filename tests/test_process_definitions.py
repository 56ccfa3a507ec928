"""The process designer API: drafts with ETags, validation naming BPMN elements, immutable versions, access."""
from __future__ import annotations

import pytest

from core import audit
from tests.workflows_fixtures import BASE, example, upload
from tests.workflows_fixtures import civil_designer, forms, housing, housing_designer  # noqa: F401 (fixtures)

GOOD = example("user_task_form.bpmn")


@pytest.fixture
def draft(client, civil_designer, department, forms):
    return upload(client, civil_designer, department["id"], "user_task_form", GOOD, name="一般审核")


def _check(client, headers, bpmn_xml, dmn=None, key="user_task_form"):
    body = {"bpmn_xml": bpmn_xml, **({"dmn": dmn} if dmn is not None else {})}
    r = client.post(f"{BASE}/{key}/validate", json=body, headers=headers)
    assert r.status_code == 200, r.json
    return r.json


def test_upload_get_update_with_if_match(client, civil_designer, draft):
    assert draft.headers["ETag"] == '"1"'
    r = client.get(f"{BASE}/user_task_form", headers=civil_designer)
    assert r.status_code == 200 and r.json["bpmn_xml"] == GOOD and r.json["name"] == "一般审核"
    assert client.put(f"{BASE}/user_task_form", json={"name": "x"}, headers=civil_designer).status_code == 428
    ok = client.put(f"{BASE}/user_task_form", json={"name": "窗口审核流程"},
                    headers={**civil_designer, "If-Match": '"1"'})
    assert ok.status_code == 200 and ok.headers["ETag"] == '"2"'
    stale = client.put(f"{BASE}/user_task_form", json={"name": "y"}, headers={**civil_designer, "If-Match": '"1"'})
    assert stale.status_code == 412
    listed = client.get(BASE, headers=civil_designer).json
    assert [d["key"] for d in listed["items"]] == ["user_task_form"] and "bpmn_xml" not in listed["items"][0]


def test_a_clean_draft_validates(client, civil_designer, draft):
    result = _check(client, civil_designer, GOOD)
    assert result["valid"] is True and result["errors"] == []
    assert result["user_tasks"] == [{"element_id": "review", "name": "窗口审核", "form_key": "review",
                                     "form_version": 1}]


def _one(result):
    assert result["valid"] is False
    return [(e["code"], e.get("element_id"), e.get("line")) for e in result["errors"]]


BROKEN_FLOW = GOOD.replace('targetRef="end"', 'targetRef="nowhere"')
CASES = [
    ("malformed XML", GOOD.replace("</bpmn:userTask>", ""), "malformed_xml", None),
    ("XSD violation", GOOD.replace('<bpmn:endEvent id="end" name="办结">',
                                   '<bpmn:endEvent id="end" name="办结"><bpmn:bogus />'), "xsd", "end"),
    ("duplicate id", GOOD.replace('id="flow_2"', 'id="flow_1"'), "xsd", "flow_1"),
    ("no start event", GOOD.replace('<bpmn:startEvent id="start" name="提交申请">',
                                    '<bpmn:intermediateThrowEvent id="start" name="提交申请">')
     .replace("</bpmn:startEvent>", "</bpmn:intermediateThrowEvent>"), "no_start_event", "user_task_form"),
    ("no end event", GOOD.replace('<bpmn:endEvent id="end" name="办结">', '<bpmn:task id="end">')
     .replace("</bpmn:endEvent>", "</bpmn:task>"), "no_end_event", "user_task_form"),
    ("unsupported element", GOOD.replace('<bpmn:endEvent id="end" name="办结">',
                                         '<bpmn:complexGateway id="cx" /><bpmn:endEvent id="end" name="办结">'),
     "unsupported_element", "cx"),
    ("flow to a missing node", BROKEN_FLOW, "missing_node", "flow_2"),
    ("call activity to an unknown process", GOOD.replace(
        '<bpmn:userTask id="review" name="窗口审核">', '<bpmn:callActivity id="call" calledElement="ghost">'
        '<bpmn:incoming>flow_x</bpmn:incoming></bpmn:callActivity><bpmn:userTask id="review" name="窗口审核">')
     .replace('<bpmn:sequenceFlow id="flow_2"', '<bpmn:sequenceFlow id="flow_x" sourceRef="review" '
              'targetRef="call" /><bpmn:sequenceFlow id="flow_2"'), "unknown_process", "call"),
    ("condition that does not compile", GOOD.replace(
        '<bpmn:sequenceFlow id="flow_2" sourceRef="review" targetRef="end" />',
        '<bpmn:sequenceFlow id="flow_2" sourceRef="review" targetRef="end">'
        '<bpmn:conditionExpression>${approved}</bpmn:conditionExpression></bpmn:sequenceFlow>'),
     "bad_condition", "flow_2"),
    ("script that does not compile", GOOD.replace(
        '<bpmn:endEvent id="end" name="办结">', '<bpmn:scriptTask id="calc"><bpmn:script>x = 1\nif x\n  y = 2'
        '</bpmn:script></bpmn:scriptTask><bpmn:endEvent id="end" name="办结">'), "bad_script", "calc"),
    ("unquoted timer", GOOD.replace('<bpmn:endEvent id="end" name="办结">',
                                    '<bpmn:boundaryEvent id="late" attachedToRef="review"><bpmn:timerEventDefinition>'
                                    '<bpmn:timeDuration>P5D +</bpmn:timeDuration></bpmn:timerEventDefinition>'
                                    '</bpmn:boundaryEvent><bpmn:endEvent id="end" name="办结">'),
     "bad_timer", "late"),
    ("multi-instance expression", GOOD.replace(
        '<bpmn:outgoing>flow_2</bpmn:outgoing>\n    </bpmn:userTask>',
        '<bpmn:outgoing>flow_2</bpmn:outgoing><bpmn:multiInstanceLoopCharacteristics><bpmn:loopCardinality>'
        'len(signers</bpmn:loopCardinality></bpmn:multiInstanceLoopCharacteristics></bpmn:userTask>'),
     "bad_multi_instance", "review"),
    ("form not published", GOOD.replace('value="review"', 'value="nonexistent"'), "form_not_published", "review"),
    ("user task without a form", GOOD.replace('<spiffworkflow:property name="formKey" value="review" />', ''),
     "no_form", "review"),
    ("unknown lane", GOOD.replace('name="civil"', 'name="martians"'), "unknown_lane", "Lane_civil"),
]


@pytest.mark.parametrize("case, bpmn_xml, code, element_id", CASES, ids=[c[0] for c in CASES])
def test_validation_names_the_element_of_each_problem(client, civil_designer, draft, case, bpmn_xml, code,
                                                      element_id):
    problems = _one(_check(client, civil_designer, bpmn_xml))
    assert (code, element_id) in [(c, e) for c, e, _ in problems], problems
    if element_id is None:      # no element to name: line and column instead
        error = _check(client, civil_designer, bpmn_xml)["errors"][0]
        assert error["line"] > 1 and error["column"] >= 1 and error["path"] == "/bpmn_xml"


def test_a_dmn_cell_that_does_not_compile_is_named(client, civil_designer, draft):
    dmn = example("fee_decision.dmn").replace("0 &lt;= ? &lt; 90", "0 &lt;= ? &lt;")
    problems = _check(client, civil_designer, example("dmn_decision.bpmn"), [{"name": "fee", "xml": dmn}],
                      key="user_task_form")
    assert ("bad_dmn_cell", "r2_area") in [(e["code"], e.get("element_id")) for e in problems["errors"]]


def test_publish_freezes_an_immutable_version(client, civil_designer, draft):
    r = client.post(f"{BASE}/user_task_form/publish", headers=civil_designer)
    assert r.status_code == 201 and r.json["version"] == 1 and r.json["bpmn_xml"] == GOOD
    changed = GOOD.replace("窗口审核", "复核")
    client.put(f"{BASE}/user_task_form", json={"bpmn_xml": changed}, headers={**civil_designer, "If-Match": '"2"'})
    assert client.get(f"{BASE}/user_task_form/versions/1", headers=civil_designer).json["bpmn_xml"] == GOOD
    assert client.post(f"{BASE}/user_task_form/publish", headers=civil_designer).json["version"] == 2
    versions = client.get(f"{BASE}/user_task_form/versions", headers=civil_designer).json
    assert [v["version"] for v in versions["items"]] == [2, 1] and versions["total"] == 2
    assert "spec_json" not in versions["items"][0] and "bpmn_xml" not in versions["items"][0]
    paged = client.get(f"{BASE}/user_task_form/versions?page=2&page_size=1", headers=civil_designer).json
    assert [v["version"] for v in paged["items"]] == [1]
    assert client.get(f"{BASE}/user_task_form/versions/9", headers=civil_designer).status_code == 404
    assert [a.action for a in audit.query(object_id="user_task_form")] == [
        "process.publish", "process.draft.update", "process.publish", "process.draft.create"]


def test_a_draft_with_problems_is_not_published(client, civil_designer, draft):
    client.put(f"{BASE}/user_task_form", json={"bpmn_xml": BROKEN_FLOW}, headers={**civil_designer, "If-Match": '"1"'})
    r = client.post(f"{BASE}/user_task_form/publish", headers=civil_designer)
    assert r.status_code == 422 and r.json["code"] == "invalid"
    assert r.json["errors"][0]["path"] == "flow_2"
    assert client.get(f"{BASE}/user_task_form/versions", headers=civil_designer).json["items"] == []
    from workflows.bpmn.models import ProcessDraft, ProcessVersion
    assert ProcessVersion.objects(key="user_task_form").count() == 0      # nothing was written
    stored = ProcessDraft.objects(key="user_task_form").get()
    assert stored.bpmn_xml == BROKEN_FLOW and stored.version == 2 and not stored.published_version


def test_who_may_design(client, draft, housing_designer, resident_headers, admin_headers, department):
    assert client.get(f"{BASE}/user_task_form", headers=housing_designer).status_code == 404
    assert client.post(f"{BASE}/user_task_form/publish", headers=housing_designer).status_code == 404
    assert client.get(f"{BASE}/user_task_form", headers=resident_headers).status_code == 403
    r = client.post(BASE, json={"key": "theirs", "name": "t", "department": department["id"], "bpmn_xml": GOOD},
                    headers=housing_designer)
    assert r.status_code == 403
    assert client.get(f"{BASE}/user_task_form", headers=admin_headers).status_code == 200


def test_keys_are_unique_and_bad_bodies_name_the_field(client, civil_designer, draft, department):
    r = client.post(BASE, json={"key": "user_task_form", "name": "again", "department": department["id"],
                                "bpmn_xml": GOOD}, headers=civil_designer)
    assert r.status_code == 409
    r = client.post(BASE, json={"key": "bad key!", "name": "x", "department": department["id"], "bpmn_xml": ""},
                    headers=civil_designer)
    assert r.status_code == 422 and {e["path"] for e in r.json["errors"]} == {"/key", "/bpmn_xml"}
