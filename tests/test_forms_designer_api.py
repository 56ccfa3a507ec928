"""The designer API: drafts with ETags, validation with JSON pointers, publishing immutable versions, access."""
from __future__ import annotations

import pytest

from forms import service
from forms.models import FormDraft, FormVersion
from tests.forms_fixtures import every_kind

BASE = "/api/v1/designer/forms"


@pytest.fixture
def designer(make_staff, department):
    return make_staff("designer-civil", [{"role": "designer", "department_id": department["id"]}])[1]


@pytest.fixture
def other_designer(make_staff, make_department):
    return make_staff("designer-tax", [{"role": "designer", "department_id": make_department("tax", "税务局")["id"]}])[1]


@pytest.fixture
def draft(client, designer, department):
    r = client.post(BASE, json={"key": "low-income", "title": "低保申请", "title_en": "Low income",
                                "department": department["id"], "schema": every_kind()}, headers=designer)
    assert r.status_code == 201, r.json
    return r


def test_create_get_and_list_a_draft(client, designer, draft):
    assert draft.headers["ETag"] == '"1"' and draft.json["status"] == "draft"
    assert draft.json["schema"]["properties"]["name"]["x-prefill"] == "profile.name"
    r = client.get(f"{BASE}/low-income", headers=designer)
    assert r.status_code == 200 and r.headers["ETag"] == '"1"' and r.json["schema"] == every_kind()
    assert list(r.json["schema"]["properties"]) == list(every_kind()["properties"])   # the designer's order
    listed = client.get(BASE, headers=designer).json
    assert listed["total"] == 1 and listed["items"][0]["key"] == "low-income" and "schema" not in listed["items"][0]


def test_update_needs_the_current_etag(client, designer, draft):
    schema = every_kind()
    schema["properties"]["email"]["x-ui"]["label"] = "邮箱"
    assert client.put(f"{BASE}/low-income", json={"schema": schema}, headers=designer).status_code == 428
    ok = client.put(f"{BASE}/low-income", json={"schema": schema}, headers={**designer, "If-Match": '"1"'})
    assert ok.status_code == 200 and ok.headers["ETag"] == '"2"'
    stale = client.put(f"{BASE}/low-income", json={"title": "改名"}, headers={**designer, "If-Match": '"1"'})
    assert stale.status_code == 412 and stale.json["code"] == "precondition_failed"
    assert FormDraft.objects.get(key="low-income").title == "低保申请"


def test_validate_names_every_problem_by_json_pointer(client, designer, draft):
    r = client.post(f"{BASE}/low-income/validate", json={}, headers=designer)
    assert r.status_code == 200 and r.json["valid"] is True and r.json["fields"] == 31
    bad = every_kind()
    bad["properties"]["email"]["x-ui"]["widget"] = "slider"
    bad["properties"]["postcode"]["pattern"] = "^(\\d+)+$"
    bad["properties"]["spouse_name"]["x-visible-if"] = "wife == true"
    r = client.post(f"{BASE}/low-income/validate", json={"schema": bad}, headers=designer)
    assert r.json["valid"] is False
    assert {(e["path"], e["code"]) for e in r.json["errors"]} == {
        ("/properties/email/x-ui/widget", "unknown_widget"), ("/properties/postcode/pattern", "catastrophic_regex"),
        ("/properties/spouse_name/x-visible-if", "unknown_field")}


def test_publish_freezes_a_version_and_later_edits_leave_it_alone(client, designer, draft):
    r = client.post(f"{BASE}/low-income/publish", headers=designer)
    assert r.status_code == 201 and r.json["version"] == 1
    assert r.json["json_schema"]["properties"]["id_card"]["format"] == "cn-id-card"
    etag = client.get(f"{BASE}/low-income", headers=designer).headers["ETag"]
    changed = every_kind()
    changed["properties"]["reason"]["minLength"] = 50
    assert client.put(f"{BASE}/low-income", json={"schema": changed, "title": "新标题"},
                      headers={**designer, "If-Match": etag}).status_code == 200
    v1 = client.get(f"{BASE}/low-income/versions/1", headers=designer).json
    assert v1["schema"]["properties"]["reason"]["minLength"] == 5 and v1["title"] == "低保申请"
    assert client.post(f"{BASE}/low-income/publish", headers=designer).json["version"] == 2
    versions = client.get(f"{BASE}/low-income/versions", headers=designer).json
    assert [v["version"] for v in versions["items"]] == [2, 1] and "schema" not in versions["items"][0]
    assert service.get_published("low-income").version == 2 and service.latest_published_version("low-income") == 2
    assert service.get_published("low-income", 1).schema["properties"]["reason"]["minLength"] == 5
    assert client.get(f"{BASE}/low-income/versions/3", headers=designer).status_code == 404


def test_a_draft_with_problems_is_not_published(client, designer, draft):
    bad = every_kind()
    bad["properties"]["kind"]["enum"] = ["urban", "urban"]
    client.put(f"{BASE}/low-income", json={"schema": bad}, headers={**designer, "If-Match": '"1"'})
    r = client.post(f"{BASE}/low-income/publish", headers=designer)
    assert r.status_code == 422 and r.json["errors"][0]["path"] == "/schema/properties/kind/enum/1"
    assert FormVersion.objects.count() == 0


def test_publish_with_a_stale_if_match_is_refused(client, designer, draft):
    r = client.post(f"{BASE}/low-income/publish", headers={**designer, "If-Match": '"7"'})
    assert r.status_code == 412 and FormVersion.objects.count() == 0


def test_archive_stops_new_use_but_keeps_versions_readable(client, designer, draft):
    client.post(f"{BASE}/low-income/publish", headers=designer)
    r = client.post(f"{BASE}/low-income/archive", headers=designer)
    assert r.status_code == 200 and r.json["status"] == "archived"
    assert service.latest_published_version("low-income") is None
    with pytest.raises(service.NotFound):
        service.get_published("low-income")
    assert service.get_published("low-income", 1).version == 1
    assert client.post(f"{BASE}/low-income/publish", headers=designer).status_code == 409
    assert client.put(f"{BASE}/low-income", json={"title": "x"},
                      headers={**designer, "If-Match": r.headers.get("ETag", '"3"')}).status_code == 409


def test_who_may_design(client, designer, other_designer, draft, department, admin_headers, resident_headers):
    # another department's designer does not see the draft at all
    for method, path in (("get", ""), ("put", ""), ("post", "/validate"), ("post", "/publish"),
                         ("post", "/archive"), ("get", "/versions")):
        r = getattr(client, method)(f"{BASE}/low-income{path}", json={"title": "x"} if method == "put" else {},
                                    headers={**other_designer, "If-Match": '"1"'})
        assert r.status_code == 404, (method, path, r.json)
    assert client.get(BASE, headers=other_designer).json["total"] == 0
    # nor may they create drafts for it
    r = client.post(BASE, json={"key": "theirs", "title": "t", "department": department["id"],
                                "schema": every_kind()}, headers=other_designer)
    assert r.status_code == 403
    # residents are not designers at all; admins may do everything
    assert client.get(f"{BASE}/low-income", headers=resident_headers).status_code == 403
    assert client.get(BASE, headers=resident_headers).status_code == 403
    assert client.post(f"{BASE}/low-income/publish", headers=admin_headers).status_code == 201
    assert client.get(BASE).status_code == 401


def test_keys_are_unique(client, designer, draft, department):
    r = client.post(BASE, json={"key": "low-income", "title": "again", "department": department["id"],
                                "schema": every_kind()}, headers=designer)
    assert r.status_code == 409 and r.json["errors"][0]["path"] == "/key"


def test_changes_are_audited(client, designer, draft):
    from core import audit

    client.post(f"{BASE}/low-income/publish", headers=designer)
    actions = [r.action for r in audit.query(object_type="form", object_id="low-income")]
    assert actions == ["form.publish", "form.create"]


def test_openapi_describes_the_forms_endpoints(client):
    paths = client.get("/api/openapi.json").json["paths"]
    for path in ("/api/v1/designer/forms", "/api/v1/designer/forms/{key}", "/api/v1/designer/forms/{key}/validate",
                 "/api/v1/designer/forms/{key}/publish", "/api/v1/designer/forms/{key}/archive",
                 "/api/v1/designer/forms/{key}/versions", "/api/v1/designer/forms/{key}/versions/{number}",
                 "/api/v1/forms/{key}/versions/{n}", "/api/v1/forms/{key}/versions/{n}/render",
                 "/api/v1/forms/{key}/versions/{n}/check", "/api/v1/forms/{key}/versions/{n}/prefill"):
        assert path in paths, path
    assert "412" in paths["/api/v1/designer/forms/{key}"]["put"]["responses"]


def test_a_form_key_with_a_trailing_newline_is_refused(client, designer, department):
    # `$` also matches before a final newline: "low-income\n" passed as a second, look-alike key.
    r = client.post(BASE, json={"key": "low-income\n", "title": "低保申请", "department": department["id"],
                                "schema": every_kind()}, headers=designer)
    assert r.status_code == 422 and r.json["errors"][0]["path"] == "/key"
    assert FormDraft.objects.count() == 0
