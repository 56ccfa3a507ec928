"""Issue 23, item 5: an engine error never carries the case's data. A designer's `int(id_card)` failing on a
resident's 身份证号 quoted it back (`invalid literal for int() with base 10: '110105…'`) in the 422 an approver got,
who sees that number masked everywhere else. Approvers get the element and the kind only; designers' test runs keep
the message with its data values replaced (workflows/bpmn/redact.py)."""
from __future__ import annotations

import json

from tests.applications_fixtures import ID_CARD, good_data
from tests.test_case_outcomes import end, flow, people, process, serve, stored, user_task  # noqa: F401 (fixture)
from tests.workflows_fixtures import BASE

# 受理审核, then a script that turns the 身份证号 into a number (a designer's mistake)
PARSES_ID = process("parses_id", {"civil": ["start", "review", "parse", "done"]}, (
    user_task("review", "受理审核", "f1", "f2")
    + '<bpmn:scriptTask id="parse" name="取号"><bpmn:incoming>f2</bpmn:incoming><bpmn:outgoing>f3</bpmn:outgoing>'
      '<bpmn:script>id_number = int(id_card)</bpmn:script></bpmn:scriptTask>'
    + end("done", "f3", "approved")
    + flow("f1", "start", "review") + flow("f2", "review", "parse") + flow("f3", "parse", "done")))

FIRST_DIGITS = ID_CARD[:10]


def test_an_approver_gets_the_element_and_the_kind_and_no_data_of_the_case(people, app):
    case = serve(people, "parses_id", PARSES_ID)
    submitted = case.submit(good_data(phone="13912345678"))
    [task] = case.todo(case.civil_1)
    for language in ("zh-CN", "en"):
        r = case.client.post(f"/api/v1/tasks/{task['id']}/complete", json={"version": task["version"],
                             "decision": "approve"}, headers={**case.civil_1, "Accept-Language": language})
        assert r.status_code == 422 and r.json["code"] == "workflow_incident", r.json
        body = json.dumps(r.json, ensure_ascii=False)
        assert FIRST_DIGITS not in body and "13912345678" not in body
        for code_text in ("int(", "id_card", "id_number", "literal"):   # no expression text, no variable names
            assert code_text not in body, (code_text, body)
        assert r.json["errors"][0]["element_id"] == "parse" and r.json["errors"][0]["code"] == "error"
        task = case.todo(case.civil_1)[0]
    _, instance = stored(submitted["id"])
    assert instance.incidents and all(FIRST_DIGITS not in i.message for i in instance.incidents)


def test_a_designers_test_run_keeps_the_message_without_the_values(people):
    case = serve(people, "parses_id", PARSES_ID)
    r = case.client.post(f"{BASE}/parses_id/versions/1/test-runs", json={"data": {"id_card": ID_CARD}},
                         headers=case.designer)
    assert r.status_code == 201, r.json
    run = r.json
    [waiting] = run["ready_tasks"]
    task_id = waiting["id"]
    r = case.client.post(f"{BASE}/parses_id/versions/1/test-runs/{run['id']}/tasks/{task_id}/complete",
                         json={"data": {}, "decision": "approve"}, headers={**case.designer, "Accept-Language": "en"})
    assert r.status_code == 422 and r.json["code"] == "workflow_incident", r.json
    message = r.json["errors"][0]["message"]
    assert "invalid literal for int()" in message and "…" in message      # what went wrong, for the designer
    assert FIRST_DIGITS not in json.dumps(r.json, ensure_ascii=False)
    kept = case.client.get(f"{BASE}/parses_id/versions/1/test-runs/{run['id']}", headers=case.designer).json
    assert FIRST_DIGITS not in json.dumps(kept["incidents"], ensure_ascii=False)


def test_redaction_replaces_data_values_quoted_literals_and_long_numbers():
    from workflows.bpmn import redact

    said = "invalid literal for int() with base 10: '11010519491231002X' (name 张三丰, phone 13812345678)"
    shown = redact.message(said, ["张三丰"])
    assert shown == "invalid literal for int() with base 10: '…' (name …, phone …)"
