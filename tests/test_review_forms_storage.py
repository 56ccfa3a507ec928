"""Review findings in forms/ and storage/ that fit no single existing test module."""
from __future__ import annotations

import gc
import tracemalloc

import pytest
from PIL import Image, ImageCms

from storage.images import process_photo
from tests import storage_fixtures as f


def test_embedded_colour_profiles_are_not_kept_after_the_upload():
    """A JPEG may carry an ICC profile of many MB (spread over APP2 segments); each distinct one used to stay in
    the transform cache, bytes and all, for the life of the worker (32 × 14 MB = 450 MB)."""
    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for i in range(6):
            icc = srgb + bytes([i]) * (3 * 1024 * 1024)   # a distinct 3 MB profile each time
            photo = f.jpeg(f.marked_image((64, 64)), icc=icc, gps=False, xmp=False, iptc=False)
            del icc
            full, _ = process_photo(photo, max_pixels=40_000_000)
            del photo, full
        gc.collect()
        kept = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert kept < 4 * 1024 * 1024, f"{kept / 2**20:.1f} MB kept after the uploads"


@pytest.fixture
def form_designer(make_staff, department):
    return make_staff("designer-review", [{"role": "designer", "department_id": department["id"]}])[1]


@pytest.mark.parametrize("body", ["[" * 100_000 + "]" * 100_000, "[" * 900 + "]" * 900,
                                  '{"data": {"a": ' + '{"a": ' * 50_000 + "1" + "}" * 50_000 + "}}"])
def test_json_nested_past_the_parsers_limit_is_400_not_500(client, form_designer, resident_headers, body):
    # 100 KB of brackets, well under the body limits: Python's json raises RecursionError (was a 500).
    for url, headers in (("/api/v1/designer/forms", form_designer),
                         ("/api/v1/designer/forms/any/validate", form_designer),
                         ("/api/v1/forms/any/versions/1/check", resident_headers)):
        r = client.post(url, data=body, headers={**headers, "Content-Type": "application/json"})
        assert r.status_code == 400 and r.json["code"] == "invalid_json", (url, r.status_code, r.json)


def test_two_uploads_racing_with_one_idempotency_key_leave_one_record_and_no_stray_objects(client, settings, tmp_path):
    import threading

    from core.actor import Actor
    from core.errors import Conflict
    from storage import service
    from storage.models import Attachment
    from storage.stores import FilesystemStore

    store = FilesystemStore(tmp_path / "objects")
    actor = Actor(user_id="racer", roles=frozenset({"resident"}))
    photos = [f.jpeg(f.marked_image((300 + 10 * i, 200)), gps=False) for i in range(2)]
    barrier, results = threading.Barrier(2), []

    def go(data):
        barrier.wait()
        try:
            results.append(service.upload(actor, store, settings, kind="photo", stream=data,
                                          idempotency_key="same-key")[1])
        except Conflict as exc:
            results.append(exc.message_key)

    threads = [threading.Thread(target=go, args=(p,)) for p in photos]
    [t.start() for t in threads]
    [t.join() for t in threads]
    assert sorted(map(str, results)) == ["True", "attachment.idempotency_key_reused"], results
    only = Attachment.objects(owner_id="racer").get()
    assert sorted(o.key for o in store.list()) == sorted(v.key for v in only.variants)


def test_a_kept_original_with_its_gps_goes_only_to_its_owner(app, settings, tmp_path):
    import io as _io

    import pytest as _pytest

    from core.actor import Actor
    from core.errors import Invalid
    from storage import service
    from storage.stores import FilesystemStore
    from tests.storage_fixtures import jpeg

    keeping = settings.with_overrides(keep_originals=True)
    store = FilesystemStore(tmp_path / "objects")
    owner = Actor(user_id="resident-1", roles=frozenset({"resident"}))
    admin = Actor(user_id="admin-1", roles=frozenset({"admin"}))
    attachment, _ = service.upload(owner, store, keeping, kind="photo", stream=_io.BytesIO(jpeg(gps=True)))
    assert service.content_url(owner, store, keeping, str(attachment.id), "original")
    assert service.content_url(admin, store, keeping, str(attachment.id), "full")      # the clean copy: yes
    with _pytest.raises(Invalid):
        service.content_url(admin, store, keeping, str(attachment.id), "original")     # the GPS-bearing one: no
