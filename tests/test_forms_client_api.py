"""Published forms for clients: the definition, the render model of every kind, pre-validation, prefill."""
from __future__ import annotations

import pytest

from forms import service, validation
from forms.models import PrefillMemory
from tests.forms_fixtures import ID_CARD, every_kind, valid_data

BASE = "/api/v1/forms/low-income/versions"


@pytest.fixture
def published(client, make_staff, department):
    headers = make_staff("designer-civil", [{"role": "designer", "department_id": department["id"]}])[1]
    r = client.post("/api/v1/designer/forms", json={"key": "low-income", "title": "低保申请", "title_en": "Low income",
                                                    "department": department["id"], "schema": every_kind()},
                    headers=headers)
    assert r.status_code == 201
    assert client.post("/api/v1/designer/forms/low-income/publish", headers=headers).status_code == 201
    return headers


def test_the_definition_by_number_or_latest(client, published, resident_headers):
    one = client.get(f"{BASE}/1", headers=resident_headers)
    assert one.status_code == 200 and one.json["version"] == 1 and one.json["schema"] == every_kind()
    assert client.get(f"{BASE}/latest", headers=resident_headers).json == one.json
    assert client.get(f"{BASE}/2", headers=resident_headers).status_code == 404
    assert client.get(f"{BASE}/x", headers=resident_headers).status_code == 404
    assert client.get("/api/v1/forms/nothing/versions/latest", headers=resident_headers).status_code == 404
    assert client.get(f"{BASE}/1").status_code == 401


def test_the_render_model_has_every_kind_in_order(client, published, resident_headers):
    r = client.get(f"{BASE}/1/render", headers=resident_headers)
    assert r.status_code == 200
    model = r.json
    assert model["title"] == {"zh-CN": "低保申请", "en": "Low income"} and model["server_rules"] == []
    assert [s["key"] for s in model["sections"]] == ["applicant", "household"]
    by_path = {c["path"]: c for c in model["components"]}
    order = [c["path"] for c in model["components"]]
    assert order[:5] == ["/name", "/id_card", "/notice", "/phone", "/email"]   # section, then x-ui order
    assert {c["type"] for c in model["components"]} == {
        "readonly", "text", "id-card", "mobile", "email", "uscc", "textarea", "number", "integer", "money", "date",
        "datetime", "radio", "checkbox", "switch", "address", "photo", "signature", "file", "group", "repeat",
        "select"}
    name = by_path["/name"]
    assert name["label"] == {"zh-CN": "姓名", "en": "Name"} and name["required"] and name["read_only"]
    assert name["prefill"] == "profile.name" and name["rules"] == {"maxLength": 50}
    assert by_path["/notice"]["text"] == {"zh-CN": "请如实填写", "en": "Answer truthfully"}
    assert by_path["/id_card"]["rules"] == {"maxLength": 18, "format": "cn-id-card"}
    assert by_path["/postcode"]["rules"]["pattern"] == "^[1-9]\\d{5}$"
    assert by_path["/amount"]["rules"] == {"minimum": 0, "maximum": 100000, "format": "money"}
    assert by_path["/kind"]["options"] == [{"value": "urban", "label": {"zh-CN": "城镇", "en": "Urban"}},
                                           {"value": "rural", "label": {"zh-CN": "农村", "en": "Rural"}}]
    assert [o["value"] for o in by_path["/difficulties"]["options"]] == ["illness", "disability", "unemployment"]
    assert by_path["/difficulties"]["rules"]["minItems"] == 1
    assert by_path["/spouse_name"]["visible_if"] == {"expr": "married == true",
                                                     "logic": {"==": [{"var": "married"}, True]}}
    assert by_path["/address"]["levels"] == 3 and by_path["/address"]["required_if"]["expr"] == "kind == 'rural'"
    assert by_path["/email"]["required_if"]["expr"] == "company_code != null"        # dependentRequired
    assert by_path["/id_photo"]["accept"] == "image/*" and not by_path["/id_photo"]["multiple"]
    assert by_path["/proofs"]["multiple"] and by_path["/proofs"]["rules"]["maxItems"] == 5
    assert by_path["/bank/account"]["parent"] == "/bank" and by_path["/bank/account"]["required"]
    assert by_path["/family"]["rules"] == {"minItems": 0, "maxItems": 10}
    school = by_path["/family/*/school"]
    assert school["parent"] == "/family/*" and school["visible_if"]["expr"] == "relation == 'child'"
    assert by_path["/family/*/member_id"]["required_if"]["logic"] == {"==": [{"var": "$.kind"}, "rural"]}


def test_check_prevalidates_in_the_callers_language(client, published, resident_headers):
    ok = client.post(f"{BASE}/1/check", json={"data": valid_data()}, headers=resident_headers)
    assert ok.status_code == 200 and ok.json["valid"] and ok.json["data"]["amount"] == "1500.50"
    data = valid_data()
    data["reason"] = "太短"
    r = client.post(f"{BASE}/latest/check", json={"data": data}, headers={**resident_headers, "Accept-Language": "en"})
    assert r.status_code == 422 and r.json["code"] == "invalid"
    (item,) = r.json["errors"]
    assert item["path"] == "/reason" and item["message"] == "At least 5 characters"   # the detailed text
    assert item["message_en"] == "At least 5 characters" and item["message_zh"] == "至少需要 5 个字符"
    r = client.post(f"{BASE}/1/check", json={"data": data}, headers=resident_headers)
    assert r.json["errors"][0]["message"] == "至少需要 5 个字符"


def test_prefill_from_profile_and_earlier_answers(client, published, resident_headers, resident_login):
    r = client.get(f"{BASE}/1/prefill", headers=resident_headers)
    assert r.status_code == 200 and r.json == {"values": {}}      # a new resident: nothing known yet
    me = client.get("/api/v1/me", headers=resident_headers).json
    version = service.get_published("low-income", 1)
    data = valid_data()
    data["home_address_text"] = "北京市朝阳区望京街道 1 号"
    from core.actor import Actor
    actor = Actor(user_id=me["id"], roles=frozenset({"resident"}))
    assert service.remember(actor, version, validation.validate(version, data)) == 1
    r = client.get(f"{BASE}/1/prefill", headers=resident_headers)
    assert r.json == {"values": {"home_address_text": "北京市朝阳区望京街道 1 号"}}
    assert PrefillMemory.objects(user_id=me["id"]).count() == 1
    other = {"Authorization": f"Bearer {resident_login()['access_token']}"}
    assert client.get(f"{BASE}/1/prefill", headers=other).json == {"values": {}}     # nobody else's answers


def test_profile_values_prefill_the_form(client, published, app, resident_headers):
    from api.identity.models import User
    from core import pii

    me = client.get("/api/v1/me", headers=resident_headers).json
    User.objects(id=me["id"]).update_one(set__real_name="王五",
                                         set__id_card_enc=pii.cipher().encrypt(ID_CARD, context="id_card"))
    r = client.get(f"{BASE}/1/prefill", headers=resident_headers)
    assert r.json["values"] == {"name": "王五", "id_card": ID_CARD}
    data = valid_data()
    data["name"] = "别人"                      # read-only: the verified name is used
    r = client.post(f"{BASE}/1/check", json={"data": data}, headers=resident_headers)
    assert r.status_code == 200 and r.json["data"]["name"] == "王五"


def test_concurrent_checks_of_a_form_compile_it_once_and_keep_it(client, app, published, resident_headers):
    from concurrent.futures import ThreadPoolExecutor

    from forms import render

    validation._cache.clear()
    render._cache.clear()
    before = validation._cache.builds, render._cache.builds

    def check(_):
        return app.test_client().post(f"{BASE}/1/check", json={"data": valid_data()}, headers=resident_headers)

    with ThreadPoolExecutor(6) as pool:
        assert {r.status_code for r in pool.map(check, range(12))} == {200}
    assert client.get(f"{BASE}/1/render", headers=resident_headers).status_code == 200
    assert client.get(f"{BASE}/1/render", headers=resident_headers).status_code == 200
    assert (validation._cache.builds, render._cache.builds) == (before[0] + 1, before[1] + 1)
    assert 0 < validation._cache.weight <= validation._cache.max_weight
