"""What only a real MinIO can show: presigned links that expire and refuse tampering, and an outage."""
from __future__ import annotations

import io
import time
from datetime import datetime, timedelta, timezone
import urllib.error
import urllib.request
from urllib.parse import parse_qs, urlparse

import pytest

from storage.models import Attachment
from tests import storage_fixtures as f
from tests.conftest import WORKER, bearer


def _minio_app(settings, servers, endpoint, bucket, **overrides):
    from api.app import create_app

    application = create_app(settings.with_overrides(
        s3_endpoint=endpoint, s3_access_key=servers["minio_user"], s3_secret_key=servers["minio_password"],
        s3_bucket=bucket, **overrides))
    application.testing = True
    return application


@pytest.fixture
def alice(resident_login):
    return bearer(resident_login("openid-alice")["access_token"])


def _upload(api, headers, data):
    return api.post("/api/v1/attachments", headers=headers, content_type="multipart/form-data",
                    data={"kind": "photo", "file": (io.BytesIO(data), "IMG.jpg", "image/jpeg")})


def _get(url):
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def test_presigned_links_work_for_the_owner_expire_and_refuse_tampering(settings, servers, minio_endpoint,
                                                                        client, alice):
    app = _minio_app(settings, servers, minio_endpoint, f"att-ps-{WORKER}", presign_seconds=60)
    with app.app_context():
        api = app.test_client()
        attachment = _upload(api, alice, f.jpeg(orientation=3)).json
        location = api.get(f"/api/v1/attachments/{attachment['id']}/content", headers=alice).headers["Location"]
    query = parse_qs(urlparse(location).query)
    assert query["X-Amz-Expires"] == ["60"] and "X-Amz-Signature" in query

    status, body = _get(location)
    assert status == 200 and len(body) == attachment["size"]
    f.assert_clean_jpeg(body)

    signature = query["X-Amz-Signature"][0]
    tampered = location.replace(signature, signature[::-1])
    status, body = _get(tampered)
    assert status == 403 and b"SignatureDoesNotMatch" in body
    longer = location.replace("X-Amz-Expires=60", "X-Amz-Expires=300")   # stretching the lifetime breaks it too
    assert _get(longer)[0] == 403

    # Expiry without waiting on the clock: the same link as the store signs it, dated back. Issued 30 s ago it
    # still works; issued two minutes ago (its 60 s long over) MinIO refuses it. Far from the edge either way.
    store = app.extensions["zhangban"].store
    bucket, key = urlparse(location).path.lstrip("/").split("/", 1)
    version = query.get("versionId", [None])[0]

    def issued(seconds_ago):
        signed_at = datetime.now(timezone.utc) - timedelta(seconds=seconds_ago)
        return store.signer.presigned_get_object(bucket, key, expires=timedelta(seconds=60), version_id=version,
                                                 request_date=signed_at)

    assert _get(issued(30))[0] == 200
    status, body = _get(issued(120))
    assert status == 403 and b"expired" in body.lower()


def test_links_never_live_longer_than_five_minutes(settings, servers, minio_endpoint, client, alice):
    app = _minio_app(settings, servers, minio_endpoint, f"att-ps-{WORKER}")
    with app.app_context():
        api = app.test_client()
        attachment = _upload(api, alice, f.jpeg()).json
        location = api.get(f"/api/v1/attachments/{attachment['id']}/content", headers=alice).headers["Location"]
    assert int(parse_qs(urlparse(location).query)["X-Amz-Expires"][0]) <= 300


def test_with_minio_stopped_an_upload_is_503_and_nothing_is_recorded(settings, servers, minio_endpoint, client,
                                                                     alice, tmp_path):
    from tests.servers import start_minio

    own = start_minio(tmp_path)   # our own server: stopping it leaves the shared one alone
    try:
        app = _minio_app(settings, servers, own.endpoint, f"att-down-{WORKER}")
        with app.app_context():
            api = app.test_client()
            assert _upload(api, alice, f.jpeg()).status_code == 201
            own.stop()
            before = Attachment.objects.count()
            start = time.monotonic()
            r = _upload(api, alice, f.jpeg(f.marked_image((300, 300))))
            elapsed = time.monotonic() - start
            assert r.status_code == 503 and r.json["code"] == "unavailable", r.json
            assert elapsed < 5
            assert Attachment.objects.count() == before
            ready = api.get("/readyz")                   # ready, degraded: most endpoints do not need MinIO
            assert ready.status_code == 200 and ready.json["status"] == "degraded", ready.json
    finally:
        own.stop()
