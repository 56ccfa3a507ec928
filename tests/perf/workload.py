"""A mixed workload of phones over HTTP for the load and soak benchmarks (tests/perf/test_load_soak.py).

Residents: log in with WeChat (the fake server), refresh their token, read the catalogue and a service, upload a
photo and submit an application with it, read their applications. Approvers: read 待办 and approve. Each request
is timed and counted under its route template (`POST /api/v1/tasks/{id}/complete`), with its status.
"""
from __future__ import annotations

import io
import os
import random
import threading
import time
from collections import Counter, defaultdict

import requests
from PIL import Image

from tests.perf.report import percentiles
from tests.storage_fixtures import jpeg

TIMEOUT = 300


class Tally:
    def __init__(self):
        self.lock = threading.Lock()
        self.ms: dict[str, list[float]] = defaultdict(list)
        self.status: dict[str, Counter] = defaultdict(Counter)
        self.client_errors: Counter = Counter()

    def add(self, route: str, status: int, ms: float):
        with self.lock:
            self.ms[route].append(ms)
            self.status[route][status] += 1

    def server_errors(self) -> int:
        return sum(n for c in self.status.values() for s, n in c.items() if s >= 500)

    def summary(self) -> dict:
        with self.lock:
            return {route: {**percentiles(self.ms[route]), "status": dict(self.status[route])}
                    for route in sorted(self.ms)}


class Phone:
    """One client: a requests.Session, its tokens, and what it does next."""

    def __init__(self, base: str, tally: Tally, rnd: random.Random):
        self.base, self.tally, self.rnd = base, tally, rnd
        self.http = requests.Session()
        self.tokens: dict = {}

    def call(self, method: str, route: str, path: str, **kw):
        headers = {**kw.pop("headers", {}), **({"Authorization": f"Bearer {self.tokens['access_token']}"}
                                               if self.tokens else {})}
        started = time.perf_counter()
        try:
            r = self.http.request(method, self.base + path, headers=headers, timeout=TIMEOUT, **kw)
        except requests.RequestException as exc:
            self.tally.client_errors[type(exc).__name__] += 1
            return None
        self.tally.add(f"{method} {route}", r.status_code, (time.perf_counter() - started) * 1000)
        return r


class Resident(Phone):
    def __init__(self, base, tally, rnd, wechat, service_code):
        super().__init__(base, tally, rnd)
        self.wechat, self.service_code = wechat, service_code

    def login(self):
        self.tokens = {}
        r = self.call("POST", "/api/v1/auth/wechat", "/api/v1/auth/wechat", json={"code": self.wechat.login_code()})
        if r is not None and r.status_code == 200:
            self.tokens = r.json()

    def step(self):
        if not self.tokens:
            return self.login()
        roll = self.rnd.random()
        if roll < 0.05:
            return self.login()
        if roll < 0.12:
            r = self.call("POST", "/api/v1/auth/refresh", "/api/v1/auth/refresh",
                          json={"refresh_token": self.tokens["refresh_token"]})
            if r is not None and r.status_code == 200:
                self.tokens = r.json()
            return None
        if roll < 0.40:
            self.call("GET", "/api/v1/services", "/api/v1/services?page_size=20")
            return self.call("GET", "/api/v1/services/{code}", f"/api/v1/services/{self.service_code}")
        if roll < 0.55:
            return self.call("GET", "/api/v1/applications", "/api/v1/applications?page_size=20")
        if roll < 0.65:
            return self.upload()
        photo = self.upload()
        if photo is None:
            return None
        return self.call("POST", "/api/v1/applications", "/api/v1/applications",
                         headers={"Idempotency-Key": os.urandom(8).hex()},
                         json={"service_code": self.service_code, "submit": True,
                               "data": {"name": "张三", "months": 12, "photo": photo}})

    def upload(self):
        image = Image.frombytes("RGB", (64, 48), os.urandom(64 * 48 * 3)).resize((640, 480))
        r = self.call("POST", "/api/v1/attachments", "/api/v1/attachments",
                      files={"file": ("p.jpg", io.BytesIO(jpeg(image, quality=75)), "image/jpeg")},
                      data={"kind": "photo"})
        return r.json()["id"] if r is not None and r.status_code in (200, 201) else None


class Approver(Phone):
    def __init__(self, base, tally, rnd, tokens):
        super().__init__(base, tally, rnd)
        self.tokens = dict(tokens)

    def step(self):
        r = self.call("GET", "/api/v1/tasks", "/api/v1/tasks?page_size=20")
        if r is None or r.status_code != 200 or not r.json()["items"]:
            time.sleep(0.2)
            return None
        task = self.rnd.choice(r.json()["items"])
        return self.call("POST", "/api/v1/tasks/{id}/complete", f"/api/v1/tasks/{task['id']}/complete",
                         json={"version": task["version"], "decision": "approve"})

    def refresh(self):
        r = self.call("POST", "/api/v1/auth/refresh", "/api/v1/auth/refresh",
                      json={"refresh_token": self.tokens["refresh_token"]})
        if r is not None and r.status_code == 200:
            self.tokens = r.json()


def drive(phones, seconds: float, think_s: float = 0.0, stop: threading.Event | None = None) -> float:
    """Every phone in its own thread, step after step, for `seconds`; returns the wall time."""
    stop = stop or threading.Event()
    deadline = time.monotonic() + seconds

    def run(phone):
        refreshed = time.monotonic()
        while time.monotonic() < deadline and not stop.is_set():
            phone.step()
            if isinstance(phone, Approver) and time.monotonic() - refreshed > 300:
                phone.refresh()           # access tokens last 15 minutes
                refreshed = time.monotonic()
            if think_s:
                time.sleep(phone.rnd.uniform(0, 2 * think_s))

    started = time.monotonic()
    threads = [threading.Thread(target=run, args=(p,), daemon=True) for p in phones]
    for t in threads:
        t.start()
    for t in threads:
        t.join(seconds + TIMEOUT + 60)
    return time.monotonic() - started
