"""After `zhangban seed-demo`, a newcomer walks 居住证申领 from submit to 办结 over HTTP, as README shows with curl."""
from __future__ import annotations

import io

import pytest

from tests.conftest import bearer
from tests.storage_fixtures import jpeg, signature_png


def _seed(app):
    from api import demo, demo_service

    with app.app_context():
        lines = list(demo.seed()) + list(demo_service.seed(demo.DEMO_PASSWORD))
        again = list(demo.seed()) + list(demo_service.seed(demo.DEMO_PASSWORD))
    assert any("residence-permit" in line for line in lines) and again == []   # safe to run twice


def _staff(client, username):
    r = client.post("/api/v1/auth/login", json={"username": username, "password": "zhangban-demo-2026"})
    assert r.status_code == 200, r.json
    return bearer(r.json["access_token"])


def _todo(client, headers):
    r = client.get("/api/v1/tasks", headers=headers)
    assert r.status_code == 200
    return r.json["items"]


def _approve(client, headers, task, **body):
    r = client.post(f"/api/v1/tasks/{task['id']}/complete",
                    json={"version": task["version"], "decision": "approve", **body}, headers=headers)
    assert r.status_code == 200, r.json


def test_the_demo_walk_from_submit_to_issued(app, client):
    _seed(app)
    r = client.post("/api/v1/auth/dev-login", json={"openid": "demo-openid-resident"})
    assert r.status_code == 200, r.json
    resident = bearer(r.json["access_token"])
    photo = client.post("/api/v1/attachments", data={"kind": "photo", "file": (io.BytesIO(jpeg()), "id.jpg")},
                        headers=resident, content_type="multipart/form-data").json["id"]
    sign = client.post("/api/v1/attachments", data={"kind": "signature",
                                                    "file": (io.BytesIO(signature_png()), "sign.png")},
                       headers=resident, content_type="multipart/form-data").json["id"]
    r = client.post("/api/v1/applications", headers=resident, json={
        "service_code": "residence-permit", "submit": True,
        "data": {"months": 18, "address": "东城区人民路 1 号", "id_photo": photo, "signature": sign}})
    assert r.status_code == 201, r.json
    submitted = r.json
    assert submitted["data"]["name"] == "陈静"                  # filled from the verified profile

    civil, police = _staff(client, "demo-approver-1"), _staff(client, "demo-approver-3")
    [accept] = _todo(client, civil)
    assert accept["name"] == "受理审核"
    _approve(client, civil, accept, comment="材料齐全", data={"checked_originals": True})
    checks = _todo(client, police)
    assert [t["name"] for t in checks] == ["联合核查（会签）"] * 2     # the countersign: two parallel checks
    for task in checks:
        _approve(client, police, task, comment="核查无误")
    [issue] = _todo(client, civil)
    assert issue["name"] == "制证发证"
    _approve(client, civil, issue, comment="准予办理")
    final = client.get(f"/api/v1/applications/{submitted['id']}", headers=resident).json
    assert final["status"] == "approved"
    assert [e["action"] for e in final["timeline"]] == ["submitted"] + ["approved"] * 4


def test_dev_login_is_refused_in_production_and_for_anyone_but_demo_residents(app, client, settings):
    _seed(app)
    assert client.post("/api/v1/auth/dev-login", json={"openid": "someone-real"}).status_code == 422
    nobody = client.post("/api/v1/auth/dev-login", json={"openid": "demo-nobody"})
    assert nobody.status_code == 404 and nobody.json["message"] == "没有该演示居民（请先运行 zhangban seed-demo）"
    from dataclasses import replace

    production = replace(settings, env="production")
    with app.app_context():
        from api.identity import service
        from core.errors import NotFound
        with pytest.raises(NotFound):
            service.dev_login(production, "demo-openid-resident")
