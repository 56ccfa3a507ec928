"""One behaviour suite for both object stores (filesystem and a real MinIO), plus what only MinIO enforces."""
from __future__ import annotations

import time
import urllib.error
import urllib.request
import uuid
from datetime import timedelta

import pytest

from core import clock
from core.errors import Conflict, Forbidden, NotFound
from storage.stores import FilesystemStore, MinioStore, build_store
from tests.conftest import WORKER


def _bucket(prefix: str) -> str:
    return f"{prefix}-{WORKER}-{uuid.uuid4().hex[:8]}".lower()


@pytest.fixture
def minio_settings(settings, servers, minio_endpoint):
    return settings.with_overrides(s3_endpoint=minio_endpoint, s3_access_key=servers["minio_user"],
                                   s3_secret_key=servers["minio_password"], s3_bucket=_bucket("st"))


@pytest.fixture(params=["filesystem", "minio"])
def store(request, tmp_path):
    if request.param == "filesystem":
        return FilesystemStore(tmp_path / "objects", link_key=b"k" * 32)
    return build_store(request.getfixturevalue("minio_settings"))


def fetch(store, url: str) -> tuple[int, bytes]:
    """GET a link the way a phone would: over HTTP for MinIO, through the app's route for the filesystem."""
    if isinstance(store, FilesystemStore):
        token = url.rsplit("/", 1)[1]
        try:
            return 200, store.open_link(token)[0]
        except Forbidden as exc:
            return 403, exc.message_key.encode()
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def test_put_get_list_delete(store):
    version = store.put("photo/a1/full.jpg", b"one", "image/jpeg")
    store.put("photo/a2/full.jpg", b"two", "image/jpeg")
    store.put("document/d1/full.pdf", b"pdf", "application/pdf")
    assert store.get("photo/a1/full.jpg") == b"one"
    listed = {o.key: o for o in store.list("photo/")}
    assert set(listed) == {"photo/a1/full.jpg", "photo/a2/full.jpg"}
    assert abs((listed["photo/a1/full.jpg"].modified - clock.now()).total_seconds()) < 60
    assert listed["photo/a2/full.jpg"].size == 3
    store.delete("photo/a1/full.jpg", version)      # that version, for good
    with pytest.raises(NotFound):
        store.get("photo/a1/full.jpg")
    with pytest.raises(NotFound):
        store.get("photo/a1/full.jpg", version)
    assert [o.key for o in store.list("photo/")] == ["photo/a2/full.jpg"]
    store.check()


def test_a_link_serves_the_bytes_until_it_expires(store):
    store.put("photo/l1/full.jpg", b"\xff\xd8\xffjpeg bytes", "image/jpeg")
    status, body = fetch(store, store.link("photo/l1/full.jpg", 60))
    assert (status, body) == (200, b"\xff\xd8\xffjpeg bytes")
    short = store.link("photo/l1/full.jpg", 1)    # not fetched at once: on a whole-second clock it may be over
    time.sleep(2.2)                                  # before the request arrives (the 60-s link shows it serves)
    assert fetch(store, short)[0] == 403


def test_a_tampered_link_is_refused(store):
    store.put("photo/t1/full.jpg", b"mine", "image/jpeg")
    store.put("photo/t2/full.jpg", b"someone else's", "image/jpeg")
    url = store.link("photo/t1/full.jpg", 60)
    if isinstance(store, FilesystemStore):
        tampered = url[:-3] + ("AAA" if not url.endswith("AAA") else "BBB")
        other_key = url.replace(url.rsplit("/", 1)[1], "") + FilesystemStore(
            store.root, link_key=b"x" * 32).link("photo/t2/full.jpg", 60).rsplit("/", 1)[1]
    else:
        signature = url.split("X-Amz-Signature=")[1][:64]
        flipped = ("0" if signature[-1] != "0" else "1")
        tampered = url.replace(signature, signature[:-1] + flipped)
        other_key = url.replace("photo/t1/", "photo/t2/")   # same signature, another object
    assert fetch(store, tampered)[0] == 403
    assert fetch(store, other_key)[0] == 403


def test_signature_objects_are_never_overwritten(store):
    first = store.put("signature/s1/full.png", b"original ink", "image/png")
    if isinstance(store, FilesystemStore):
        with pytest.raises(Conflict):
            store.put("signature/s1/full.png", b"forged ink", "image/png")
        assert store.get("signature/s1/full.png") == b"original ink"
        return
    # MinIO: a second write makes a new version; the record reads the version it stored, which stays.
    second = store.put("signature/s1/full.png", b"forged ink", "image/png")
    assert first and second and first != second
    assert store.get("signature/s1/full.png", version=first) == b"original ink"
    assert fetch(store, store.link("signature/s1/full.png", 60, version=first)) == (200, b"original ink")


def test_minio_buckets_are_private_versioned_and_signatures_are_locked(minio_settings):
    from minio.error import S3Error

    store = build_store(minio_settings)
    assert isinstance(store, MinioStore)
    assert store.client.get_bucket_versioning(store.bucket).status == "Enabled"
    assert store.locking, "this MinIO supports object lock; the signatures bucket must use it"
    version = store.put("signature/lock/full.png", b"ink", "image/png")
    retention = store.client.get_object_retention(store.locked_bucket, "signature/lock/full.png", version)
    assert retention.mode == "GOVERNANCE"
    assert retention.retain_until_date > clock.now() + timedelta(days=365)
    with pytest.raises(S3Error):   # the retained version cannot be removed
        store.client.remove_object(store.locked_bucket, "signature/lock/full.png", version_id=version)
    store.put("photo/p/full.jpg", b"x", "image/jpeg")
    for bucket, key in ((store.bucket, "photo/p/full.jpg"), (store.locked_bucket, "signature/lock/full.png")):
        try:   # no anonymous access: only presigned URLs get in
            urllib.request.urlopen(f"http://{minio_settings.s3_endpoint}/{bucket}/{key}", timeout=5)
            raise AssertionError("anonymous read succeeded")
        except urllib.error.HTTPError as exc:
            assert exc.code == 403


def test_presigned_urls_are_signed_for_the_public_host_when_configured(minio_settings):
    store = build_store(minio_settings.with_overrides(s3_public_url="https://files.example.gov.cn"))
    url = store.link("photo/x/full.jpg", 300)
    assert url.startswith("https://files.example.gov.cn/") and "X-Amz-Expires=300" in url


def test_a_minio_that_is_down_is_unavailable_fast(settings, servers):
    from core.errors import Unavailable
    from core.embedded import free_port

    store = build_store(settings.with_overrides(s3_endpoint=f"127.0.0.1:{free_port()}", s3_bucket=_bucket("down"),
                                                s3_access_key="a", s3_secret_key="b"))
    start = time.monotonic()
    with pytest.raises(Unavailable):
        store.put("photo/x/full.jpg", b"x", "image/jpeg")
    with pytest.raises(Unavailable):
        store.check()
    assert time.monotonic() - start < 5
