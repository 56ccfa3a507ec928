"""MinIO stopped in the middle of an upload, and an app worker SIGKILLed mid-request (issue 14, item 2), over
servers this test starts and stops itself. (The timer worker SIGKILLed mid-round is tests/test_worker.py's
`test_200_timers_fire_exactly_once_while_workers_are_killed`.)
"""
from __future__ import annotations

import io
import itertools
import os
import random
import signal
import threading
import time
import uuid
from collections import Counter

import pytest
import requests
from PIL import Image

from tests.applications_fixtures import case, good_data  # noqa: F401 — the fixture
from tests.faults import report, zhangban
from tests.servers import MINIO_PASSWORD, MINIO_USER, MinioUnavailable, start_minio
from tests.storage_fixtures import jpeg

pytestmark = pytest.mark.timeout(600)


@pytest.fixture
def own_minio(tmp_path):
    try:
        server = start_minio(tmp_path)
    except MinioUnavailable as exc:
        pytest.skip(f"needs a MinIO server of its own: {exc}")
    holder = {"server": server}
    yield holder
    holder["server"].stop()


def test_minio_stopped_between_the_files_of_an_upload(own_minio, settings, tmp_path, resident_login):
    from api.app import create_app
    from tests.conftest import bearer

    minio = own_minio["server"]
    config = settings.with_overrides(s3_endpoint=minio.endpoint, s3_access_key=MINIO_USER,
                                     s3_secret_key=MINIO_PASSWORD, s3_bucket=f"faults-{uuid.uuid4().hex[:8]}",
                                     storage_gc_grace_seconds=0)
    app = create_app(config)
    app.testing = True
    store = app.extensions["zhangban"].store
    client = app.test_client()
    resident = bearer(resident_login()["access_token"])      # the same database and keys as this app's
    puts, real_put = [], store.put

    def put_then_stop_minio(key, data, content_type):        # the real MinIO goes away after the first file
        if puts:
            minio.stop()
        puts.append(key)
        return real_put(key, data, content_type)

    photo = jpeg(Image.new("RGB", (1200, 900), (30, 120, 200)))
    upload = lambda: client.post(  # noqa: E731
        "/api/v1/attachments", data={"kind": "photo", "file": (io.BytesIO(photo), "p.jpg")},
        content_type="multipart/form-data", headers={**resident, "Idempotency-Key": "photo-1"})
    store.put = put_then_stop_minio
    try:
        with app.app_context():
            r = upload()
    finally:
        store.put = real_put
    assert len(puts) >= 2, "the photo has more than one file (full and thumbnail): the cut is between them"
    assert r.status_code == 503 and r.json["code"] == "unavailable" and r.headers["Retry-After"], r.json

    own_minio["server"] = start_minio(tmp_path, port=minio.port)
    with app.app_context():
        again = upload()
        assert again.status_code == 201, again.json
        left = sorted(o.key for o in store.list("photo/"))
    orphans = [k for k in left if again.json["id"] not in k]
    assert orphans == [puts[0]], (left, puts)              # the first attempt's first file, and nothing else

    gc = zhangban(config, "storage", "gc", "--grace-seconds", "0", s3_endpoint=config.s3_endpoint,
                  s3_access_key=MINIO_USER, s3_secret_key=MINIO_PASSWORD, s3_bucket=config.s3_bucket)
    assert "removed 1 orphans" in gc, gc
    with app.app_context():
        after = sorted(o.key for o in store.list("photo/"))
        assert after and all(again.json["id"] in k for k in after), after
        assert len(after) == len(again.json["variants"]), (after, again.json["variants"])


# -- an app worker SIGKILLed mid-request ------------------------------------------------------------------------

CLIENTS = 3
APPLICATIONS = 24
KILLS = 4


def test_gunicorn_workers_sigkilled_mid_request_lose_and_double_nothing(case, app, settings):
    from tests.perf.measure import Gunicorn
    from workflows.cases.applications.models import Application

    server = Gunicorn(settings, workers=2)
    failures, lock, tickets = Counter(), threading.Lock(), itertools.count()
    done: dict[str, str] = {}

    def call(method, path, headers, **kw):
        """Like a phone: a request cut off with the connection is sent again (same key / same version)."""
        for _ in range(20):
            try:
                r = requests.request(method, server.base + path, headers=headers, timeout=120, **kw)
            except requests.ConnectionError:
                with lock:
                    failures["connection_cut"] += 1
                time.sleep(0.2)
                continue
            if r.status_code >= 500:
                with lock:
                    failures[f"http_{r.status_code}"] += 1
                time.sleep(0.2)
                continue
            return r
        raise AssertionError(f"{method} {path} kept failing")

    def applicant():
        while (n := next(tickets)) < APPLICATIONS:
            key = f"sigkill-{n}"
            r = call("POST", "/api/v1/applications", {**case.resident, "Idempotency-Key": key},
                     json={"service_code": "residence", "data": good_data(), "submit": True})
            assert r.status_code in (200, 201), r.text[:300]
            with lock:
                assert done.setdefault(key, r.json()["id"]) == r.json()["id"], "one key, two applications"

    try:
        server.wait_ready()
        threads = [threading.Thread(target=applicant) for _ in range(CLIENTS)]
        for t in threads:
            t.start()
        killed = 0
        while any(t.is_alive() for t in threads) and killed < KILLS:
            time.sleep(random.Random(killed).uniform(0.3, 1.5))
            pids = server.worker_pids()
            if pids:
                os.kill(random.Random(killed).choice(pids), signal.SIGKILL)   # gunicorn forks a new one
                killed += 1
        for t in threads:
            t.join(300)
        # approvals through the same killing: the approver retries a cut request with the same version
        approvals = Counter()
        for task in case.todo(case.civil_1, page_size=100):
            if random.Random(task["id"]).random() < 0.3 and server.worker_pids():
                threading.Timer(0.05, lambda: os.kill(random.choice(server.worker_pids()), signal.SIGKILL)).start()
            r = call("POST", f"/api/v1/tasks/{task['id']}/complete", case.civil_1,
                     json={"version": task["version"], "decision": "approve"})
            approvals[r.status_code] += 1
    finally:
        server.stop()
    assert len(done) == APPLICATIONS and killed >= 1

    # the servers are stopped: nothing is in flight, so no fence on age
    repaired = report(zhangban(settings, "rebuild-projections", "--min-age-seconds", "0"))
    for task in case.todo(case.civil_1, page_size=100):     # a take cut before the engine ran is open again
        case.act(case.civil_1, task)
    with app.app_context():
        per_key = Counter(a.idempotency_key for a in Application.objects(idempotency_key__startswith="sigkill-"))
        assert len(per_key) == APPLICATIONS and set(per_key.values()) == {1}, per_key
    rechecks = case.todo(case.housing_1, page_size=100)
    assert sorted(t["application_id"] for t in rechecks) == sorted(done.values()), (repaired, failures, approvals)
    for app_id in done.values():
        timeline = case.application(app_id)["timeline"]
        assert [e["action"] for e in timeline].count("approved") == 1, timeline
