"""The designer's live preview: POST /api/v1/designer/forms/{key}/render draws a draft (or an unsaved schema) with
the render model a published version gets, beside the draft's problems."""
from __future__ import annotations

import pytest

from tests.forms_fixtures import every_kind

BASE = "/api/v1/designer/forms"


@pytest.fixture
def designer(make_staff, department):
    return make_staff("designer-civil", [{"role": "designer", "department_id": department["id"]}])[1]


@pytest.fixture
def draft(client, designer, department):
    r = client.post(BASE, json={"key": "low-income", "title": "低保申请", "title_en": "Low income",
                                "department": department["id"], "schema": every_kind()}, headers=designer)
    assert r.status_code == 201, r.json


def test_a_draft_renders_as_its_published_version_will(client, designer, draft):
    preview = client.post(f"{BASE}/low-income/render", headers=designer)
    assert preview.status_code == 200 and preview.json["valid"] is True and preview.json["errors"] == []
    assert client.post(f"{BASE}/low-income/publish", headers=designer).status_code == 201
    published = client.get("/api/v1/forms/low-income/versions/1/render", headers=designer).json
    assert preview.json["model"] == {**published, "version": 0}
    assert preview.json["model"]["title"] == {"zh-CN": "低保申请", "en": "Low income"}


def test_an_unsaved_schema_is_drawn_with_its_problems_and_nothing_is_stored(client, designer, draft):
    schema = every_kind()
    schema["properties"]["email"]["x-ui"]["widget"] = "slider"
    schema["properties"]["spouse_name"]["x-visible-if"] = "wife == true"
    schema["properties"]["nickname"] = {"type": "string", "x-ui": {"label": {"zh-CN": "昵称", "en": "Nickname"}}}
    r = client.post(f"{BASE}/low-income/render", json={"schema": schema}, headers=designer)
    assert r.status_code == 200 and r.json["valid"] is False
    paths = {e["path"] for e in r.json["errors"]}
    assert {"/properties/email/x-ui/widget", "/properties/spouse_name/x-visible-if"} <= paths
    ids = [c["id"] for c in r.json["model"]["components"]]
    assert "/nickname" in ids and "/email" not in ids          # the new field drawn; the broken one left out
    stored = client.get(f"{BASE}/low-income", headers=designer).json
    assert "nickname" not in stored["schema"]["properties"] and stored["version"] == 1


def test_a_schema_that_is_not_json_schema_has_problems_and_no_model(client, designer, draft):
    r = client.post(f"{BASE}/low-income/render", json={"schema": {"type": "object", "properties": {"a": 5}}},
                    headers=designer)
    assert r.status_code == 200 and r.json["valid"] is False and r.json["model"] is None
    assert r.json["errors"][0]["path"].startswith("/properties/a")


def test_only_the_owning_department_previews_a_draft(client, draft, make_staff, make_department):
    other = make_staff("designer-tax", [{"role": "designer",
                                         "department_id": make_department("tax", "税务局")["id"]}])[1]
    r = client.post(f"{BASE}/low-income/render", headers=other)
    assert r.status_code == 404 and r.json["code"] == "not_found"
    assert client.post(f"{BASE}/low-income/render").status_code == 401


def test_the_draft_list_searches_keys_and_titles(client, designer, draft, department):
    schema = {"type": "object", "properties": {"a": {"type": "string"}}}
    for key, title, title_en in (("birth-cert", "出生医学证明", "Birth certificate"), ("pension", "养老金", "")):
        r = client.post(BASE, json={"key": key, "title": title, "title_en": title_en,
                                    "department": department["id"], "schema": schema}, headers=designer)
        assert r.status_code == 201
    keys = lambda q: [d["key"] for d in client.get(BASE, query_string={"q": q}, headers=designer).json["items"]]
    assert keys("低保") == ["low-income"] and keys("BIRTH") == ["birth-cert"] and keys("pen") == ["pension"]
    assert keys(".*") == [] and keys("i") == ["birth-cert", "low-income", "pension"]
    assert client.get(BASE, query_string={"q": ""}, headers=designer).status_code == 422
