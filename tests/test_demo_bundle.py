"""After `zhangban seed-demo`: 新生儿出生一件事 walks from one POST to its result across two departments, and the
秒批 service decides on submission (issue 12: the demo examples)."""
from __future__ import annotations

from tests.conftest import bearer
from tests.test_demo_walk import _approve, _staff, _todo


def _seed(app):
    from api import demo, demo_bundle, demo_service

    with app.app_context():
        def run():
            return list(demo.seed()) + list(demo_service.seed(demo.DEMO_PASSWORD)) + \
                list(demo_bundle.seed(demo.DEMO_PASSWORD))
        lines = run()
        assert run() == []                                   # safe to run twice
    assert any(line.startswith("bundle newborn v1") for line in lines), lines
    assert any("fast-residence" in line and "秒批" in line for line in lines), lines


def _resident(client):
    r = client.post("/api/v1/auth/dev-login", json={"openid": "demo-openid-resident"})
    assert r.status_code == 200, r.json
    return bearer(r.json["access_token"])


def test_the_newborn_bundle_from_one_post_to_its_result(app, client):
    _seed(app)
    resident = _resident(client)
    listed = client.get("/api/v1/bundles", headers=resident).json
    assert [b["code"] for b in listed["items"]] == ["newborn"]
    r = client.post("/api/v1/bundle-cases", headers=resident, json={
        "bundle_code": "newborn", "shared": {"baby_name": "陈小满", "birth_date": "2026-11-20"},
        "parts": {"hukou": {"address": "东城区人民路 1 号"}}})
    assert r.status_code == 201, r.json
    case = r.json
    assert {p["key"]: p["status"] for p in case["parts"]} == {"birth": "submitted", "hukou": "waiting"}
    health, police = _staff(client, "demo-approver-4"), _staff(client, "demo-approver-3")
    [task] = _todo(client, health)
    _approve(client, health, task, comment="出生医学证明已签发")
    assert _todo(client, police) == []                       # not in the health approver's request …
    with app.app_context():
        from workflows.cases.bundles import cases
        assert cases.advance_due() == 1                      # … but in the worker's next round
    [task] = _todo(client, police)                           # 户口 starts once the certificate is issued
    assert task["applicant_name"] == "陈*"                   # as for the parts started with the resident's request
    _approve(client, police, task, comment="已登记")
    with app.app_context():
        cases.advance_due()
    done = client.get(f"/api/v1/bundle-cases/{case['id']}", headers=resident).json
    assert done["status"] == "approved"
    birth = next(p for p in done["parts"] if p["key"] == "birth")
    app_data = client.get(f"/api/v1/applications/{birth['application_id']}", headers=resident).json["data"]
    assert app_data["mother_id_card"] == "110101199003076632"   # the shared 身份证号, from the verified profile


def test_the_fast_service_decides_on_submission(app, client):
    _seed(app)
    resident = _resident(client)
    r = client.post("/api/v1/applications", headers=resident, json={
        "service_code": "fast-residence", "submit": True, "data": {"months": 30}})
    assert r.status_code == 201, r.json
    assert r.json["status"] == "approved" and r.json["timeline"][-1]["rule"] == "long_stay (居住满两年)"
    r = client.post("/api/v1/applications", headers=resident, json={
        "service_code": "fast-residence", "submit": True, "data": {"months": 12}})
    assert r.json["status"] == "submitted"                   # no rule: 民政局 decides
    assert [t["service_code"] for t in _todo(client, _staff(client, "demo-approver-1"))] == ["fast-residence"]
