"""What a first user met in the first hour (issue 8, item 9 and friends), each over HTTP."""
from __future__ import annotations

from tests.workflows_fixtures import BASE, upload
from tests.workflows_fixtures import civil_designer  # noqa: F401 (fixtures)

FAILING_START = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d" targetNamespace="http://x">
  <bpmn:process id="broken_start" isExecutable="true">
    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:scriptTask id="divide"><bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing>
      <bpmn:script>x = 1 / zero</bpmn:script></bpmn:scriptTask>
    <bpmn:endEvent id="end"><bpmn:incoming>f2</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="divide" />
    <bpmn:sequenceFlow id="f2" sourceRef="divide" targetRef="end" />
  </bpmn:process>
</bpmn:definitions>"""


def test_a_test_run_start_that_meets_an_incident_answers_422_like_a_completion(client, civil_designer, department):
    upload(client, civil_designer, department["id"], "broken_start", FAILING_START)
    assert client.post(f"{BASE}/broken_start/publish", headers=civil_designer).status_code == 201
    r = client.post(f"{BASE}/broken_start/versions/1/test-runs", json={"data": {"zero": 0}}, headers=civil_designer)
    assert r.status_code == 422 and r.json["code"] == "workflow_incident"
    item = r.json["errors"][0]
    assert item["element_id"] == "divide" and "ZeroDivisionError" in item["message"]
    assert item["message"].startswith("流程步骤出错：")          # zh-CN leads; the engine's detail follows
    kept = client.get(f"{BASE}/broken_start/versions/1/test-runs/{item['instance_id']}", headers=civil_designer)
    assert kept.status_code == 200 and kept.json["status"] == "incident"
    assert kept.json["incidents"][0]["element_id"] == "divide"


def test_every_staff_member_reads_the_department_tree_but_only_admins_change_it(client, make_staff, department,
                                                                               resident_headers):
    _, designer = make_staff("designer-x", [{"role": "designer", "department_id": department["id"]}])
    _, approver = make_staff("approver-x", [{"role": "approver", "department_id": department["id"]}])
    for headers in (designer, approver):
        r = client.get("/api/v1/departments", headers=headers)
        assert r.status_code == 200
        assert [(d["code"], d["name"]) for d in r.json["items"]] == [("civil", "民政局")]
        one = client.get(f"/api/v1/departments/{department['id']}", headers=headers)
        assert one.status_code == 200 and one.json["code"] == "civil"
        r = client.post("/api/v1/departments", json={"code": "x", "name": "x"}, headers=headers)
        assert r.status_code == 403
        r = client.patch(f"/api/v1/departments/{department['id']}", json={"name": "改名"}, headers=headers)
        assert r.status_code == 403
    assert client.get("/api/v1/departments", headers=resident_headers).status_code == 403
    assert client.get(f"/api/v1/departments/{department['id']}", headers=resident_headers).status_code == 403


def test_field_messages_follow_accept_language(client, admin_headers):
    body = {"password": "long enough password", "surprise": 1}
    zh = client.post("/api/v1/users", json=body, headers=admin_headers)
    en = client.post("/api/v1/users", json=body, headers={**admin_headers, "Accept-Language": "en"})
    assert zh.status_code == en.status_code == 422
    assert {e["path"]: e["message"] for e in zh.json["errors"]} == {"/username": "此项为必填项",
                                                                    "/surprise": "不允许此字段"}
    assert {e["path"]: e["message"] for e in en.json["errors"]} == {"/username": "Missing data for required field.",
                                                                    "/surprise": "Unknown field."}
    r = client.get("/api/v1/users?limit=0", headers=admin_headers)
    assert r.status_code == 422 and r.json["errors"][0]["location"] == "query"
    assert r.json["errors"][0]["message"] == "不能小于 1，且不能大于 100"


def test_designer_problems_follow_accept_language(client, civil_designer, department):
    schema = {"type": "object", "properties": {"a": {"type": "string", "x-ui": {"widget": "nonsense"}}}}
    r = client.post("/api/v1/designer/forms", json={"key": "odd_form", "title": "f", "department": department["id"],
                                                    "schema": schema}, headers=civil_designer)
    assert r.status_code == 201
    zh = client.post("/api/v1/designer/forms/odd_form/validate", json={}, headers=civil_designer)
    en = client.post("/api/v1/designer/forms/odd_form/validate", json={},
                     headers={**civil_designer, "Accept-Language": "en"})
    assert zh.json["errors"][0]["code"] == en.json["errors"][0]["code"] == "unknown_widget"
    # the zh text leads; the checker's detail follows, since a designer needs it
    assert zh.json["errors"][0]["message"].startswith("未知的控件类型：")
    assert "nonsense" in en.json["errors"][0]["message"]
    published = client.post("/api/v1/designer/forms/odd_form/publish", headers=civil_designer)
    assert published.status_code == 422 and published.json["errors"][0]["message"].startswith("未知的控件类型：")

    lane = FAILING_START.replace('<bpmn:process id="broken_start" isExecutable="true">',
                                 '<bpmn:process id="broken_start" isExecutable="true"><bpmn:laneSet id="ls">'
                                 '<bpmn:lane id="l1" name="nowhere" /></bpmn:laneSet>')
    upload(client, civil_designer, department["id"], "broken_start", lane)
    zh = client.post(f"{BASE}/broken_start/validate", json={}, headers=civil_designer)
    en = client.post(f"{BASE}/broken_start/validate", json={}, headers={**civil_designer, "Accept-Language": "en"})
    assert [e["message"].split("：")[0] for e in zh.json["errors"]] == ["泳道名称不是已知的部门编码或角色"]
    assert "'nowhere'" in zh.json["errors"][0]["message"]        # the detail that names the lane follows
    assert "nowhere" in en.json["errors"][0]["message"]


def test_removing_ones_own_admin_role_says_so(client, make_staff):
    me, headers = make_staff("only-admin", [{"role": "admin"}])
    r = client.delete(f"/api/v1/users/{me.id}/roles/admin", headers=headers)
    assert r.status_code == 409 and r.json["message"] == "不能撤销自己的管理员角色"
    r = client.delete(f"/api/v1/users/{me.id}/roles/admin", headers={**headers, "Accept-Language": "en"})
    assert r.json["message"] == "You cannot remove your own admin role"
    assert [g["role"] for g in client.get(f"/api/v1/users/{me.id}", headers=headers).json["grants"]] == ["admin"]


def test_new_users_id_number_and_phone_pass_the_forms_checks(client, admin_headers):
    def create(username, **pii):
        return client.post("/api/v1/users", json={"username": username, "password": "long enough pw", **pii},
                           headers=admin_headers)
    r = create("bad-check", id_card="110101199003076631", phone="12800138000")    # right shape, wrong check digit
    assert r.status_code == 422
    assert {e["path"]: e["message"] for e in r.json["errors"]} == {
        "/id_card": "身份证号无效（应为 18 位，出生日期和校验码须正确）", "/phone": "手机号无效"}
    r = create("bad-date", id_card="110101199002300000")                            # 30 February
    assert r.status_code == 422 and [e["path"] for e in r.json["errors"]] == ["/id_card"]
    r = create("good", id_card="11010519491231002x", phone="+86 138-0013-8000")
    assert r.status_code == 201, r.json
    assert (r.json["id_card"], r.json["phone"]) == ("11010519491231002X", "13800138000")   # as the forms keep them


def test_if_match_star_matches_any_existing_draft(client, civil_designer, department):
    schema = {"type": "object", "properties": {"a": {"type": "string", "x-ui": {"widget": "text", "label": "A"}}}}
    r = client.post("/api/v1/designer/forms", json={"key": "star_form", "title": "t", "department": department["id"],
                                                    "schema": schema}, headers=civil_designer)
    assert r.status_code == 201
    r = client.put("/api/v1/designer/forms/star_form", json={"title": "新标题"},
                   headers={**civil_designer, "If-Match": "*"})
    assert r.status_code == 200 and r.json["title"] == "新标题" and r.headers["ETag"] == '"2"'
    r = client.put("/api/v1/designer/forms/nothing_here", json={"title": "x"}, headers={**civil_designer, "If-Match": "*"})
    assert r.status_code == 404

    upload(client, civil_designer, department["id"], "broken_start", FAILING_START)
    r = client.put(f"{BASE}/broken_start", json={"name": "改名"}, headers={**civil_designer, "If-Match": "*"})
    assert r.status_code == 200 and r.json["name"] == "改名" and r.headers["ETag"] == '"2"'
    r = client.post(f"{BASE}/broken_start/publish", headers={**civil_designer, "If-Match": "*"})
    assert r.status_code == 201


def test_numeric_limits_that_leave_no_value_are_problems_and_all_problems_are_reported(client, civil_designer,
                                                                                       department):
    schema = {"type": "object", "properties": {
        "a": {"type": "strin", "x-ui": {"widget": "text"}},                              # a meta-schema problem
        "n": {"type": "integer", "minimum": 10, "maximum": 5, "x-ui": {"widget": "integer"}},
        "m": {"type": "string", "exclusiveMinimum": 100, "maximum": 100, "x-ui": {"widget": "money"}},
        "c": {"type": "array", "items": {"enum": ["x", "y"]}, "minItems": 2, "maxItems": 1,
              "x-ui": {"widget": "checkbox"}}}}
    r = client.post("/api/v1/designer/forms", json={"key": "crossed", "title": "t", "department": department["id"],
                                                    "schema": schema}, headers=civil_designer)
    assert r.status_code == 201
    r = client.post("/api/v1/designer/forms/crossed/validate", json={}, headers=civil_designer)
    assert {(e["path"], e["code"]) for e in r.json["errors"]} == {
        ("/properties/a/type", "meta_schema"), ("/properties/n/minimum", "limits_crossed"),
        ("/properties/m/exclusiveMinimum", "limits_crossed"), ("/properties/c/minItems", "limits_crossed")}
    assert r.json["valid"] is False


def test_a_malformed_json_body_is_explained_in_the_callers_language(client, admin_headers):
    headers = {**admin_headers, "Content-Type": "application/json"}
    zh = client.post("/api/v1/users", data=b"{not json", headers=headers)
    en = client.post("/api/v1/users", data=b"{not json", headers={**headers, "Accept-Language": "en"})
    assert zh.status_code == en.status_code == 400 and zh.json["code"] == "invalid_json"
    assert zh.json["errors"][0]["message"] == "请求体不是有效的 JSON"
    assert en.json["errors"][0]["message"] == "Invalid JSON body."
