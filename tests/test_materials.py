"""一人一档: materials kept once, offered again by kind, read by an application's handlers only."""
from __future__ import annotations

from datetime import timedelta

from core import clock
from tests.applications_fixtures import case  # noqa: F401 (fixture)
from tests.materials_fixtures import different_photo, materials_case  # noqa: F401 (fixture)


def _materials(case, **query):
    r = case.client.get("/api/v1/materials", query_string=query, headers=case.resident)
    assert r.status_code == 200, r.json
    return r.json


def _prefill(case):
    r = case.client.get("/api/v1/forms/hukou_apply/versions/latest/prefill", headers=case.resident)
    assert r.status_code == 200, r.json
    return r.json["values"]


def test_an_upload_attached_for_a_kind_is_filed_and_offered_to_the_next_form(materials_case):
    case = materials_case
    photo = case.upload(data=different_photo(1))
    assert "hukou" not in _prefill(case)             # nothing filed yet: nothing offered
    first = case.submit_hukou(case.good(hukou=photo))

    [material] = _materials(case)
    assert (material["kind"], material["source"], material["attachment_id"], material["status"]) == \
        ("hukou", "upload", photo, "valid")
    assert material["form_key"] == "hukou_apply"
    # the next form is prefilled with it, and the submission attaches it without a new upload
    assert _prefill(case)["hukou"] == photo
    second = case.submit_hukou(case.good(hukou=photo))
    assert second["id"] != first["id"] and len(_materials(case)) == 1

    # the approver of the second application sees where the file came from
    task = case.todo(case.civil_1)[0]
    r = case.client.get(f"/api/v1/materials/of-application/{task['application_id']}", headers=case.civil_1)
    assert r.status_code == 200, r.json
    [row] = r.json
    assert row["attachment_id"] == photo and row["material"]["kind"] == "hukou"
    assert row["material"]["source"] == "upload" and row["status"] == "valid"


def test_expired_and_revoked_materials_are_listed_but_not_offered(materials_case):
    case = materials_case
    old, fresh = case.upload(data=different_photo(2)), case.upload(data=different_photo(3))
    yesterday = (clock.china_today() - timedelta(days=1)).isoformat()      # expired: valid until yesterday in China
    r = case.client.post("/api/v1/materials", json={"attachment_id": old, "kind": "hukou", "name": "户口簿",
                                                    "valid_until": yesterday}, headers=case.resident)
    assert r.status_code == 201, r.json
    assert r.json["status"] == "expired"
    assert "hukou" not in _prefill(case)
    assert _materials(case, usable="true") == []
    r = case.client.post("/api/v1/materials", json={"attachment_id": fresh, "kind": "hukou"}, headers=case.resident)
    assert r.status_code == 201
    assert _prefill(case)["hukou"] == fresh
    assert [m["attachment_id"] for m in _materials(case, usable="true")] == [fresh]
    assert {m["status"] for m in _materials(case)} == {"valid", "expired"}


def test_filing_someone_elses_attachment_or_a_bad_kind_is_refused_by_field(materials_case, resident_login):
    case = materials_case
    from tests.conftest import bearer
    other = bearer(resident_login("someone-else")["access_token"])
    theirs = case.upload(headers=other, data=different_photo(4))
    r = case.client.post("/api/v1/materials", json={"attachment_id": theirs, "kind": "hukou"},
                         headers={**case.resident, "Accept-Language": "en"})
    assert r.status_code == 422 and r.json["code"] == "invalid"
    assert r.json["errors"][0]["path"] == "/0" and "applicant" in r.json["message"]
    r = case.client.post("/api/v1/materials", json={"attachment_id": theirs, "kind": "1bad"}, headers=case.resident)
    assert r.status_code == 422 and r.json["errors"][0]["path"] == "/kind"
    assert _materials(case) == []


def test_approvers_read_only_the_materials_attached_to_their_application(materials_case):
    case = materials_case
    attached, kept_back = case.upload(data=different_photo(5)), case.upload(data=different_photo(6))
    case.client.post("/api/v1/materials", json={"attachment_id": kept_back, "kind": "id_card"}, headers=case.resident)
    app = case.submit_hukou(case.good(hukou=attached))
    assert case.client.get(f"/api/v1/attachments/{attached}", headers=case.civil_1).status_code == 200
    assert case.client.get(f"/api/v1/attachments/{kept_back}", headers=case.civil_1).status_code == 404
    # the other department has no task of it (yet): neither its files nor where they came from
    assert case.client.get(f"/api/v1/attachments/{attached}", headers=case.housing_1).status_code == 404
    r = case.client.get(f"/api/v1/materials/of-application/{app['id']}", headers=case.housing_1)
    assert r.status_code == 404 and r.json["code"] == "not_found"
    # a resident's file is theirs alone
    assert case.client.get("/api/v1/materials", headers=case.civil_1).json == []


def test_a_resident_deletes_materials_an_application_keeps_its_copy(materials_case):
    case = materials_case
    loose, used = case.upload(data=different_photo(7)), case.upload(data=different_photo(8))
    loose_id = case.client.post("/api/v1/materials", json={"attachment_id": loose, "kind": "hukou"},
                                headers=case.resident).json["id"]
    case.submit_hukou(case.good(hukou=used))
    used_id = next(m["id"] for m in _materials(case) if m["attachment_id"] == used)

    assert case.client.delete(f"/api/v1/materials/{loose_id}", headers=case.resident).status_code == 204
    assert case.client.get(f"/api/v1/attachments/{loose}", headers=case.resident).status_code == 404   # gone
    assert case.client.delete(f"/api/v1/materials/{used_id}", headers=case.resident).status_code == 204
    assert _materials(case) == [] and "hukou" not in _prefill(case)
    assert case.client.get(f"/api/v1/attachments/{used}", headers=case.civil_1).status_code == 200   # still there
    # someone else's material is not found, and a stale version is a conflict
    again = case.client.post("/api/v1/materials", json={"attachment_id": used, "kind": "hukou"},
                             headers=case.resident).json
    assert case.client.delete(f"/api/v1/materials/{again['id']}", headers=case.civil_1).status_code == 404
    r = case.client.delete(f"/api/v1/materials/{again['id']}?version=9", headers=case.resident)
    assert r.status_code == 409 and r.json["code"] == "conflict"
