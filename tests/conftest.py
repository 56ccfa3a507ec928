"""Test harness: real servers started once per run, one app per worker, clean collections per test.

The controlling pytest process starts SecantusDB and MinIO (tests/servers.py) and hands their addresses to the
xdist workers; each worker uses its own database and bucket names, so workers never see each other's data.
"""
from __future__ import annotations

import base64
import os
import secrets
import tempfile
from pathlib import Path

import pytest

from tests.fake_wechat import FakeWeChat
from tests.servers import MINIO_PASSWORD, MINIO_USER, TestServers

WORKER = os.environ.get("PYTEST_XDIST_WORKER", "main")


# The tests whose outcome depends on the day or the hour in China (numbers, licences, statistics days, ID-number
# birth dates, policy periods, working days, deadlines and reminders, dates in conditions and scripts). They carry
# the `dates` marker: CI runs them a second time under TZ=Asia/Shanghai (`pytest -m dates`; the README's Tests).
DATE_TESTS = frozenset({
    "test_china_time.py", "test_china_time_rule.py", "test_forms_formats.py", "test_forms_compiler.py",
    "test_applications_races.py", "test_results.py", "test_materials.py", "test_stats.py", "test_policies.py",
    "test_demo_policy.py", "test_clock_calendar.py", "test_clock_calendar_years.py", "test_clock_deadlines.py",
    "test_clock_reminders.py", "test_sandbox.py", "test_task_data.py",
})


def pytest_collection_modifyitems(config, items):
    for item in items:
        if item.path.name in DATE_TESTS:
            item.add_marker(pytest.mark.dates)


def _is_worker(config) -> bool:
    return hasattr(config, "workerinput")


def pytest_configure(config):
    if _is_worker(config):
        return
    config._zhangban_servers = TestServers().start()
    os.environ["ZB_TEST_MONGO_URI"] = config._zhangban_servers.mongo.uri
    os.environ["ZB_TEST_MINIO"] = config._zhangban_servers.minio.endpoint if config._zhangban_servers.minio else ""
    os.environ["ZB_TEST_MINIO_ERROR"] = config._zhangban_servers.minio_error or ""


def pytest_unconfigure(config):
    servers = getattr(config, "_zhangban_servers", None)
    if servers:
        servers.stop()


def _key() -> str:
    return base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()


@pytest.fixture(scope="session")
def servers():
    """Where this run's servers listen (the environment is inherited by xdist workers)."""
    return {"mongo_uri": os.environ["ZB_TEST_MONGO_URI"], "minio": os.environ.get("ZB_TEST_MINIO") or None,
            "minio_error": os.environ.get("ZB_TEST_MINIO_ERROR") or None,
            "minio_user": MINIO_USER, "minio_password": MINIO_PASSWORD}


@pytest.fixture(scope="session")
def minio_endpoint(servers):
    if not servers["minio"]:
        pytest.skip(f"needs a real MinIO server: {servers['minio_error']}")
    return servers["minio"]


@pytest.fixture(scope="session")
def fake_wechat():
    fake = FakeWeChat().start()
    yield fake
    fake.stop()


@pytest.fixture(scope="session")
def settings(servers, fake_wechat, tmp_path_factory):
    from core.settings import Settings, _parse_key

    return Settings(env="test", data_dir=tmp_path_factory.mktemp("var"),
                    mongodb_uri=f"{servers['mongo_uri']}/zb_test_{WORKER}",
                    token_key=_parse_key("TOKEN_KEY", _key()), pii_key=_parse_key("PII_KEY", _key()),
                    wechat_appid=fake_wechat.appid, wechat_secret=fake_wechat.secret,
                    wechat_api_base=fake_wechat.base_url, log_level="WARNING", **UNBRAKED)


# The suite (and the benchmarks) act far more often per resident than a person does; the brakes on floods have
# their own tests (tests/test_flood_limits.py), which set the limits they test.
UNBRAKED = dict(submissions_per_day=1_000_000, drafts_per_day=1_000_000, draft_bytes_per_day=1 << 40,
                ratings_per_day=1_000_000, bad_ratings_per_day=1_000_000, urges_per_day=1_000_000)


@pytest.fixture(scope="session")
def app(settings):
    from api.app import create_app

    application = create_app(settings)
    application.testing = True
    from api import migrations

    migrations.run()          # as a deploy would (api/migrations.py); its record survives the cleaning below
    return application


@pytest.fixture(autouse=True)
def _clean_database(request):
    """Every test starts on empty collections (indexes kept: the Documents created them once)."""
    yield
    if "app" not in request.fixturenames:
        return
    from core import cache, workdays
    from core.db import database

    from workflows.cases.tasks import projection

    projection.clear_lane_cache()   # department ids differ from test to test
    cache.clear_all()               # "form x version 1" is another form in the next test
    workdays.clear_cache()          # a calendar year a test imported is gone with the collections
    db = database()
    for name in db.list_collection_names():
        if not name.startswith("system.") and name != "schema_migrations":
            db[name].delete_many({})


@pytest.fixture
def client(app):
    with app.app_context():
        yield app.test_client()


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def make_staff(app):
    """Create a staff account directly (as the command line would) and return (user, headers)."""
    from api.identity import admin

    def make(username, grants=(), password="correct horse battery"):
        with app.app_context():
            user = admin.create_staff(None, username=username, password=password, grants=list(grants))
            r = app.test_client().post("/api/v1/auth/login", json={"username": username, "password": password})
            assert r.status_code == 200, r.json
            return user, bearer(r.json["access_token"])
    return make


@pytest.fixture
def admin_headers(make_staff):
    return make_staff("root-admin", [{"role": "admin"}])[1]


@pytest.fixture
def make_department(client, admin_headers):
    """Create a department through the admin API and return its JSON."""
    def make(code, name):
        r = client.post("/api/v1/departments", json={"code": code, "name": name}, headers=admin_headers)
        assert r.status_code == 201, r.json
        return r.json
    return make


@pytest.fixture
def department(make_department):
    return make_department("civil", "民政局")


@pytest.fixture
def resident_login(client, fake_wechat):
    """Log a new resident in through the fake WeChat; returns the token response."""
    def login(openid=None, unionid=None):
        r = client.post("/api/v1/auth/wechat", json={"code": fake_wechat.login_code(openid, unionid)})
        assert r.status_code == 200, r.json
        return r.json
    return login


@pytest.fixture
def resident_headers(resident_login):
    return bearer(resident_login()["access_token"])
