"""帮办代办 cannot be self-granted (issue 23, item 2): an on-site authorisation waits for the resident's 确认 or a
lead's approval, stays within the helper's departments, ends reading at once when revoked or expired, shows the
helper masked data, and the 身份证号 look-up is no oracle and has a brake."""
from __future__ import annotations

import io
from datetime import datetime, timedelta, timezone

import pytest

from tests.applications_fixtures import ID_CARD, case, good_data  # noqa: F401 (fixture)
from tests.storage_fixtures import signature_png


def _soon(days=30):
    return (datetime.now(timezone.utc) + timedelta(days=days)).isoformat()


@pytest.fixture
def helped(case, make_staff, app):
    _, case.helper = make_staff("helper-1", [{"role": "helper", "department_id": case.civil["id"]}])
    case.resident_id = case.client.get("/api/v1/me", headers=case.resident).json["id"]
    with app.app_context():
        from api.identity.models import User
        from core import pii
        from core.clock import parse_id
        User.objects(id=parse_id(case.resident_id)).update_one(
            set__id_card_hash=pii.cipher().lookup_hash(ID_CARD), set__real_name="张三")
    return case


def _signature(case, headers):
    r = case.client.post("/api/v1/attachments", data={"kind": "signature", "file": (io.BytesIO(signature_png()),
                                                                                   "s.png")},
                         headers=headers, content_type="multipart/form-data")
    assert r.status_code in (200, 201), r.json
    return r.json["id"]


def record(case, headers=None, id_card=ID_CARD, expect=202, **changes):
    headers = headers or case.helper
    body = {"resident_id_card": id_card, "services": ["residence"], "actions": ["submit", "supplement"],
            "expires_at": _soon(), "signature": _signature(case, headers), **changes}
    r = case.client.post("/api/v1/helper/authorisations", json=body, headers=headers)
    assert r.status_code == expect, r.json
    return r


def submit_for(case, expect=201, headers=None, **changes):
    body = {"resident_id": case.resident_id, "service_code": "residence", "data": good_data(), **changes}
    r = case.client.post("/api/v1/helper/applications", json=body, headers=headers or case.helper)
    assert r.status_code == expect, r.json
    return r.json


def grant(case, **changes):
    body = {"helper": "helper-1", "services": ["residence"], "actions": ["submit", "supplement"],
            "expires_at": _soon(), **changes}
    r = case.client.post("/api/v1/me/authorisations", json=body, headers=case.resident)
    assert r.status_code == 201, r.json
    return r.json


def messages(case, kind):
    items = case.client.get("/api/v1/me/messages", headers=case.resident).json["items"]
    return [m for m in items if m["kind"] == kind]


def test_a_helper_cannot_act_on_an_authorisation_they_recorded_until_the_resident_confirms(helped):
    record(helped)
    r = submit_for(helped, expect=403)
    assert r["code"] == "proxy.pending" and "确认" in r["message"]
    assert helped.client.get("/api/v1/helper/authorisations", headers=helped.helper).json["total"] == 0
    [told] = messages(helped, "authorisation")                   # the resident hears of it, with 确认 / 拒绝
    assert "民政局" in told["title"] and "helper-1" not in told["title"] and told["data"]["status"] == "pending"
    auth_id = told["data"]["authorisation_id"]

    refused = record(helped).json                                # a second one, refused on the phone
    r = helped.client.post(f"/api/v1/me/authorisations/{refused['id']}/refuse", headers=helped.resident)
    assert r.status_code == 200 and r.json["status"] == "refused"
    assert helped.client.post(f"/api/v1/me/authorisations/{refused['id']}/confirm",
                              headers=helped.resident).status_code == 409
    submit_for(helped, expect=403)

    # the helper cannot confirm it for the resident
    r = helped.client.post(f"/api/v1/me/authorisations/{auth_id}/confirm", headers=helped.helper)
    assert r.status_code == 404
    r = helped.client.post(f"/api/v1/me/authorisations/{auth_id}/confirm", headers=helped.resident)
    assert r.status_code == 200 and r.json["status"] == "active" and r.json["confirmed_at"]
    submitted = submit_for(helped)
    assert submitted["status"] == "submitted"
    [act] = messages(helped, "proxy_act")                         # and of every act done under it
    assert "民政局" in act["title"] and act["application_id"] == submitted["id"]


def test_a_lead_of_the_helpers_department_approves_on_site_but_not_the_helper_themself(helped, make_staff):
    _, helper_lead = make_staff("helper-lead", [{"role": "helper", "department_id": helped.civil["id"]},
                                                {"role": "lead", "department_id": helped.civil["id"]}])
    _, other_lead = make_staff("housing-lead", [{"role": "lead", "department_id": helped.housing["id"]}])
    _, civil_lead = make_staff("civil-lead", [{"role": "lead", "department_id": helped.civil["id"]}])
    own = record(helped, headers=helper_lead).json
    assert helped.client.post(f"/api/v1/helper/authorisations/{own['id']}/approve",
                              headers=helper_lead).status_code == 404      # not one's own
    assert helped.client.post(f"/api/v1/helper/authorisations/{own['id']}/approve",
                              headers=other_lead).status_code == 404       # not another department's lead
    assert helped.client.post(f"/api/v1/helper/authorisations/{own['id']}/approve",
                              headers=helped.civil_1).status_code == 404   # an approver is no supervisor
    pending = helped.client.get("/api/v1/helper/authorisations/pending", headers=civil_lead).json
    assert [a["id"] for a in pending["items"]] == [own["id"]] and pending["items"][0]["resident_name"] == "张*"
    r = helped.client.post(f"/api/v1/helper/authorisations/{own['id']}/approve", headers=civil_lead)
    assert r.status_code == 200 and r.json["status"] == "active"
    submit_for(helped, headers=helper_lead)
    assert any("核准" in m["title"] for m in messages(helped, "authorisation"))


def test_only_services_of_the_helpers_own_departments(helped, make_staff):
    _, housing_helper = make_staff("helper-h", [{"role": "helper", "department_id": helped.housing["id"]}])
    r = helped.client.post("/api/v1/me/authorisations", headers=helped.resident, json={
        "helper": "helper-h", "services": ["residence"], "actions": ["submit"], "expires_at": _soon()})
    assert r.status_code == 422 and r.json["errors"][0]["path"] == "/services/0"
    grant(helped, helper="helper-h", services=[])                # "every service" means every one of housing's
    assert submit_for(helped, expect=403, headers=housing_helper)["code"] == "forbidden"


def test_revocation_and_expiry_end_reading_at_once_the_cases_acted_on_too(helped, app):
    auth = grant(helped)
    submitted = submit_for(helped)
    url = f"/api/v1/helper/applications/{submitted['id']}"
    assert helped.client.get(url, headers=helped.helper).status_code == 200
    helped.client.post(f"/api/v1/me/authorisations/{auth['id']}/revoke", headers=helped.resident)
    r = helped.client.get(url, headers=helped.helper)
    assert r.status_code == 404 and ID_CARD not in r.get_data(as_text=True)
    second = grant(helped)
    assert helped.client.get(url, headers=helped.helper).status_code == 200
    with app.app_context():
        from core.clock import parse_id
        from workflows.cases.proxy.models import Authorisation
        Authorisation.objects(id=parse_id(second["id"])).update_one(
            set__expires_at=datetime.now(timezone.utc) - timedelta(seconds=1))
    assert helped.client.get(url, headers=helped.helper).status_code == 404


def test_a_helper_reads_masked_data_except_the_fields_a_return_asks_them_to_fill(helped):
    grant(helped)
    submitted = submit_for(helped)
    assert submitted["data"]["id_card"] == "110***********002X" and submitted["data"]["phone"] == "138****5678"
    [task] = helped.todo(helped.civil_1)
    helped.act(helped.civil_1, task, "return", reason="电话有误", fields=[{"path": "/phone", "reason": "请核对"}])
    shown = helped.client.get(f"/api/v1/helper/applications/{submitted['id']}", headers=helped.helper).json
    assert shown["data"]["id_card"] == "110***********002X"      # masked like any staff member's view
    assert shown["data"]["phone"] == "13812345678"               # the field they fill is shown whole
    # the whole data goes back as it was shown: the masked 身份证号 keeps its value, only the phone changes
    body = {"resident_id": helped.resident_id, "version": shown["version"], "data": {**shown["data"],
                                                                                       "phone": "13900001111"}}
    r = helped.client.post(f"/api/v1/helper/applications/{submitted['id']}/supplement", json=body,
                           headers=helped.helper)
    assert r.status_code == 200, r.json
    assert r.json["data"]["id_card"] == "110***********002X"
    mine = helped.application(submitted["id"])
    assert mine["data"]["id_card"] == ID_CARD and mine["data"]["phone"] == "13900001111"


def test_the_id_card_look_up_answers_alike_and_has_a_brake(helped, monkeypatch):
    from core import throttle

    until = _soon()
    known = record(helped, expires_at=until).json
    unknown = record(helped, id_card="110101199003076632", expires_at=until).json
    assert set(known) == set(unknown) and known["status"] == unknown["status"] == "pending"
    assert {k: v for k, v in known.items() if k != "id"} == {k: v for k, v in unknown.items() if k != "id"}
    lookups = throttle.limits()["lookups"]
    monkeypatch.setitem(throttle.limits(), "lookups", throttle.Limit(3, lookups.seconds, lookups.message_key))
    record(helped)
    r = record(helped, expect=429)
    assert r.json["code"] == "too_many_requests" and int(r.headers["Retry-After"]) >= 1
