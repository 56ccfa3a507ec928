"""秒批 (issue 12, item 5): a service's DMN decision approves or rejects on submission without a human step, and
leaves everything else to people; the timeline says it was automatic and which rule decided."""
from __future__ import annotations

import pytest

from tests.applications_fixtures import TWO_DEPARTMENTS, case, good_data  # noqa: F401 (fixture)
from tests.workflows_fixtures import BASE as PROCESSES

DMN13 = "https://www.omg.org/spec/DMN/20191111/MODEL/"


def fast_track(input_expression="months"):
    """Two years' residence: approved at once; under a month: refused at once; between: people decide."""
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<definitions xmlns="{DMN13}" id="defs_fast" name="秒批" namespace="http://zhangban.example/dmn">
  <decision id="residence_fast" name="居住证秒批">
    <decisionTable id="fast_table" hitPolicy="FIRST">
      <input id="in_months" label="居住月数">
        <inputExpression id="in_months_expr" typeRef="number"><text>{input_expression}</text></inputExpression>
      </input>
      <output id="out_decision" label="结论" name="decision" typeRef="string" />
      <output id="out_reason" label="理由" name="reason" typeRef="string" />
      <rule id="rule_long"><description>居住满两年</description>
        <inputEntry id="r1_in"><text>&gt;= 24</text></inputEntry>
        <outputEntry id="r1_decision"><text>"approve"</text></outputEntry>
        <outputEntry id="r1_reason"><text>"居住满两年，自动核准"</text></outputEntry>
      </rule>
      <rule id="rule_short">
        <inputEntry id="r2_in"><text>&lt; 1</text></inputEntry>
        <outputEntry id="r2_decision"><text>"reject"</text></outputEntry>
        <outputEntry id="r2_reason"><text>"居住不足一个月"</text></outputEntry>
      </rule>
    </decisionTable>
  </decision>
</definitions>"""


def publish_rules(case, key="residence_rules", xml=None):
    bpmn = TWO_DEPARTMENTS.replace('id="residence_permit"', f'id="{key}"').replace(
        'processRef="residence_permit"', f'processRef="{key}"')
    r = case.client.post(PROCESSES, json={"key": key, "name": "秒批规则", "department": case.civil["id"],
                                          "bpmn_xml": bpmn, "dmn": [{"name": "fast.dmn", "xml": xml or fast_track()}]},
                         headers=case.designer)
    assert r.status_code == 201, r.json
    r = case.client.post(f"{PROCESSES}/{key}/publish", headers=case.designer)
    assert r.status_code == 201, r.json


def set_rule(case, auto, expect=201):
    """Name the decision on the residence service's draft and publish it (422 lists the problems)."""
    r = case.client.get("/api/v1/designer/services/residence", headers=case.designer)
    r = case.client.put("/api/v1/designer/services/residence", json={"auto_approval": auto},
                        headers={**case.designer, "If-Match": r.headers["ETag"]})
    assert r.status_code == 200, r.json
    r = case.client.post("/api/v1/designer/services/residence/publish", headers=case.designer)
    assert r.status_code == expect, r.json
    return r.json


@pytest.fixture
def fast(case):
    publish_rules(case)
    set_rule(case, {"process_key": "residence_rules", "process_version": 1, "decision_id": "residence_fast"})
    return case


def test_two_years_residence_is_approved_at_once_by_the_named_rule(fast):
    done = fast.submit(good_data(months=30))
    assert done["status"] == "approved" and done["current_steps"] == [] and done["number"].startswith("ZB")
    assert done["result"] == {**done["result"], "decision": "approved", "automatic": True,
                              "rule": "rule_long (居住满两年)", "reason": "居住满两年，自动核准"}
    submitted, decided = done["timeline"]
    assert submitted["action"] == "submitted" and submitted["automatic"] is False
    assert decided["action"] == "approved" and decided["automatic"] is True and decided["step"] == "秒批"
    assert decided["rule"] == "rule_long (居住满两年)" and decided["decision_id"] == "residence_fast"
    assert done["withdrawable"] is False
    assert fast.todo(fast.civil_1) == [] and fast.todo(fast.housing_1) == []   # nobody was asked
    assert fast.application(done["id"])["status"] == "approved"                # and it is stored so
    from workflows.cases.applications.models import Application
    with fast.client.application.app_context():      # in the same write: its result documents are due
        stored = Application.objects(id=done["id"]).get()
        assert stored.documents_due_at is not None
        # and the records it owes ride with it: the submit's and the decision's audit records and messages
        assert sorted((d["to"], d["doc"].get("action") or d["doc"].get("kind")) for d in stored.deferred) == [
            ("audit", "application.auto_decided"), ("audit", "application.submit"),
            ("notifications", "approved"), ("notifications", "submitted")]


def test_a_rule_can_refuse_at_once(fast):
    done = fast.submit(good_data(months=0))
    assert done["status"] == "rejected" and done["result"]["reason"] == "居住不足一个月"
    from workflows.cases.applications.models import Application
    with fast.client.application.app_context():      # a refusal has no result documents to make
        assert Application.objects(id=done["id"]).get().documents_due_at is None
    assert done["timeline"][-1]["rule"] == "rule_short" and done["timeline"][-1]["automatic"] is True
    assert fast.todo(fast.civil_1) == []


def test_no_matching_rule_goes_to_people(fast):
    submitted = fast.submit(good_data(months=12))
    assert submitted["status"] == "submitted" and submitted["result"] is None
    assert [e["action"] for e in submitted["timeline"]] == ["submitted"]
    [task] = fast.todo(fast.civil_1)
    assert task["application_id"] == submitted["id"]


def test_a_decision_that_fails_on_the_data_falls_back_to_people_and_is_audited(case, admin_headers):
    # the input divides by the months: fine for most, a ZeroDivisionError for months = 0 (in the sandbox)
    publish_rules(case, xml=fast_track("600 / months"))
    set_rule(case, {"process_key": "residence_rules", "process_version": 1, "decision_id": "residence_fast"})
    submitted = case.submit(good_data(months=0))
    assert submitted["status"] == "submitted" and len(case.todo(case.civil_1)) == 1
    r = case.client.get("/api/v1/audit", query_string={"action": "application.auto_decision_failed"},
                        headers=admin_headers)
    assert r.status_code == 200, r.json
    [record] = [i for i in r.json["items"] if i["action"] == "application.auto_decision_failed"]
    assert "600 / months" in record["details"]["error"] and record["object_id"] == "residence"


def test_the_designer_is_told_which_decision_or_process_is_wrong(case):
    publish_rules(case)
    error = set_rule(case, {"process_key": "residence_rules", "process_version": 1, "decision_id": "nope"}, 422)
    assert [(e["path"], e["code"]) for e in error["errors"]] == [("/auto_approval/decision_id", "decision_not_found")]
    error = set_rule(case, {"process_key": "no_such", "process_version": 1, "decision_id": "x"}, 422)
    assert [(e["path"], e["code"]) for e in error["errors"]] == [("/auto_approval/process_key",
                                                                  "process_not_published")]
    error = set_rule(case, {"process_key": "residence_rules", "process_version": 7, "decision_id": "x"}, 422)
    assert error["errors"][0]["path"] == "/auto_approval/process_version"
    r = case.client.put("/api/v1/designer/services/residence", json={"auto_approval": {"process_key": "x"}},
                        headers={**case.designer, "If-Match": '"1"'})
    assert r.status_code == 422 and {e["path"] for e in r.json["errors"]} >= {"/auto_approval/decision_id"}
    published = set_rule(case, None)          # null takes it out again
    assert published["auto_approval"] is None
