"""A down MongoDB gives 503 in the error shape, fast, and the app recovers when it comes back."""
from __future__ import annotations

import time

import pytest

from core import db
from core.embedded import start_server


@pytest.fixture
def doomed_database(app, settings, tmp_path):
    """Point the app at a MongoDB of its own for one test, then back at the shared one."""
    server = start_server(tmp_path / "mongo", tmp_path / "mongo.log")
    db.connect(settings, uri=f"{server.uri}/zb_doomed")
    yield server
    server.stop()
    db.connect(settings)


def test_readyz_and_the_api_answer_503_when_mongodb_is_down(client, doomed_database):
    assert client.get("/readyz").status_code == 200
    doomed_database.stop()
    started = time.monotonic()
    ready = client.get("/readyz")
    assert ready.status_code == 503 and ready.json["code"] == "unavailable"
    assert [e["path"] for e in ready.json["errors"]] == ["mongodb"]
    login = client.post("/api/v1/auth/login", json={"username": "a", "password": "b"})
    assert login.status_code == 503 and login.json["code"] == "unavailable"
    assert "Traceback" not in login.get_data(as_text=True) and login.headers["Retry-After"]
    assert time.monotonic() - started < 15


def test_readyz_names_a_broken_object_store_and_stays_ready(client, app, tmp_path):
    """Most endpoints do not need the object store: the pods stay in service, degraded, and say why."""
    from storage.stores import FilesystemStore

    runtime = app.extensions["zhangban"]
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where the store's directory should be")
    original, runtime.store = runtime.store, FilesystemStore(blocker)
    try:
        r = client.get("/readyz")
    finally:
        runtime.store = original
    assert r.status_code == 200 and r.json["status"] == "degraded", r.json
    assert r.json["object_store"].startswith("unavailable") and r.json["mongodb"] == "ok"
