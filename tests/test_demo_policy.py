"""After `zhangban seed-demo`: the 免申即享 demo finds its elder at once, and 陈静 once her 居住证 is issued."""
from __future__ import annotations

import io

from tests.conftest import bearer
from tests.storage_fixtures import jpeg, signature_png
from tests.test_demo_walk import _approve, _staff, _todo


def _seed_all(app):
    from api import demo, demo_policy, demo_service

    with app.app_context():
        lines = list(demo.seed()) + list(demo_service.seed(demo.DEMO_PASSWORD)) + list(demo_policy.seed())
        again = list(demo_policy.seed())
    return lines, again


def _login(client, openid):
    r = client.post("/api/v1/auth/dev-login", json={"openid": openid})
    assert r.status_code == 200, r.json
    return bearer(r.json["access_token"])


def test_the_demo_policies_grant_the_elder_and_the_new_citizen_once_her_permit_is_issued(app, client):
    lines, again = _seed_all(app)
    assert "policy elderly_allowance v1: 高龄津贴" in lines and "policies evaluated: 1 granted" in lines
    assert again == []                                         # safe to run twice: nobody granted twice
    elder = _login(client, "demo-openid-elder")
    [grant] = client.get("/api/v1/me/grants", headers=elder).json
    assert grant["policy_code"] == "elderly_allowance" and grant["outputs"]["amount"] == 300

    resident = _login(client, "demo-openid-resident")
    assert client.get("/api/v1/me/grants", headers=resident).json == []
    photo = client.post("/api/v1/attachments", data={"kind": "photo", "file": (io.BytesIO(jpeg()), "id.jpg")},
                        headers=resident, content_type="multipart/form-data").json["id"]
    sign = client.post("/api/v1/attachments", data={"kind": "signature",
                                                    "file": (io.BytesIO(signature_png()), "s.png")},
                       headers=resident, content_type="multipart/form-data").json["id"]
    r = client.post("/api/v1/applications", headers=resident, json={
        "service_code": "residence-permit", "submit": True,
        "data": {"months": 18, "address": "东城区人民路 1 号", "id_photo": photo, "signature": sign}})
    assert r.status_code == 201, r.json
    civil, police = _staff(client, "demo-approver-1"), _staff(client, "demo-approver-3")
    _approve(client, civil, _todo(client, civil)[0], data={"checked_originals": True})
    for task in _todo(client, police):
        _approve(client, police, task)
    _approve(client, civil, _todo(client, civil)[0], comment="准予办理")
    # a worker round as `zhangban worker` runs it makes the 居住证 (its policy run is the admin's call below)
    from api.cli import scheduled_jobs
    from workflows.cases.worker import Worker

    with app.app_context():
        jobs = [job for job in scheduled_jobs(app.extensions["zhangban"].store) if job[0] == "results"]
        assert Worker(None, scheduled=jobs).run_round().scheduled == {"results": 1}

    # the ID photo is in her file for the next form, the 居住证 is a licence
    mine = {m["kind"]: m for m in client.get("/api/v1/materials", headers=resident).json}
    assert mine["id_photo"]["attachment_id"] == photo and mine["residence_permit"]["source"] == "licence"
    r = client.get("/api/v1/forms/residence_permit_apply/versions/latest/prefill", headers=resident)
    assert r.json["values"]["id_photo"] == photo

    admin = _staff(client, "demo-admin")
    r = client.post("/api/v1/admin/policies/evaluate", json={}, headers=admin)
    assert r.status_code == 200 and r.json["by_policy"]["new_citizen_card"]["granted"] == 1
    [card] = client.get("/api/v1/me/grants", headers=resident).json
    assert card["policy_code"] == "new_citizen_card" and card["inputs"]["licences"] == ["residence_permit"]
