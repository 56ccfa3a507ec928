"""Login + GET /me, 1,000 times: in-process (Flask test client) and over HTTP through gunicorn.

Writes tests/perf/results/auth_login_me.json. argon2id verification dominates the login by design.
"""
from __future__ import annotations

import base64
import os
import secrets
import subprocess
import sys
import time

import requests

from core.embedded import free_port
from tests.perf.report import percentiles, timed, write_result

ROUNDS = int(os.environ.get("ZB_BENCH_ROUNDS", "1000"))
PASSWORD = "bench password 2026"


def _login_and_me(post, get):
    def once():
        r = post("/api/v1/auth/login", {"username": "bench", "password": PASSWORD})
        token = r["access_token"]
        me = get("/api/v1/me", {"Authorization": f"Bearer {token}"})
        assert me["username"] == "bench"
    return once


def test_login_and_me(app, make_staff, settings, servers):
    make_staff("bench", [], password=PASSWORD)
    client = app.test_client()
    in_process = timed(_login_and_me(lambda p, j: client.post(p, json=j).json,
                                     lambda p, h: client.get(p, headers=h).json), ROUNDS)

    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("ZHANGBAN_")}
    env.update({"ZHANGBAN_MONGODB_URI": settings.mongodb_uri, "ZHANGBAN_DATA_DIR": str(settings.data_dir),
                "ZHANGBAN_TOKEN_KEY": base64.urlsafe_b64encode(settings.token_key).decode(),
                "ZHANGBAN_PII_KEY": base64.urlsafe_b64encode(settings.pii_key).decode(),
                "ZHANGBAN_LOG_LEVEL": "WARNING"})
    gunicorn = subprocess.Popen([sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{port}", "--workers", "2",
                                 "--no-control-socket", "wsgi:app"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        http = requests.Session()
        base = f"http://127.0.0.1:{port}"
        # A busy machine starts gunicorn slowly and answers late: wait (a read timeout is not a failure), and
        # report what could not be measured rather than fail — benchmarks report, they do not judge.
        deadline, ready = time.monotonic() + 120, False
        while not ready and time.monotonic() < deadline:
            try:
                ready = http.get(base + "/healthz", timeout=10).ok
            except requests.RequestException:
                time.sleep(0.5)
        over_http = timed(_login_and_me(lambda p, j: http.post(base + p, json=j, timeout=120).json(),
                                        lambda p, h: http.get(base + p, headers=h, timeout=120).json()),
                          ROUNDS) if ready else None
    finally:
        gunicorn.terminate()
        gunicorn.wait(30)
    write_result("auth_login_me", {"rounds": ROUNDS, "in_process": percentiles(in_process),
                                   "gunicorn_2_workers": percentiles(over_http) if over_http
                                   else "not measured: gunicorn did not answer within 120 s",
                                   "note": "one round = POST /auth/login (argon2id verify) + GET /me"})
