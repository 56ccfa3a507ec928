"""帮办代办 (issue 12, item 6): helpers submit and supplement for residents who authorised them — in the app, or on
site with a signature — and the application shows both the applicant and who acted."""
from __future__ import annotations

import io
from datetime import datetime, timedelta, timezone

import pytest

from tests.applications_fixtures import ID_CARD, case, good_data  # noqa: F401 (fixture)
from tests.storage_fixtures import signature_png


def _soon(days=30):
    return (datetime.now(timezone.utc) + timedelta(days=days)).isoformat()


@pytest.fixture
def helped(case, make_staff):
    _, case.helper = make_staff("helper-1", [{"role": "helper", "department_id": case.civil["id"]}])
    case.resident_id = case.client.get("/api/v1/me", headers=case.resident).json["id"]
    return case


def grant(case, expect=201, **changes):
    body = {"helper": "helper-1", "services": ["residence"], "actions": ["submit", "supplement"],
            "expires_at": _soon(), **changes}
    r = case.client.post("/api/v1/me/authorisations", json=body, headers=case.resident)
    assert r.status_code == expect, r.json
    return r.json


def submit_for(case, expect=201, headers=None, **changes):
    body = {"resident_id": case.resident_id, "service_code": "residence", "data": good_data(), **changes}
    r = case.client.post("/api/v1/helper/applications", json=body, headers=headers or case.helper)
    assert r.status_code == expect, r.json
    return r.json


def test_a_helper_submits_for_a_resident_and_both_are_shown(helped, app):
    auth = grant(helped)
    photo = helped.photo(helped.helper)                          # the helper photographs the ID at the window
    submitted = submit_for(helped, data=good_data(id_photo=photo))
    assert submitted["status"] == "submitted" and submitted["applicant_id"] == helped.resident_id
    assert submitted["acted_by"] == {"user_id": submitted["acted_by"]["user_id"], "name": "民政局",
                                     "authorisation_id": auth["id"]}
    first = submitted["timeline"][0]
    assert first["action"] == "submitted" and first["actor_name"] == "民政局" and first["on_behalf"] is True
    mine = helped.application(submitted["id"])                   # it is the resident's own application
    assert mine["acted_by"]["name"] == "民政局" and mine["attachments"] == [photo]
    [task] = helped.todo(helped.civil_1)
    detail = helped.client.get(f"/api/v1/tasks/{task['id']}", headers=helped.civil_1).json
    assert detail["application"]["acted_by"]["name"] == "民政局"
    assert helped.client.get(f"/api/v1/helper/applications/{submitted['id']}",
                             headers=helped.helper).json["id"] == submitted["id"]
    with app.app_context():
        from core import deferred
        from core.audit import AuditRecord
        deferred.deliver()      # the submit's record rode in the application's write (core/deferred.py)
        record = AuditRecord.objects(action="application.submit").first()
        assert record.details["on_behalf_of"] == helped.resident_id and record.details["authorisation"] == auth["id"]
        assert record.actor_id == submitted["acted_by"]["user_id"]


def test_no_authorisation_no_act(helped, make_staff):
    r = submit_for(helped, expect=403)
    assert r["code"] == "forbidden"
    # only services of the helper's own departments can be authorised
    assert grant(helped, expect=422, services=["other-service"])["errors"][0]["path"] == "/services/0"
    submit_for(helped, expect=403)
    _, approver = make_staff("helper-2-not", [{"role": "approver", "department_id": helped.civil["id"]}])
    submit_for(helped, expect=403, headers=approver)             # not a helper at all
    assert grant(helped, expect=422, helper="civil-1")["errors"][0]["path"] == "/helper"
    assert grant(helped, expect=422, helper="nobody")["errors"][0]["path"] == "/helper"
    past = grant(helped, expect=422, expires_at="2020-01-01T00:00:00+00:00")
    assert past["errors"][0]["path"] == "/expires_at"
    assert helped.client.get("/api/v1/applications", headers=helped.resident).json["total"] == 0


def test_a_revocation_takes_effect_at_once(helped):
    auth = grant(helped)
    submit_for(helped)
    r = helped.client.post(f"/api/v1/me/authorisations/{auth['id']}/revoke", headers=helped.resident)
    assert r.status_code == 200 and r.json["revoked_at"]
    submit_for(helped, expect=403)
    listed = helped.client.get("/api/v1/helper/authorisations", headers=helped.helper).json
    assert listed["total"] == 0


def test_a_helper_supplements_only_with_that_scope(helped):
    grant(helped, actions=["submit"])
    submitted = submit_for(helped, data=good_data(months=3))
    [task] = helped.todo(helped.civil_1)
    helped.act(helped.civil_1, task, "return", reason="月数有误", fields=[{"path": "/months", "reason": "请核对"}])
    body = {"resident_id": helped.resident_id, "version": helped.application(submitted["id"])["version"],
            "data": good_data(months=12)}
    url = f"/api/v1/helper/applications/{submitted['id']}/supplement"
    assert helped.client.post(url, json=body, headers=helped.helper).status_code == 403
    grant(helped, actions=["supplement"])
    r = helped.client.post(url, json=body, headers=helped.helper)
    assert r.status_code == 200, r.json
    assert r.json["status"] == "submitted" and r.json["data"]["months"] == 12
    last = r.json["timeline"][-1]
    assert last["action"] == "supplemented" and last["actor_name"] == "民政局" and last["on_behalf"] is True


def test_an_on_site_authorisation_with_the_residents_signature(helped, app):
    with app.app_context():
        from api.identity.models import User
        from core import pii
        from core.clock import parse_id
        User.objects(id=parse_id(helped.resident_id)).update_one(
            set__id_card_hash=pii.cipher().lookup_hash(ID_CARD), set__real_name="张三")
    r = helped.client.post("/api/v1/attachments", data={"kind": "signature", "file": (io.BytesIO(signature_png()),
                                                                                     "s.png")},
                           headers=helped.helper, content_type="multipart/form-data")
    signature = r.json["id"]
    body = {"resident_id_card": ID_CARD, "services": [], "actions": ["submit"], "expires_at": _soon(1),
            "signature": signature}
    r = helped.client.post("/api/v1/helper/authorisations", json=body, headers=helped.helper)
    assert r.status_code == 202, r.json
    assert r.json["status"] == "pending" and "resident_name" not in r.json
    assert submit_for(helped, expect=403)["code"] == "proxy.pending"   # not before the resident confirms
    mine = helped.client.get("/api/v1/me/authorisations", headers=helped.resident).json
    assert [(a["kind"], a["status"]) for a in mine["items"]] == [("on_site", "pending")]   # what was recorded
    assert mine["items"][0]["signature"] == signature and mine["items"][0]["resident_name"] == "张三"   # in full
    r = helped.client.post(f"/api/v1/me/authorisations/{mine['items'][0]['id']}/confirm", headers=helped.resident)
    assert r.status_code == 200 and r.json["status"] == "active"
    submit_for(helped)                                           # every service of the helper's department
    photo = helped.photo(helped.helper)
    r = helped.client.post("/api/v1/helper/authorisations", json={**body, "signature": photo}, headers=helped.helper)
    assert r.status_code == 422 and r.json["errors"][0]["path"] == "/signature"
    # nobody has this 身份证号: the same answer as for a resident who has an account (the look-up is no oracle)
    r = helped.client.post("/api/v1/helper/authorisations", json={**body, "resident_id_card": "110101199003076632"},
                           headers=helped.helper)
    assert r.status_code == 202 and r.json["status"] == "pending" and set(r.json) == {
        "id", "status", "services", "actions", "expires_at"}
