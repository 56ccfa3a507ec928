"""An hour of the app's own write mix on the embedded default (issue 14, item 6): how far does SecantusDB started as
`make run` starts it (`--standalone --sync-on-commit`, core/embedded.py) carry, and does it slow down over time?

The mix, one client after another as fast as it goes (the Flask app in-process, so the database — not gunicorn —
is what is measured): a resident uploads a photo and submits an application (form + attachment + instance + task
projection + timeline + audit + outbox), the approver reads the first page of 待办 and approves; every 25th
application comes from a newly logged-in resident (user + login session), and the approver refreshes the token
every 5 minutes. Beside it a worker thread runs `Worker.run_round()` every 2 s — timers, reminders, deliveries and
the audit sealer — as `zhangban worker` does. Files go to the filesystem store (the embedded default too).

Reported per minute: applications, p50/p95 of each request, and the server's opcounters; at the end, the first
and the last five minutes side by side. Never fails on timing.
Knob: ZB_HOUR_SECONDS (3600). Run:
  ZB_HOUR_SECONDS=3600 .venv/bin/python -m pytest tests/perf/test_embedded_hour.py -q -s --timeout 0
"""
from __future__ import annotations

import io
import os
import threading
import time
from collections import defaultdict

import pytest
from PIL import Image

from core import db
from core.embedded import start_server
from tests.conftest import bearer
from tests.perf.measure import opcounters
from tests.perf.report import percentiles, write_result
from tests.perf.test_applications_bench import SMALL_FORM, _publish
from tests.storage_fixtures import jpeg

SECONDS = float(os.environ.get("ZB_HOUR_SECONDS", "3600"))
NEW_RESIDENT_EVERY = 25
REFRESH_EVERY_S = 300
FORM = {**SMALL_FORM, "required": ["name", "photo"], "properties": {
    **SMALL_FORM["properties"], "photo": {"type": "string", "x-ui": {"widget": "photo", "label": "照片"}}}}


@pytest.fixture
def embedded_default(app, settings, tmp_path):
    """The app on a SecantusDB of its own, started exactly as the embedded default starts it (durable)."""
    server = start_server(tmp_path / "mongo", tmp_path / "mongo.log", durable=True)
    command = server.process.args
    db.connect(settings, uri=f"{server.uri}/zb_hour")
    yield server, command
    db.connect(settings)
    server.stop()


def _ok(response, status=200):
    assert response.status_code == status, (response.status_code, response.get_data(as_text=True)[:300])
    return response.json


def test_an_hour_on_the_embedded_default(embedded_default, app, client, settings, make_staff, make_department,
                                         resident_login):
    from workflows.cases.applications.models import Application
    from workflows.cases.worker import Worker

    server, command = embedded_default
    department = make_department("hour", "一小时局")
    _publish(app, client, make_staff, department, FORM, [("hour", department["id"])])
    make_staff("hour-approver", [{"role": "approver", "department_id": department["id"]}])
    tokens = _ok(client.post("/api/v1/auth/login", json={"username": "hour-approver",
                                                          "password": "correct horse battery"}))
    approver = bearer(tokens["access_token"])

    worker, stop = Worker(idle_seconds=2.0), threading.Event()
    sealed = [0]

    def work():
        with app.app_context():
            while not stop.wait(2.0):
                sealed[0] += worker.run_round().sealed

    ticker = threading.Thread(target=work, daemon=True)
    minutes: dict[int, dict] = defaultdict(lambda: {"applications": 0, "ms": defaultdict(list)})
    errors: list[str] = []
    admin = db.database().client
    ops0, started, refreshed, done = opcounters(admin), time.monotonic(), time.monotonic(), 0
    ops_minute, resident, stuck, task = dict(ops0), None, set(), None
    ticker.start()
    try:
        while time.monotonic() - started < SECONDS:
            minute = int((time.monotonic() - started) // 60)
            bucket = minutes[minute]

            def timed(kind, call):
                t = time.perf_counter()
                out = call()
                bucket["ms"][kind].append((time.perf_counter() - t) * 1000)
                return out

            task = None
            try:
                if done % NEW_RESIDENT_EVERY == 0:
                    resident = bearer(timed("login", resident_login)["access_token"])
                if time.monotonic() - refreshed > REFRESH_EVERY_S:
                    tokens = timed("refresh", lambda: _ok(client.post(
                        "/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]})))
                    approver, refreshed = bearer(tokens["access_token"]), time.monotonic()
                photo = jpeg(Image.frombytes("RGB", (80, 60), os.urandom(80 * 60 * 3)).resize((800, 600)), quality=80)
                upload = timed("upload", lambda: _ok(client.post(
                    "/api/v1/attachments", headers=resident, content_type="multipart/form-data",
                    data={"kind": "photo", "file": (io.BytesIO(photo), "p.jpg")}), 201))
                timed("submit", lambda: _ok(client.post("/api/v1/applications", headers=resident, json={
                    "service_code": "hour", "data": {"name": "张三", "months": 12, "photo": upload["id"]},
                    "submit": True}), 201))
                page = timed("inbox", lambda: _ok(client.get("/api/v1/tasks?page_size=20", headers=approver)))
                task = next(t for t in page["items"] if t["id"] not in stuck)
                timed("approve", lambda: _ok(client.post(f"/api/v1/tasks/{task['id']}/complete", headers=approver,
                                                         json={"version": task["version"], "decision": "approve"})))
                done += 1
                bucket["applications"] += 1
            except AssertionError as exc:       # reported, and the run goes on
                errors.append(f"minute {minute}: {str(exc)[:160]}")
                bucket["errors"] = bucket.get("errors", 0) + 1
                if "task" in locals() and isinstance(task, dict):
                    stuck.add(task["id"])       # an approval cut by an error waits for rebuild-projections
                if len(errors) > 200:
                    break
            if "ops" not in bucket and minute > 0 and minutes.get(minute - 1) is not None \
                    and "ops" not in minutes[minute - 1]:
                now_ops = opcounters(admin)
                minutes[minute - 1]["ops"] = {k: now_ops[k] - ops_minute[k] for k in now_ops}
                ops_minute = now_ops
            if done % 50 == 0:
                _progress(minute, bucket, done)
            if minute and minute % 5 == 0 and minutes.get(minute - 1, {}).get("written") is None:
                minutes[minute - 1]["written"] = True    # an interim file, in case the run is cut short
                write_result("embedded_hour_partial", {"minutes": minute, "applications": done,
                                                       "errors": len(errors), "per_minute": [
                                                           _minute_row(m, minutes[m]) for m in sorted(minutes)]})
    finally:
        stop.set()
        ticker.join(30)
    wall = time.monotonic() - started
    ops1 = opcounters(admin)
    with app.app_context():
        approved = Application.objects(status="approved").count()
        stored = {name: admin.get_default_database()[name].estimated_document_count()
                  for name in sorted(admin.get_default_database().list_collection_names())}
    per_minute = [_minute_row(m, minutes[m]) for m in sorted(minutes)]
    full = [row for row in per_minute if row["minute"] < int(wall // 60)]      # whole minutes only
    window = max(1, min(5, len(full) // 3))
    first, last = full[:window] or per_minute[:1], full[-window:] or per_minute[-1:]
    rate = lambda rows: round(sum(r["applications"] for r in rows) / (60 * len(rows)), 3)  # noqa: E731
    write_result("embedded_hour", {
        "server_command": " ".join(str(c) for c in command[1:]),
        "seconds": round(wall, 1), "applications": done, "approved_in_database": approved,
        "errors": len(errors), "first_errors": errors[:10], "audit_sealed_by_worker": sealed[0],
        "applications_per_s": round(done / wall, 3),
        "first_minutes_applications_per_s": rate(first), "last_minutes_applications_per_s": rate(last),
        "last_over_first": round(rate(last) / rate(first), 3) if rate(first) else None,
        "server_ops_per_application": {k: round((ops1[k] - ops0[k]) / max(done, 1), 2) for k in ops1
                                       if ops1[k] - ops0[k]},
        "documents_at_end": stored,
        "per_minute": per_minute,
        "mix": "per application: a photo upload (a new 800×600 JPEG of noise) + submit + 待办 first page + approve; a new WeChat "
               f"resident every {NEW_RESIDENT_EVERY}; approver token refresh every {REFRESH_EVERY_S} s; a worker "
               "round every 2 s (timers, reminders, deliveries, audit sealing); one client, in-process",
    })
    assert approved >= done


def _minute_row(minute: int, bucket: dict) -> dict:
    row = {"minute": minute, "applications": bucket["applications"], "errors": bucket.get("errors", 0)}
    for kind, samples in bucket["ms"].items():
        p = percentiles(samples)
        row[kind] = {"p50_ms": p["p50_ms"], "p95_ms": p["p95_ms"]}
    if "ops" in bucket:
        row["server_ops"] = {k: v for k, v in bucket["ops"].items() if v}
    return row


def _progress(minute, bucket, done):
    if done % 50 == 0:
        submit = bucket["ms"].get("submit") or [0]
        print(f"minute {minute}: {done} applications, submit p50 {sorted(submit)[len(submit) // 2]:.0f} ms",
              flush=True)
