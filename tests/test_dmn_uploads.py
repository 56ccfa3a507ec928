"""DMN uploads: files that are not DMN 1.x (issue 8, item 1), ambiguous decisions and requirement cycles (issue 16,
item 5), and the shapes a fuzz run of the DMN field found (random mutations of docs/bpmn/fee_decision.dmn:
deleted, duplicated and renamed elements, dropped attributes, other namespaces, comments, odd cells). Each was a
500, or a bare KeyError/IndexError/AttributeError "invalid_bpmn" naming no cell; now a 422 or a problem naming
the file and the DMN element."""
from __future__ import annotations

import re

import pytest

from tests.test_fuzz_regressions import assert_error_shape
from tests.workflows_fixtures import BASE, example, upload
from tests.workflows_fixtures import civil_designer, forms  # noqa: F401 (fixtures)

FEE = example("fee_decision.dmn")
BPMN = example("dmn_decision.bpmn")
DMN13 = "https://www.omg.org/spec/DMN/20191111/MODEL/"


@pytest.fixture
def draft(client, civil_designer, department, forms):
    upload(client, civil_designer, department["id"], "dmn_decision", BPMN, [{"name": "fee.dmn", "xml": FEE}])
    return "dmn_decision"


def _create(client, headers, department, dmn, key="dmn_decision"):
    return client.post(BASE, json={"key": key, "name": key, "department": department["id"], "bpmn_xml": BPMN,
                                   "dmn": dmn}, headers=headers)


def _check(client, headers, key, dmn):
    r = client.post(f"{BASE}/{key}/validate", json={"dmn": dmn}, headers=headers)
    assert r.status_code == 200, r.json
    return r.json


NOT_DMN = [
    ("no namespace", "<dmn/>", "has no namespace"),
    ("a decision table without namespace", FEE.replace(f' xmlns="{DMN13}"', ""), "has no namespace"),
    ("another namespace", FEE.replace(DMN13, "urn:not-dmn"), "namespace 'urn:not-dmn'"),
    ("DMN 1.3 without its trailing slash", FEE.replace(DMN13, DMN13.rstrip("/")), "is not DMN 1.1, 1.2 or 1.3"),
    ("a BPMN file", BPMN, "is not DMN"),
    ("a DMN element that is not definitions", f'<decision xmlns="{DMN13}" id="x"/>', "the root must be"),
    ("not XML", "fee = 80", "not well-formed XML"),
    ("empty", " ", "not well-formed XML"),
]


@pytest.mark.parametrize("case, xml, says", NOT_DMN, ids=[c[0] for c in NOT_DMN])
def test_a_file_that_is_not_dmn_is_refused_at_create_update_and_validate(client, civil_designer, department,
                                                                          forms, case, xml, says):
    dmn = [{"name": "fee.dmn", "xml": FEE}, {"name": "x.dmn", "xml": xml}]
    r = _create(client, civil_designer, department, dmn)
    assert_error_shape(r, 422, "invalid")
    [item] = r.json["errors"]
    assert item["path"] == "/dmn/1/xml" and "'x.dmn'" in item["message"] and says in item["message"], item
    assert client.get(f"{BASE}/dmn_decision", headers=civil_designer).status_code == 404   # nothing stored
    # update and validate (with unsaved files) refuse it the same way
    assert _create(client, civil_designer, department, dmn[:1]).status_code == 201
    r = client.put(f"{BASE}/dmn_decision", json={"dmn": dmn}, headers={**civil_designer, "If-Match": '"1"'})
    assert_error_shape(r, 422, "invalid")
    assert r.json["errors"][0]["path"] == "/dmn/1/xml"
    r = client.post(f"{BASE}/dmn_decision/validate", json={"dmn": dmn}, headers=civil_designer)
    assert_error_shape(r, 422, "invalid")
    # the stored draft is untouched, still valid, and publishes
    assert client.post(f"{BASE}/dmn_decision/validate", json={}, headers=civil_designer).json["valid"] is True
    assert client.post(f"{BASE}/dmn_decision/publish", headers=civil_designer).status_code == 201


def test_the_message_follows_the_language(client, civil_designer, department, forms):
    r = _create(client, {**civil_designer, "Accept-Language": "en"}, department, [{"name": "x.dmn", "xml": "<dmn/>"}])
    assert r.json["message"] == "A DMN file is not a DMN 1.x document"
    r = _create(client, civil_designer, department, [{"name": "x.dmn", "xml": "<dmn/>"}])
    assert r.json["message"] == "DMN 文件不是 DMN 1.x 格式"


def test_the_same_decision_in_two_files_is_refused_naming_both(client, civil_designer, draft):
    result = _check(client, civil_designer, draft, [{"name": "fee.dmn", "xml": FEE},
                                                    {"name": "fee-copy.dmn", "xml": FEE}])
    assert [(e["code"], e["element_id"]) for e in result["errors"]] == [("duplicate_decision", "fee_decision")]
    assert "'fee.dmn' and 'fee-copy.dmn'" in result["errors"][0]["message"]


def _requiring(decision_id: str, required: str, table_id: str) -> str:
    return (f'<decision id="{decision_id}"><informationRequirement id="ir_{decision_id}">'
            f'<requiredDecision href="#{required}"/></informationRequirement>'
            f'<decisionTable id="{table_id}"><output id="o_{decision_id}" name="x"/></decisionTable></decision>')


def test_a_decision_requirement_cycle_says_what_the_cycle_is(client, civil_designer, draft):
    fee = FEE.replace('<decision id="fee_decision" name="规费核定">', '<decision id="fee_decision" name="规费核定">'
                      '<informationRequirement id="ir"><requiredDecision href="#discount"/></informationRequirement>')
    other = (f'<definitions xmlns="{DMN13}" id="d2" name="d2" namespace="http://x">'
             + _requiring("discount", "fee_decision", "t2") + "</definitions>")
    result = _check(client, civil_designer, draft, [{"name": "fee.dmn", "xml": fee}, {"name": "d.dmn", "xml": other}])
    assert [e["code"] for e in result["errors"]] == ["decision_cycle"]
    assert "fee_decision → discount → fee_decision" in result["errors"][0]["message"]
    # in one file, SpiffWorkflow's "'list' object has no attribute 'tag'" becomes two clear problems
    both = fee.replace("</definitions>", _requiring("discount", "fee_decision", "t2") + "</definitions>")
    result = _check(client, civil_designer, draft, [{"name": "fee.dmn", "xml": both}])
    assert [e["code"] for e in result["errors"]] == ["multiple_decisions", "decision_cycle"]
    assert "'list' object" not in str(result)


def _without(pattern: str, text: str = FEE) -> str:
    return re.sub(pattern, "", text, count=1)


FUZZED = [   # (case, the mutated file, the problem code, the element it names)
    ("a rule without id", FEE.replace('<rule id="rule_small">', "<rule>"), "no_dmn_id", "fee_table"),
    ("an input without id", FEE.replace(' id="in_area"', ""), "no_dmn_id", "fee_table"),
    ("a decision table without id", FEE.replace(' id="fee_table"', ""), "no_dmn_id", "fee_decision"),
    ("a rule with an extra input cell", FEE.replace('<inputEntry id="r2_area">',
                                                     '<inputEntry id="x"><text>1</text></inputEntry>'
                                                     '<inputEntry id="r2_area">'), "bad_dmn_rule", "rule_small"),
    ("a rule missing an output cell", _without(r'<outputEntry id="r2_channel">.*?</outputEntry>'),
     "bad_dmn_rule", "rule_small"),
    ("an input entry without text", FEE.replace('<inputEntry id="r1_area"><text>-</text></inputEntry>',
                                                '<inputEntry id="r1_area"/>'), "bad_dmn_cell", "r1_area"),
    ("an input without an expression", _without(r'<inputExpression id="in_area_expr".*?</inputExpression>'),
     "bad_dmn_cell", "in_area"),
    ("an unknown child of the table", FEE.replace('<rule id="rule_small">', '<annotation/><rule id="rule_small">'),
     "unsupported_dmn", "fee_table"),
    ("a hit policy SpiffWorkflow does not run", FEE.replace('hitPolicy="FIRST"', 'hitPolicy="PRIORITY"'),
     "unsupported_hit_policy", "fee_table"),
    ("COLLECT with an aggregation", FEE.replace('hitPolicy="FIRST"', 'hitPolicy="COLLECT" aggregation="SUM"'),
     "unsupported_hit_policy", "fee_table"),
    ("a decision without a table", re.sub(r"<decisionTable.*</decisionTable>", "", FEE, flags=re.S),
     "unsupported_decision", "fee_decision"),
    ("no decision at all", re.sub(r"<decision .*</decision>", "", FEE, flags=re.S), "no_decision", None),
    ("an output cell with a leading space", FEE.replace("<text>round(area * 1.5)</text>",
                                                        "<text> round(area * 1.5)</text>"), "bad_dmn_cell", "r3_fee"),
    ("a cell the sandbox refuses", FEE.replace("<text>80</text>", "<text>().__class__</text>"),
     "bad_dmn_cell", "r2_fee"),
]


@pytest.mark.parametrize("case, xml, code, element", FUZZED, ids=[c[0] for c in FUZZED])
def test_fuzzed_dmn_shapes_are_named_problems(client, civil_designer, draft, case, xml, code, element):
    result = _check(client, civil_designer, draft, [{"name": "fee.dmn", "xml": xml}])
    problems = [(e["code"], e.get("element_id")) for e in result["errors"]]
    assert (code, element) in problems, problems
    assert "invalid_bpmn" not in {c for c, _ in problems}          # SpiffWorkflow's bare KeyError & co.
    assert all(e["path"] == (element or "/dmn/0/xml") for e in result["errors"] if e["code"] == code)


def test_comments_in_a_decision_table_are_ignored(client, civil_designer, draft):
    # a comment node inside a table crashed SpiffWorkflow's parser ("'cython_function_or_method' has no attribute")
    xml = FEE.replace('<rule id="rule_small">', '<!-- small flats --><rule id="rule_small"><?pi x?>')
    r = client.put(f"{BASE}/{draft}", json={"dmn": [{"name": "fee.dmn", "xml": xml}]},
                   headers={**civil_designer, "If-Match": '"1"'})
    assert r.status_code == 200, r.json
    assert client.post(f"{BASE}/{draft}/publish", headers=civil_designer).status_code == 201
    r = client.post(f"{BASE}/{draft}/versions/1/test-runs", json={"data": {"applicant_type": "x", "area": 60}},
                    headers=civil_designer)
    assert r.json["ready_tasks"][0]["data"]["fee"] == 80
