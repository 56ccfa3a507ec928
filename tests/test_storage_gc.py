"""Orphan objects (a crash between writing the object and writing its record) and `zhangban storage gc`."""
from __future__ import annotations

import io
import uuid

import pytest
from bson import ObjectId

from core import audit
from core.actor import Actor
from core.errors import NotFound
from storage import service
from tests import storage_fixtures as f
from tests.conftest import WORKER


@pytest.fixture(params=["filesystem", "minio"])
def store_app(request, settings, tmp_path):
    """A fresh store per test: objects outlive the records the harness empties after each test."""
    from api.app import create_app

    if request.param == "minio":
        servers = request.getfixturevalue("servers")
        config = settings.with_overrides(s3_endpoint=request.getfixturevalue("minio_endpoint"),
                                         s3_access_key=servers["minio_user"],
                                         s3_secret_key=servers["minio_password"],
                                         s3_bucket=f"att-gc-{WORKER}-{uuid.uuid4().hex[:8]}")
    else:
        config = settings.with_overrides(data_dir=tmp_path)
    application = create_app(config)
    application.testing = True
    return application


@pytest.fixture
def store(store_app, client):
    with store_app.app_context():
        yield store_app.extensions["zhangban"].store


def _live_attachment(store_app, store):
    resident = Actor(user_id=str(ObjectId()), roles=frozenset({"resident"}))
    attachment, created = service.upload(resident, store, store_app.extensions["zhangban"].settings,
                                         kind="photo", stream=io.BytesIO(f.jpeg()))
    assert created
    return attachment


def _orphan(store) -> str:
    """What a crash right after store.put leaves: an object under an attachment id with no record."""
    key = f"photo/{ObjectId()}/full.jpg"
    store.put(key, f.jpeg(), "image/jpeg")
    return key


def test_gc_removes_orphans_after_the_grace_period_and_keeps_live_files(store_app, store):
    attachment = _live_attachment(store_app, store)
    orphan = _orphan(store)

    young = service.gc(store, grace_seconds=3600)
    assert young.removed == 0 and young.young == 1
    assert store.get(orphan)

    dry = service.gc(store, grace_seconds=0, dry_run=True)
    assert dry.removed_keys == [orphan] and store.get(orphan)

    report = service.gc(store, grace_seconds=0)
    assert report.removed_keys == [orphan]
    with pytest.raises(NotFound):
        store.get(orphan)
    for variant in attachment.variants:   # the live attachment's files are untouched
        assert store.get(variant.key, variant.version)
    assert audit.query(action="storage.gc").count() == 1
    assert service.gc(store, grace_seconds=0).removed == 0


def test_the_gc_command(store_app, store):
    from api.cli import cli

    attachment = _live_attachment(store_app, store)
    orphan = _orphan(store)
    runner = store_app.test_cli_runner()
    result = runner.invoke(cli, ["storage", "gc"])
    assert result.exit_code == 0, result.output
    assert "removed 0 orphans" in result.output and "left 1 younger than 3600 s" in result.output
    result = runner.invoke(cli, ["storage", "gc", "--grace-seconds", "0"])
    assert result.exit_code == 0 and "removed 1 orphans" in result.output, result.output
    with pytest.raises(NotFound):
        store.get(orphan)
    assert store.get(attachment.variants[0].key, attachment.variants[0].version)
