"""The services (事项) designer API: drafts with ETags, validation with JSON pointers, publishing immutable
versions, archiving, access by department."""
from __future__ import annotations

from core import audit
from tests.services_fixtures import BASE, CATALOGUE, bound, create, publish, service_body  # noqa: F401
from tests.workflows_fixtures import civil_designer, forms, housing, housing_designer  # noqa: F401 (fixtures)
from workflows.cases.catalog.models import ServiceDraft, ServiceVersion
from workflows.cases.catalog.search import index_fields


def test_create_get_update_with_if_match(client, civil_designer, department, bound):
    r = create(client, civil_designer, service_body(department["id"], bound))
    assert r.headers["ETag"] == '"1"' and r.json["status"] == "draft" and r.json["name"] == "居住证申领"
    assert r.json["materials"][0] == {"name": "身份证照片", "name_en": "ID photo", "field": "/id_photo",
                                      "attachment_kind": "photo", "originals_needed": True, "required": True}
    got = client.get(f"{BASE}/jzz-001", headers=civil_designer)
    assert got.status_code == 200 and got.headers["ETag"] == '"1"' and got.json["regions"] == ["440300"]
    assert client.put(f"{BASE}/jzz-001", json={"fee_fen": 500}, headers=civil_designer).status_code == 428
    ok = client.put(f"{BASE}/jzz-001", json={"fee_fen": 500, "regions": ["440300", "440000"]},
                    headers={**civil_designer, "If-Match": '"1"'})
    assert ok.status_code == 200 and ok.headers["ETag"] == '"2"'
    assert ok.json["fee_fen"] == 500 and ok.json["regions"] == ["440300", "440000"] and ok.json["name"] == "居住证申领"
    stale = client.put(f"{BASE}/jzz-001", json={"fee_fen": 1}, headers={**civil_designer, "If-Match": '"1"'})
    assert stale.status_code == 412 and stale.json["code"] == "precondition_failed"
    assert client.get(f"{BASE}/jzz-001", headers=civil_designer).json["fee_fen"] == 500   # the stale write lost
    listed = client.get(BASE, headers=civil_designer).json
    assert listed["total"] == 1 and listed["items"][0]["code"] == "jzz-001"
    assert create(client, civil_designer, service_body(department["id"], bound), expect=409).json["errors"][0][
        "path"] == "/code"


def test_validate_publish_and_the_version_is_current(client, app, civil_designer, department, bound):
    create(client, civil_designer, service_body(department["id"], bound))
    check = client.post(f"{BASE}/jzz-001/validate", headers=civil_designer)
    assert check.status_code == 200 and check.json == {"valid": True, "errors": []}
    v1 = publish(client, civil_designer, "jzz-001").json
    assert v1["version"] == 1 and v1["current"] is True and v1["form_key"] == "residence"
    assert "search_keys" not in v1 and "search_text" not in v1
    draft = client.get(f"{BASE}/jzz-001", headers=civil_designer).json
    assert draft["status"] == "published" and draft["published_version"] == 1
    # a second version replaces the first in the catalogue; the first stays readable for running applications
    etag = client.get(f"{BASE}/jzz-001", headers=civil_designer).headers["ETag"]
    client.put(f"{BASE}/jzz-001", json={"name": "居住证申领（新）"}, headers={**civil_designer, "If-Match": etag})
    v2 = publish(client, civil_designer, "jzz-001").json
    assert v2["version"] == 2 and v2["name"] == "居住证申领（新）"
    versions = client.get(f"{BASE}/jzz-001/versions", headers=civil_designer).json
    assert versions["total"] == 2 and [(v["version"], v["current"]) for v in versions["items"]] == [(2, True),
                                                                                                    (1, False)]
    old = client.get(f"{BASE}/jzz-001/versions/1", headers=civil_designer).json
    assert old["name"] == "居住证申领" and old["current"] is False
    with app.app_context():
        from workflows.cases.catalog import service
        assert service.get_current("jzz-001").version == 2 and service.get_version("jzz-001", 1).version == 1
        actions = [r.action for r in audit.query(object_type="service", object_id="jzz-001")]
    assert actions == ["service.publish", "service.draft.update", "service.publish", "service.draft.create"]


def test_validate_lists_every_problem_with_its_pointer(client, civil_designer, department, bound):
    body = service_body(department["id"], bound, form_version=7, process_key="ghost", regions=["440300", "440300"],
                        time_limit_days=30, statutory_limit_days=20, materials=[
                            {"name": "照片", "field": "/nope", "attachment_kind": "photo"},
                            {"name": "姓名", "field": "/name", "attachment_kind": "photo"},
                            {"name": "照片"},
                            {"name": "成员照片", "field": "/family/*/member_photo", "attachment_kind": "photo"}])
    create(client, civil_designer, body)
    check = client.post(f"{BASE}/jzz-001/validate", headers={**civil_designer, "Accept-Language": "en"}).json
    found = {(e["path"], e["code"]) for e in check["errors"]}
    assert check["valid"] is False and found == {
        ("/form_version", "form_not_published"), ("/process_key", "process_not_published"),
        ("/regions/1", "duplicate_region"), ("/time_limit_days", "over_statutory_limit"),
        ("/materials/2/name", "duplicate_material"), ("/materials/2", "material_not_online")}
    assert {e["message"] for e in check["errors"]} >= {"The committed time limit exceeds the statutory limit"}
    # with the form bound, the materials' fields are checked against that form version
    etag = client.get(f"{BASE}/jzz-001", headers=civil_designer).headers["ETag"]
    client.put(f"{BASE}/jzz-001", json={"form_version": 1, "process_key": "user_task_form", "regions": []},
               headers={**civil_designer, "If-Match": etag})
    refused = publish(client, civil_designer, "jzz-001", expect=422).json
    found = {(e["path"], e["code"]) for e in refused["errors"]}
    assert refused["code"] == "invalid" and ("/materials/0/field", "unknown_field") in found
    assert ("/materials/1/field", "field_not_attachment") in found and ("/regions", "no_region") in found
    assert not any(e["path"] == "/materials/3/field" for e in refused["errors"])   # a row's field is a field
    assert refused["errors"][0]["message"] and not refused["errors"][0]["message"].startswith("service.")
    with client.application.app_context():
        assert ServiceVersion.objects(code="jzz-001").count() == 0


def test_another_departments_designer_sees_404_and_cannot_bind_its_form_or_process(
        client, civil_designer, housing_designer, department, housing, bound):
    create(client, civil_designer, service_body(department["id"], bound))
    for method, suffix in (("get", ""), ("put", ""), ("post", "/validate"), ("post", "/publish"),
                           ("post", "/archive"), ("get", "/versions")):
        r = getattr(client, method)(f"{BASE}/jzz-001{suffix}", json={"fee_fen": 1},
                                    headers={**housing_designer, "If-Match": '"1"'})
        assert r.status_code == 404 and r.json["code"] == "not_found", (method, suffix)
    assert client.get(BASE, headers=housing_designer).json["total"] == 0
    r = create(client, housing_designer, service_body(department["id"], bound, code="x-1"), expect=403)
    assert r.json["code"] == "forbidden"
    # a housing service bound to the civil department's form and process
    create(client, housing_designer, service_body(housing["id"], bound, code="bdc-001"))
    check = client.post(f"{BASE}/bdc-001/validate", headers=housing_designer).json
    assert {(e["path"], e["code"]) for e in check["errors"]} == {
        ("/form_key", "form_not_your_department"), ("/process_key", "process_not_your_department")}
    assert publish(client, housing_designer, "bdc-001", expect=422).json["code"] == "invalid"
    assert client.get(f"{CATALOGUE}/bdc-001", headers=housing_designer).status_code == 404


def test_an_archived_form_cannot_be_bound(client, civil_designer, department, bound):
    create(client, civil_designer, service_body(department["id"], bound))
    assert client.post("/api/v1/designer/forms/residence/archive", headers=civil_designer).status_code == 200
    check = client.post(f"{BASE}/jzz-001/validate", headers=civil_designer).json
    assert [(e["path"], e["code"]) for e in check["errors"]] == [("/form_key", "form_archived")]


def test_stale_if_match_on_publish_writes_nothing(client, app, civil_designer, department, bound):
    create(client, civil_designer, service_body(department["id"], bound))
    client.put(f"{BASE}/jzz-001", json={"fee_fen": 100}, headers={**civil_designer, "If-Match": '"1"'})
    r = publish(client, civil_designer, "jzz-001", expect=412, **{"If-Match": '"1"'})
    assert r.json["code"] == "precondition_failed"
    with app.app_context():
        assert ServiceVersion.objects(code="jzz-001").count() == 0
        assert ServiceDraft.objects(code="jzz-001").first().published_version == 0
    assert publish(client, civil_designer, "jzz-001", **{"If-Match": '"2"'}).json["version"] == 1


def test_publish_mends_what_a_crash_left(client, app, civil_designer, department, bound):
    """A crash after the draft took number 1 (no version 1 stored), and one that left two current versions."""
    create(client, civil_designer, service_body(department["id"], bound))
    with app.app_context():
        ServiceDraft.objects(code="jzz-001").update_one(set__published_version=1)
    assert publish(client, civil_designer, "jzz-001").json["version"] == 2   # the gap is skipped, not collided with
    with app.app_context():
        stray = ServiceVersion.objects(code="jzz-001", version=2).first()
        ServiceVersion(code="jzz-001", version=3, department=stray.department, body=stray.body, current=True,
                       **index_fields("jzz-001", stray.department, stray.body)).save(force_insert=True)
        ServiceVersion.objects(code="jzz-001", version=2).update_one(set__current=True)
    found = client.get(CATALOGUE, query_string={"keyword": "居住证"}, headers=civil_designer).json
    assert [(i["code"], i["version"]) for i in found["items"]] == [("jzz-001", 3)]   # the newest, once
    assert client.get(f"{CATALOGUE}/jzz-001", headers=civil_designer).json["version"] == 3
    assert publish(client, civil_designer, "jzz-001").json["version"] == 4
    with app.app_context():
        assert [v.version for v in ServiceVersion.objects(code="jzz-001", current=True)] == [4]


def test_bad_input_is_422_naming_the_field(client, civil_designer, department, bound):
    cases = [
        ({"form_version": "x"}, "/form_version"),
        ({"form_version": 0}, "/form_version"),
        ({"code": "中文编码"}, "/code"),
        ({"handling": "fax"}, "/handling"),
        ({"regions": ["440300", "12345"]}, "/regions/1"),
        ({"regions": ["990000"]}, "/regions/0"),
        ({"time_limit_days": -1}, "/time_limit_days"),
        ({"fee_fen": 2 ** 70}, "/fee_fen"),
        ({"materials": [{"field": "id_photo"}]}, "/materials/0/name"),
        ({"materials": [{"name": "x", "field": "id_photo"}]}, "/materials/0/field"),
        ({"materials": [{"name": "x", "attachment_kind": "video"}]}, "/materials/0/attachment_kind"),
        ({"process_key": None}, "/process_key"),
    ]
    for changes, path in cases:
        r = client.post(BASE, json=service_body(department["id"], bound, **changes), headers=civil_designer)
        assert r.status_code == 422, (changes, r.json)
        assert path in [e["path"] for e in r.json["errors"]], (changes, r.json)
    missing = {k: v for k, v in service_body(department["id"], bound).items() if k != "form_key"}
    assert [e["path"] for e in client.post(BASE, json=missing, headers=civil_designer).json["errors"]] == ["/form_key"]
    create(client, civil_designer, service_body(department["id"], bound))
    r = client.put(f"{BASE}/jzz-001", json={}, headers={**civil_designer, "If-Match": '"1"'})
    assert r.status_code == 422


def test_residents_cannot_use_the_designer_api(client, resident_headers, civil_designer, department, bound):
    create(client, civil_designer, service_body(department["id"], bound))
    assert client.get(f"{BASE}/jzz-001", headers=resident_headers).status_code == 403
    assert client.get(BASE, headers=resident_headers).status_code == 403
    assert client.get(BASE).status_code == 401

