"""/api/v1/attachments as residents, approvers and admins meet it — the same suite on both object stores."""
from __future__ import annotations

import io
import urllib.error
import urllib.request

import pytest
from PIL import Image

from storage import service
from storage.models import Attachment
from tests import storage_fixtures as f
from tests.conftest import WORKER, bearer

# The pipeline refuses bombs itself, below Pillow's limit; Pillow's own warning is noise here.
pytestmark = pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")

@pytest.fixture(scope="module", params=["filesystem", "minio"])
def store_app(request, settings, tmp_path_factory):
    from api.app import create_app

    if request.param == "minio":
        servers = request.getfixturevalue("servers")
        config = settings.with_overrides(s3_endpoint=request.getfixturevalue("minio_endpoint"),
                                         s3_access_key=servers["minio_user"],
                                         s3_secret_key=servers["minio_password"], s3_bucket=f"att-api-{WORKER}")
    else:
        config = settings.with_overrides(data_dir=tmp_path_factory.mktemp("att-fs"))
    application = create_app(config)
    application.testing = True
    return application


@pytest.fixture
def api(store_app, client):   # `client` keeps the shared harness (clean collections) in play
    with store_app.app_context():
        yield store_app.test_client()


@pytest.fixture
def alice(resident_login):
    return bearer(resident_login("openid-alice")["access_token"])


@pytest.fixture
def bob(resident_login):
    return bearer(resident_login("openid-bob")["access_token"])


def upload(api, headers, data: bytes, kind="photo", filename="IMG_0001.jpg", content_type="image/jpeg",
           more_headers=None):
    return api.post("/api/v1/attachments", headers={**headers, **(more_headers or {})},
                    data={"kind": kind, "file": (io.BytesIO(data), filename, content_type)},
                    content_type="multipart/form-data")


def content(api, headers, attachment_id, variant="full") -> tuple[int, bytes, str]:
    """Follow the 302 like a phone: to MinIO over HTTP, or to the app's signed blob route."""
    r = api.get(f"/api/v1/attachments/{attachment_id}/content?variant={variant}", headers=headers)
    if r.status_code != 302:
        return r.status_code, b"", ""
    assert r.headers["Cache-Control"] == "no-store"
    location = r.headers["Location"]
    if location.startswith("/"):
        blob = api.get(location)
        return blob.status_code, blob.data, blob.headers.get("Content-Type", "")
    try:
        with urllib.request.urlopen(location, timeout=5) as response:
            return response.status, response.read(), response.headers.get("Content-Type", "")
    except urllib.error.HTTPError as exc:
        return exc.code, b"", ""


def test_a_phone_photo_is_stored_upright_and_without_gps(api, alice):
    photo = f.jpeg(f.marked_image((400, 200)), orientation=6)
    r = upload(api, alice, photo)
    assert r.status_code == 201, r.json
    body = r.json
    assert set(body) >= {"id", "kind", "content_type", "size", "width", "height", "sha256", "created_at"}
    assert (body["kind"], body["content_type"], body["width"], body["height"]) == ("photo", "image/jpeg", 200, 400)
    status, stored, content_type = content(api, alice, body["id"])
    assert status == 200 and content_type == "image/jpeg" and len(stored) == body["size"]
    f.assert_clean_jpeg(stored)                                    # EXIF, GPS, XMP, IPTC, comment: gone
    img = Image.open(io.BytesIO(stored))
    assert not img.getexif() and img.size == (200, 400)
    assert img.getpixel((190, 10))[0] > 180                        # the red corner is where it should be

    status, thumb, _ = content(api, alice, body["id"], "thumbnail")
    assert status == 200 and Image.open(io.BytesIO(thumb)).size == (160, 320)
    assert api.get(f"/api/v1/attachments/{body['id']}", headers=alice).json["id"] == body["id"]


def test_the_thumbnail_is_320_px(api, alice):
    r = upload(api, alice, f.jpeg(f.phone_photo(1600, 1200), orientation=1))
    status, thumb, _ = content(api, alice, r.json["id"], "thumbnail")
    assert status == 200 and Image.open(io.BytesIO(thumb)).size == (320, 240)


def test_the_same_bytes_from_the_same_owner_give_the_same_attachment(api, alice, bob):
    photo = f.jpeg()
    first = upload(api, alice, photo)
    again = upload(api, alice, photo, filename="other-name.jpg")
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json["id"] == first.json["id"] and again.json["sha256"] == first.json["sha256"]
    assert Attachment.objects(owner_id=_user_id(api, alice)).count() == 1
    theirs = upload(api, bob, photo)                                 # another owner: their own copy
    assert theirs.status_code == 201 and theirs.json["id"] != first.json["id"]


def test_idempotency_key_replays_and_refuses_reuse_for_other_bytes(api, alice):
    key = {"Idempotency-Key": "upload-7f3a"}
    first = upload(api, alice, f.jpeg(), more_headers=key)
    replay = upload(api, alice, f.jpeg(), more_headers=key)
    assert (first.status_code, replay.status_code, replay.json["id"]) == (201, 200, first.json["id"])
    other = upload(api, alice, f.jpeg(f.marked_image((300, 300))), more_headers=key)
    assert other.status_code == 409 and other.json["code"] == "conflict"


def test_too_large_is_413_and_names_the_field(api, alice):
    r = upload(api, alice, b"\xff\xd8\xff" + b"\0" * (15 * 1024 * 1024))
    assert r.status_code == 413 and r.json["code"] == "payload_too_large"
    assert r.json["errors"][0]["path"] == "/file" and r.json["errors"][0]["limit"] == 15 * 1024 * 1024
    assert Attachment.objects.count() == 0


@pytest.mark.parametrize("kind, data_fn, filename, declared", [
    ("photo", lambda: _gif(), "photo.jpg", "image/jpeg"),
    ("photo", f.pdf, "scan.jpg", "image/jpeg"),
    ("document", f.jpeg, "contract.pdf", "application/pdf"),
    ("signature", f.pdf, "sign.png", "image/png"),
], ids=["gif-named-jpg", "pdf-as-photo", "jpeg-as-document", "pdf-as-signature"])
def test_the_type_comes_from_the_content_and_others_are_415(api, alice, kind, data_fn, filename, declared):
    r = upload(api, alice, data_fn(), kind=kind, filename=filename, content_type=declared)
    assert r.status_code == 415 and r.json["code"] == "unsupported_media_type", r.json
    assert r.json["errors"][0]["path"] == "/file"


def test_bombs_and_blank_signatures_are_422_with_clear_messages(api, alice):
    r = upload(api, alice, f.png_bomb(), filename="x.png", content_type="image/png")
    assert r.status_code == 422 and r.json["errors"][0]["code"] == "too_many_pixels"
    r = upload(api, alice, f.signature_png(strokes=False), kind="signature", filename="s.png",
               content_type="image/png", more_headers={"Accept-Language": "en"})
    assert r.status_code == 422 and r.json["errors"][0]["code"] == "signature_blank"
    assert "blank" in r.json["message"] and "sign again" in r.json["errors"][0]["message"]
    assert Attachment.objects.count() == 0


def test_missing_file_or_bad_kind_is_422_naming_the_field(api, alice):
    r = api.post("/api/v1/attachments", headers=alice, data={"kind": "photo"}, content_type="multipart/form-data")
    assert r.status_code == 422 and any(e["path"] == "/file" for e in r.json["errors"])
    r = upload(api, alice, f.jpeg(), kind="selfie")
    assert r.status_code == 422 and any(e["path"] == "/kind" for e in r.json["errors"])
    assert api.post("/api/v1/attachments", data={"kind": "photo"}).status_code == 401


def test_signatures_and_documents(api, alice):
    r = upload(api, alice, f.signature_png(), kind="signature", filename="sign.png", content_type="image/png")
    assert r.status_code == 201 and r.json["content_type"] == "image/png" and r.json["width"] < 900
    status, stored, _ = content(api, alice, r.json["id"])
    assert status == 200 and Image.open(io.BytesIO(stored)).mode == "RGBA"
    pdf = f.pdf()
    r = upload(api, alice, pdf, kind="document", filename="licence.pdf", content_type="application/pdf")
    assert r.status_code == 201 and r.json["content_type"] == "application/pdf" and r.json["width"] is None
    assert content(api, alice, r.json["id"])[:2] == (200, pdf)
    assert content(api, alice, r.json["id"], "thumbnail")[0] == 422     # documents have no thumbnail


def test_someone_elses_attachment_is_404_but_admins_may_look(api, alice, bob, make_staff, admin_headers):
    attachment_id = upload(api, alice, f.jpeg()).json["id"]
    approver = make_staff("approver-1", [])[1]
    for headers in (bob, approver):
        assert api.get(f"/api/v1/attachments/{attachment_id}", headers=headers).status_code == 404
        assert content(api, headers, attachment_id)[0] == 404
        assert api.delete(f"/api/v1/attachments/{attachment_id}", headers=headers).status_code == 404
    assert api.get("/api/v1/attachments/not-an-id", headers=alice).status_code == 404
    assert content(api, admin_headers, attachment_id)[0] == 200
    assert api.delete(f"/api/v1/attachments/{attachment_id}", headers=admin_headers).status_code == 404


def test_the_owner_deletes_and_the_file_is_gone(api, alice):
    attachment = upload(api, alice, f.jpeg()).json
    r = api.get(f"/api/v1/attachments/{attachment['id']}/content", headers=alice)
    link = r.headers["Location"]
    assert api.delete(f"/api/v1/attachments/{attachment['id']}", headers=alice).status_code == 204
    assert api.get(f"/api/v1/attachments/{attachment['id']}", headers=alice).status_code == 404
    if link.startswith("/"):
        assert api.get(link).status_code == 404
    else:
        with pytest.raises(urllib.error.HTTPError) as caught:
            urllib.request.urlopen(link, timeout=5)
        assert caught.value.code == 404
    again = upload(api, alice, f.jpeg())                               # a fresh upload after a delete works
    assert again.status_code == 201 and again.json["id"] != attachment["id"]


@pytest.fixture
def readers():
    saved = list(service._readers)
    yield
    service._readers[:] = saved


def test_applications_grant_reads_to_their_handlers_and_block_deletion(api, alice, bob, make_staff, readers):
    attachment_id = upload(api, alice, f.jpeg()).json["id"]
    approver_user, approver = make_staff("approver-2", [])
    handled = {"app-1": str(approver_user.id)}
    service.register_reader(lambda actor, app_ids: any(handled.get(a) == actor.user_id for a in app_ids))

    with pytest.raises(service.Invalid) as caught:
        service.assert_owned(_user_id(api, bob), [attachment_id])
    assert caught.value.errors[0]["id"] == attachment_id and caught.value.errors[0]["path"] == "/0"
    service.assert_owned(_user_id(api, alice), [attachment_id])

    assert content(api, approver, attachment_id)[0] == 404
    service.grant_read([attachment_id], "app-1")
    assert content(api, approver, attachment_id)[0] == 200
    assert api.get(f"/api/v1/attachments/{attachment_id}", headers=approver).json["submitted"] is True
    r = api.delete(f"/api/v1/attachments/{attachment_id}", headers=alice)
    assert r.status_code == 409 and r.json["code"] == "conflict"
    assert content(api, bob, attachment_id)[0] == 404
    service.release("app-1")
    assert api.delete(f"/api/v1/attachments/{attachment_id}", headers=alice).status_code == 204


def test_uploads_and_deletes_are_audited(api, alice):
    from core import audit

    attachment_id = upload(api, alice, f.jpeg()).json["id"]
    api.delete(f"/api/v1/attachments/{attachment_id}", headers=alice)
    actions = [r.action for r in audit.query(object_type="attachment", object_id=attachment_id)]
    assert actions == ["attachment.delete", "attachment.upload"]


def test_the_upload_is_documented_as_multipart(api):
    spec = api.get("/api/openapi.json").json
    post = spec["paths"]["/api/v1/attachments"]["post"]
    schema = post["requestBody"]["content"]["multipart/form-data"]["schema"]
    assert {"file", "kind"} <= set(_props(spec, schema))


def _props(spec, schema):
    if "$ref" in schema:
        schema = spec["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    props = dict(schema.get("properties", {}))
    for part in schema.get("allOf", []):
        props.update(_props(spec, part))
    return props


def _gif() -> bytes:
    out = io.BytesIO()
    f.marked_image().save(out, "GIF")
    return out.getvalue()


def _user_id(api, headers) -> str:
    return api.get("/api/v1/me", headers=headers).json["id"]


def test_a_grant_naming_one_unknown_attachment_grants_none(api, alice, settings, readers):
    from tests.commands import counting_commands

    first, second = (upload(api, alice, f.jpeg(quality=q)).json["id"] for q in (80, 90))
    assert first != second
    with pytest.raises(service.Invalid) as caught:
        service.grant_read([first, second, "65f0c0ffee0000000000abcd"], "app-1")
    assert [(e["path"], e["id"]) for e in caught.value.errors] == [("/2", "65f0c0ffee0000000000abcd")]
    assert api.delete(f"/api/v1/attachments/{first}", headers=alice).status_code == 204   # was left granted: 409
    with counting_commands(settings) as counts:
        service.grant_read([second], "app-2")
    assert counts[("update", "attachments")] == 1
    assert api.delete(f"/api/v1/attachments/{second}", headers=alice).status_code == 409
