"""Electronic results: a PDF made on approval, kept write-once, filed as a 电子证照, verified by number + hash."""
from __future__ import annotations

import io

import pypdf

from tests.applications_fixtures import case  # noqa: F401 (fixture)
from workflows.cases.materials import results
from tests.materials_fixtures import different_photo, materials_case  # noqa: F401 (fixture)


def _worker_round(case, now=None) -> int:
    """What the worker does for results each round, on the store of the app the case's client talks to."""
    app = case.client.application
    with app.app_context():
        return results.issue_due(app.extensions["zhangban"].store, now=now)


def _approve_all(case, app_id, *, worker=True):
    """civil signs and approves, then housing approves: the case ends approved; then a worker round makes its
    result."""
    signature = case.signature(case.civil_1)
    [task] = [t for t in case.todo(case.civil_1) if t["application_id"] == app_id]
    case.act(case.civil_1, task, signature=signature)
    [task] = [t for t in case.todo(case.housing_1) if t["application_id"] == app_id]
    case.act(case.housing_1, task)
    if worker:
        assert _worker_round(case) == 1
    return signature


def _download(client, headers, attachment_id):
    r = client.get(f"/api/v1/attachments/{attachment_id}/content", headers=headers)
    assert r.status_code == 302, r.json
    blob = client.get(r.headers["Location"])
    assert blob.status_code == 200
    return blob.data


def _licence(case):
    [licence] = [m for m in case.client.get("/api/v1/materials", headers=case.resident).json
                 if m["source"] == "licence"]
    return licence


def test_approval_issues_a_result_the_resident_sees_and_anyone_can_verify(materials_case):
    case = materials_case
    app = case.submit()
    _approve_all(case, app["id"], worker=False)
    # the approval itself draws nothing: the worker makes the document, off the approver's request
    approved = case.application(app["id"])
    assert approved["status"] == "approved" and approved["result"]["documents"] == []
    assert _worker_round(case) == 1 and _worker_round(case) == 0
    shown = case.application(app["id"])
    assert shown["status"] == "approved"
    [document] = shown["result"]["documents"]

    licence = _licence(case)
    assert licence["attachment_id"] == document and licence["kind"] == "residence"
    assert licence["number"] == "DZ" + app["number"][2:] and licence["issuer_name"] == "民政局"
    assert licence["status"] == "valid" and len(licence["content_hash"]) == 64

    pdf = _download(case.client, case.resident, document)
    text = pypdf.PdfReader(io.BytesIO(pdf)).pages[0].extract_text()
    for printed in ("居住证申领", "张三", "准予办理", app["number"], licence["number"], "民政局",
                    licence["content_hash"]):
        assert printed in text, printed
    images = pypdf.PdfReader(io.BytesIO(pdf)).pages[0].images
    assert len(images) >= 1          # the approver's signature (the seal is drawn: no seal image was set)

    r = case.client.get("/api/v1/licences/verify",
                        query_string={"number": licence["number"], "hash": licence["content_hash"]})
    assert r.status_code == 200 and r.json["valid"] is True and r.json["file_intact"] is True
    assert r.json["holder_name"] == "张*" and r.json["status"] == "valid"
    wrong = "0" * 64
    r = case.client.get("/api/v1/licences/verify", query_string={"number": licence["number"], "hash": wrong})
    assert r.status_code == 200 and r.json == {"valid": False, "number": licence["number"], "reason": "no_match"} \
        or r.json["valid"] is False and r.json["reason"] == "no_match"
    r = case.client.get("/api/v1/licences/verify", query_string={"number": licence["number"], "hash": "zz"},
                        headers={"Accept-Language": "en"})
    assert r.status_code == 422 and r.json["errors"][0]["path"].endswith("hash")


def test_a_result_is_offered_to_a_later_form_asking_for_its_kind_and_attached_as_it_is(materials_case):
    case = materials_case
    from tests.applications_fixtures import publish_form, publish_service
    from tests.materials_fixtures import HUKOU_FORM
    import copy

    app = case.submit()
    _approve_all(case, app["id"])
    licence = _licence(case)
    # a later form asks for a residence permit (the kind is the issuing service's code)
    form = copy.deepcopy(HUKOU_FORM)
    form["properties"]["hukou"]["x-prefill"] = "material.residence"
    publish_form(case.client, case.designer, case.civil["id"], "school_apply", form)
    publish_service(case.client, case.designer, "school", case.civil["id"], "school_apply", "residence_permit",
                    name="入学申请")
    r = case.client.get("/api/v1/forms/school_apply/versions/latest/prefill", headers=case.resident)
    assert r.json["values"]["hukou"] == licence["attachment_id"]
    r = case.client.post("/api/v1/applications", headers=case.resident, json={
        "service_code": "school", "data": case.good(hukou=licence["attachment_id"]), "submit": True})
    assert r.status_code == 201, r.json
    later = r.json["id"]
    [task] = [t for t in case.todo(case.civil_1) if t["application_id"] == later]
    rows = case.client.get(f"/api/v1/materials/of-application/{later}", headers=case.civil_1).json
    [row] = [x for x in rows if x["attachment_id"] == licence["attachment_id"]]
    assert row["material"]["source"] == "licence" and row["material"]["number"] == licence["number"]
    assert row["material"]["application_number"] == app["number"]
    assert case.client.get(f"/api/v1/attachments/{licence['attachment_id']}/content",
                           headers=case.civil_1).status_code == 302
    # revoked by the issuing department: no longer offered, and verification says so
    r = case.client.post(f"/api/v1/licences/{licence['number']}/revoke", json={"reason": "信息有误"},
                         headers=case.housing_1)
    unknown = case.client.post("/api/v1/licences/DZ2099010199999/revoke", json={"reason": "信息有误"},
                               headers=case.housing_1)
    # another department's licence and no licence at all answer alike: the number tells nothing
    assert r.status_code == unknown.status_code == 404 and r.json["code"] == unknown.json["code"] == "not_found"
    assert r.json["message"] == unknown.json["message"]
    r = case.client.post(f"/api/v1/licences/{licence['number']}/revoke", json={"reason": "信息有误"},
                         headers=case.civil_2)
    assert r.status_code == 200 and r.json["status"] == "revoked"
    r = case.client.get("/api/v1/forms/school_apply/versions/latest/prefill", headers=case.resident)
    assert "hukou" not in r.json["values"]
    r = case.client.get("/api/v1/licences/verify",
                        query_string={"number": licence["number"], "hash": licence["content_hash"]})
    assert r.json["valid"] is False and r.json["status"] == "revoked" and r.json["revoked_reason"] == "信息有误"
    r = case.client.post(f"/api/v1/licences/{licence['number']}/revoke", json={"reason": "again"},
                         headers=case.civil_2)
    assert r.status_code == 409


def test_a_department_seal_is_printed_and_a_rejection_issues_nothing(materials_case, admin_headers):
    case = materials_case
    seal = case.upload(headers=admin_headers, data=different_photo(9))
    r = case.client.put(f"/api/v1/materials/seals/{case.civil['id']}", json={"attachment_id": seal},
                        headers=admin_headers)
    assert r.status_code == 200, r.json
    assert case.client.put(f"/api/v1/materials/seals/{case.civil['id']}", json={"attachment_id": seal},
                           headers=case.civil_1).status_code == 404
    app = case.submit()
    _approve_all(case, app["id"])
    pdf = _download(case.client, case.resident, case.application(app["id"])["result"]["documents"][0])
    assert len(pypdf.PdfReader(io.BytesIO(pdf)).pages[0].images) == 2      # seal and signature

    rejected = case.submit(case.good(months=1))
    [task] = [t for t in case.todo(case.civil_1) if t["application_id"] == rejected["id"]]
    case.act(case.civil_1, task, decision="reject", comment="居住不满六个月")
    assert _worker_round(case) == 0
    assert case.application(rejected["id"])["result"]["documents"] == []
    assert len([m for m in case.client.get("/api/v1/materials", headers=case.resident).json
                if m["source"] == "licence"]) == 1


def test_a_stored_result_that_was_changed_fails_verification(materials_case, app, settings):
    case = materials_case
    app_json = case.submit()
    _approve_all(case, app_json["id"])
    licence = _licence(case)
    from storage.models import Attachment
    with app.app_context():
        variant = Attachment.objects(id=licence["attachment_id"]).first().variants[0]
    # the filesystem store keeps results read-only; someone with disk access forces a change anyway
    path = settings.data_dir / "objects" / variant.key
    path.chmod(0o644)
    path.write_bytes(path.read_bytes().replace(b"%%EOF", b"%%EOF\n% tampered"))
    r = case.client.get("/api/v1/licences/verify",
                        query_string={"number": licence["number"], "hash": licence["content_hash"]})
    assert r.json["valid"] is False and r.json["file_intact"] is False and r.json["reason"] == "file_changed"


def test_on_minio_the_result_is_retained_under_object_lock(materials_case, settings, servers, minio_endpoint):
    """The same walk on an app whose store is a real MinIO: the PDF sits in the locked bucket, retained."""
    from api.app import create_app
    from tests.conftest import WORKER

    minio_app = create_app(settings.with_overrides(
        s3_endpoint=minio_endpoint, s3_access_key=servers["minio_user"], s3_secret_key=servers["minio_password"],
        s3_bucket=f"results-{WORKER}".lower()))
    minio_app.testing = True
    with minio_app.app_context():
        case = materials_case
        case.client = minio_app.test_client()
        app = case.submit()
        _approve_all(case, app["id"])
        licence = _licence(case)
        store = minio_app.extensions["zhangban"].store
        from storage.models import Attachment
        variant = Attachment.objects(id=licence["attachment_id"]).first().variants[0]
        assert variant.key.startswith("result/")
        retention = store.client.get_object_retention(store.locked_bucket, variant.key, variant.version)
        assert retention.mode == "GOVERNANCE"
        r = case.client.get("/api/v1/licences/verify",
                            query_string={"number": licence["number"], "hash": licence["content_hash"]})
        assert r.json["valid"] is True and r.json["file_intact"] is True


def test_a_result_that_could_not_be_made_is_made_after_its_lease_once(materials_case, app, monkeypatch):
    """The object store was down on the worker's first try: the application stays due, waits out the lease (no
    retry every round), and a later round makes its result once."""
    from datetime import timedelta

    from core import clock
    from core.errors import Unavailable
    from workflows.cases.applications.models import Application

    case = materials_case
    first = case.submit()
    _approve_all(case, first["id"], worker=False)

    def store_down(*args, **kwargs):
        raise Unavailable("storage.unavailable")
    monkeypatch.setattr(results.storage, "issue_document", store_down)
    now = clock.now()
    assert _worker_round(case, now) == 0
    monkeypatch.undo()
    with app.app_context():
        assert Application.objects(id=first["id"]).get().documents_due_at is not None      # still due
    assert _worker_round(case, now + timedelta(seconds=5)) == 0          # within the lease: not tried again
    assert case.application(first["id"])["result"]["documents"] == []
    assert _worker_round(case, now + results.LEASE + timedelta(seconds=1)) == 1
    assert _worker_round(case, now + results.LEASE * 3) == 0
    with app.app_context():
        assert Application.objects(id=first["id"]).get().documents_due_at is None
        store = app.extensions["zhangban"].store
        assert results.issue(store, first["id"]).number == "DZ" + first["number"][2:]     # idempotent
    assert len(case.application(first["id"])["result"]["documents"]) == 1


def test_a_result_filed_by_a_try_that_died_before_attaching_it_is_attached_once(materials_case, app, monkeypatch):
    """The worker filed the licence and died before its write to the application: the next try attaches it."""
    from workflows.cases.applications.models import Application

    case = materials_case
    first = case.submit()
    _approve_all(case, first["id"], worker=False)
    real_objects = Application.objects

    class DiesOnTheAttach:
        """Application.objects, whose update that attaches the licence never arrives (the worker died)."""
        def __call__(self, *args, **kwargs):
            query = real_objects(*args, **kwargs)
            if "id" in kwargs and len(kwargs) == 1:
                class Lost:
                    def update_one(self, **changes):
                        if "add_to_set__result__documents" in changes:
                            raise SystemExit("the worker died")
                        return query.update_one(**changes)
                return Lost()
            return query
    monkeypatch.setattr(results, "Application", type("A", (), {"objects": DiesOnTheAttach()}))
    try:
        _worker_round(case)
    except SystemExit:
        pass
    monkeypatch.undo()
    assert case.application(first["id"])["result"]["documents"] == []        # filed, not attached
    with app.app_context():
        Application.objects(id=first["id"]).update_one(set__documents_due_at=Application.objects(
            id=first["id"]).get().submitted_at)      # its lease ran out: due again
    assert _worker_round(case) == 1
    with app.app_context():                                                  # nothing new is made …
        from workflows.cases.materials.models import PersonalMaterial
        assert PersonalMaterial.objects(application_id=first["id"], source="licence").count() == 1
    [attached] = case.application(first["id"])["result"]["documents"]       # … the one filed is attached
    assert attached == _licence(case)["attachment_id"]
    with app.app_context():
        store = app.extensions["zhangban"].store
        results.issue(store, first["id"])
    assert len(case.application(first["id"])["result"]["documents"]) == 1    # once
