"""What gunicorn refuses before the app sees it comes in the one error shape too (issue 8, item 8): a real
`zhangban serve` (gunicorn with api/gunicorn_conf.py) on a free loopback port, asked over raw HTTP."""
from __future__ import annotations

import http.client
import json
import os
import signal
import subprocess
import sys
import time

import pytest

from core.embedded import free_port


@pytest.fixture(scope="module")
def served(servers, tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("serve")
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("ZHANGBAN_")}
    env.update(ZHANGBAN_DATA_DIR=str(data_dir), ZHANGBAN_LOG_LEVEL="WARNING",
               ZHANGBAN_MONGODB_URI=f"{servers['mongo_uri']}/zb_gunicorn_test")
    log = data_dir / "serve.log"
    with open(log, "ab") as out:
        process = subprocess.Popen([sys.executable, "-m", "api", "serve", "--port", str(port), "--workers", "1"],
                                   env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if _ask(port, "GET", "/readyz")[0] == 200:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline or process.poll() is not None:
                pytest.fail(f"zhangban serve did not get ready: {log.read_text()[-2000:]}")
            time.sleep(0.3)
        yield port
    finally:
        try:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(30)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(30)


def _ask(port, method, path, headers=None):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=20)
    try:
        connection.request(method, path, headers=headers or {})
        response = connection.getresponse()
        return response.status, response.getheader("Content-Type"), response.read()
    finally:
        connection.close()


def _error_shape(body: bytes) -> dict:
    doc = json.loads(body)
    assert set(doc) == {"code", "message", "errors", "request_id"} and doc["request_id"]
    return doc


def test_a_100_kb_query_string_is_414_in_the_error_shape(served):
    status, content_type, body = _ask(served, "GET", "/api/v1/services?q=" + "x" * 100_000)
    assert status == 414 and content_type == "application/json"
    doc = _error_shape(body)
    assert doc["code"] == "uri_too_long" and doc["message"] == "请求地址过长"


def test_a_100_kb_authorization_header_is_431_in_the_error_shape(served):
    status, content_type, body = _ask(served, "GET", "/api/v1/me", {"Authorization": "Bearer " + "x" * 100_000})
    assert status == 431 and content_type == "application/json"
    assert _error_shape(body)["code"] == "headers_too_large"


def test_requests_within_the_limits_still_reach_the_app(served):
    status, content_type, body = _ask(served, "GET", "/api/v1/me", {"Authorization": "Bearer " + "x" * 4000})
    assert status == 401 and _error_shape(body)["code"] == "unauthorized"
