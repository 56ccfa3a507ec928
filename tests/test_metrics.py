"""/metrics (issue 14, item 5): Prometheus' text format, requests by URL rule and status with latency histograms,
engine action time and incidents by process version, uploads and image time, timer lag and outbox depth; only
for the addresses in ZHANGBAN_METRICS_ALLOW; and under gunicorn the workers' counts add up."""
from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import time
import urllib.request
from datetime import timedelta

import pytest
from bson import ObjectId
from prometheus_client.parser import text_string_to_metric_families

from core import clock
from core.db import database
from core.embedded import free_port
from tests.storage_fixtures import jpeg
from tests.workflows_fixtures import BASE, upload


def _samples(text: str) -> dict:
    """{(sample name, frozenset of labels): value}"""
    return {(s.name, frozenset(s.labels.items())): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def _scrape(client) -> dict:
    r = client.get("/metrics")
    assert r.status_code == 200 and r.content_type.startswith("text/plain")
    return _samples(r.get_data(as_text=True))


def _value(samples: dict, name: str, **labels) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def test_requests_are_counted_by_url_rule_and_status_with_latency(client, resident_headers):
    before = _scrape(client)
    app_id = str(ObjectId())
    for _ in range(3):
        assert client.get(f"/api/v1/applications/{app_id}", headers=resident_headers).status_code == 404
    assert client.get("/no/such/path").status_code == 404
    text = client.get("/metrics").get_data(as_text=True)
    after = _samples(text)
    route = "/api/v1/applications/<app_id>"
    key = dict(method="GET", route=route, status="404")
    assert _value(after, "zhangban_http_requests_total", **key) - _value(before, "zhangban_http_requests_total", **key) == 3
    assert app_id not in text                                   # the rule, never the raw path
    assert _value(after, "zhangban_http_requests_total", method="GET", route="<unmatched>", status="404") >= 1
    count = _value(after, "zhangban_http_request_seconds_count", method="GET", route=route)
    assert count - _value(before, "zhangban_http_request_seconds_count", method="GET", route=route) == 3
    assert _value(after, "zhangban_http_request_seconds_bucket", method="GET", route=route, le="+Inf") == count


def test_metrics_answer_only_the_allowed_addresses(client):
    r = client.get("/metrics", environ_base={"REMOTE_ADDR": "203.0.113.9"})
    assert r.status_code == 404 and r.json["code"] == "not_found" and set(r.json) == {
        "code", "message", "errors", "request_id"}
    assert client.get("/metrics", environ_base={"REMOTE_ADDR": "::1"}).status_code == 200


def test_metrics_allow_is_checked_at_start_up():
    from core.settings import ConfigError, from_env

    assert from_env({"ZHANGBAN_METRICS_ALLOW": "10.0.0.0/8, 192.168.1.7"}).metrics_allow == (
        "10.0.0.0/8", "192.168.1.7/32")
    assert from_env({"ZHANGBAN_METRICS_ALLOW": "none"}).metrics_allow == ()
    with pytest.raises(ConfigError, match="ZHANGBAN_METRICS_ALLOW: 'ten' is not an address"):
        from_env({"ZHANGBAN_METRICS_ALLOW": "ten"})


def test_engine_time_and_incidents_by_process_version(client, make_staff, department):
    _, designer = make_staff("designer-m", [{"role": "designer", "department_id": department["id"]}])
    head = ('<?xml version="1.0" encoding="UTF-8"?><bpmn:definitions '
            'xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d" targetNamespace="http://x">'
            '<bpmn:process id="metered" isExecutable="true"><bpmn:startEvent id="start"/>')
    xml = (head + '<bpmn:scriptTask id="divide"><bpmn:script>x = 1 / n</bpmn:script></bpmn:scriptTask>'
           '<bpmn:endEvent id="end"/><bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="divide"/>'
           '<bpmn:sequenceFlow id="f2" sourceRef="divide" targetRef="end"/></bpmn:process></bpmn:definitions>')
    upload(client, designer, department["id"], "metered", xml)
    assert client.post(f"{BASE}/metered/publish", headers=designer).status_code == 201
    before = _scrape(client)
    url = f"{BASE}/metered/versions/1/test-runs"
    assert client.post(url, json={"data": {"n": 2}}, headers=designer).status_code == 201
    assert client.post(url, json={"data": {"n": 0}}, headers=designer).status_code == 422
    after = _scrape(client)
    runs = dict(process="metered@1", action="start")
    assert _value(after, "zhangban_engine_action_cpu_seconds_count", **runs) - _value(
        before, "zhangban_engine_action_cpu_seconds_count", **runs) == 2
    assert _value(after, "zhangban_engine_action_cpu_seconds_sum", **runs) > 0
    incidents = dict(process="metered@1", kind="error")
    assert _value(after, "zhangban_engine_incidents_total", **incidents) - _value(
        before, "zhangban_engine_incidents_total", **incidents) == 1


def test_uploads_and_image_time(client, resident_headers):
    before = _scrape(client)
    photo = jpeg()
    for data in (photo, photo, b"not an image at all"):
        client.post("/api/v1/attachments", data={"kind": "photo", "file": (io.BytesIO(data), "id.jpg")},
                    headers=resident_headers, content_type="multipart/form-data")
    after = _scrape(client)

    def delta(name, **labels):
        return _value(after, name, **labels) - _value(before, name, **labels)

    assert delta("zhangban_uploads_total", kind="photo", outcome="stored") == 1
    assert delta("zhangban_uploads_total", kind="photo", outcome="existing") == 1      # the same bytes again
    refused = {dict(labels)["outcome"]: v for (name, labels), v in after.items()
               if name == "zhangban_uploads_total" and dict(labels)["kind"] == "photo"
               and dict(labels)["outcome"] not in ("stored", "existing")}
    assert sum(refused.values()) - sum(_value(before, "zhangban_uploads_total", kind="photo", outcome=o)
                                       for o in refused) == 1
    assert delta("zhangban_upload_bytes_total", kind="photo") > 0
    assert delta("zhangban_image_seconds_count", kind="photo") == 2     # the stored one and the refused one
    assert delta("zhangban_image_seconds_sum", kind="photo") > 0


def test_timer_lag_outbox_depth_and_the_workers_queues_are_read_at_scrape_time(client):
    now = clock.now()
    db = database()
    db["process_instances"].insert_one({"key": "k", "process_version": 1, "status": "running", "state_json": "{}",
                                        "next_timer_at": now - timedelta(seconds=90)})
    db["process_instances"].insert_one({"key": "k", "process_version": 1, "status": "running", "state_json": "{}",
                                        "next_timer_at": now + timedelta(hours=1)})
    db["notifications"].insert_many([{"kind": "submitted", "user_id": "u", "wechat_status": "pending",
                                      "next_attempt_at": now - timedelta(seconds=s)} for s in (30, 5)])
    db["notifications"].insert_one({"kind": "submitted", "user_id": "u", "wechat_status": "sent",
                                    "next_attempt_at": now - timedelta(hours=1)})
    db["applications"].insert_many([{"applicant_id": "u", "service_code": "s", "status": "approved",
                                      "documents_due_at": now - timedelta(seconds=40),
                                      "stats_due_at": now - timedelta(seconds=s)} for s in (20, 3)])
    found = _scrape(client)
    assert _value(found, "zhangban_results_due") == 2 and 40 <= _value(found, "zhangban_results_lag_seconds") < 100
    assert _value(found, "zhangban_stats_due") == 2 and 20 <= _value(found, "zhangban_stats_lag_seconds") < 80
    assert _value(found, "zhangban_timers_due") == 1
    assert 90 <= _value(found, "zhangban_timers_lag_seconds") < 150
    assert _value(found, "zhangban_outbox_due") == 2
    assert 30 <= _value(found, "zhangban_outbox_lag_seconds") < 90


# -- under gunicorn: two workers, one count --------------------------------------------------------------------

@pytest.fixture
def served(servers, tmp_path):
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ZHANGBAN_", "PROMETHEUS_"))}
    env.update(ZHANGBAN_DATA_DIR=str(tmp_path / "var"), ZHANGBAN_LOG_LEVEL="WARNING",
               PROMETHEUS_MULTIPROC_DIR=str(tmp_path / "metrics"),
               ZHANGBAN_MONGODB_URI=f"{servers['mongo_uri']}/zb_metrics_test")
    with open(tmp_path / "serve.log", "ab") as out:
        process = subprocess.Popen([sys.executable, "-m", "api", "serve", "--port", str(port), "--workers", "2"],
                                   env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if _get(port, "/readyz")[0] == 200:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline or process.poll() is not None:
                pytest.fail(f"zhangban serve did not get ready: {(tmp_path / 'serve.log').read_text()[-2000:]}")
            time.sleep(0.3)
        yield port, tmp_path / "metrics"
    finally:
        try:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(30)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(30)


def _get(port, path):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=20) as response:
        return response.status, response.read().decode()


def test_under_gunicorn_the_workers_counts_add_up(served):
    from concurrent.futures import ThreadPoolExecutor

    port, directory = served
    sent, writers, killed = 0, set(), None
    with ThreadPoolExecutor(8) as pool:
        while len(writers) < 2 and sent < 400:
            assert set(pool.map(lambda _: _get(port, "/healthz")[0], range(20))) == {200}
            sent += 20
            writers = {p.stem.rsplit("_", 1)[-1] for p in directory.glob("counter_*.db")}
            if len(writers) == 1 and killed is None:
                # one worker took every connection (the kernel's choice): kill it, so that its counts must
                # survive in its file and the worker gunicorn forks in its place counts the rest
                killed = writers.pop()
                os.kill(int(killed), signal.SIGKILL)
                time.sleep(1)
                writers = {killed}
    # at least two processes counted requests, each in its own file; three when a worker was killed and both
    # the other and its replacement then took connections in the same batch
    assert len(writers) >= 2, writers
    status, text = _get(port, "/metrics")
    assert status == 200
    healthz = _value(_samples(text), "zhangban_http_requests_total", method="GET", route="/healthz", status="200")
    assert healthz == sent                   # one worker answered the scrape; the count is both workers'
