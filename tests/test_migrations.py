"""`zhangban migrate` (api/migrations.py): on an empty database and on a previous version's, and a production
process that refuses a database behind its code."""
from __future__ import annotations

import base64
import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

from core import db

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def fresh_database(app, settings, servers):
    """A database of its own for one test (dropped before and after), then back to the shared one."""
    name = f"zb_migrate_{os.getpid()}"
    uri = f"{servers['mongo_uri']}/{name}"
    database = db.connect(settings, uri=uri)
    database.client.drop_database(name)
    yield uri, database
    from api import migrations

    for model in migrations.models():     # what prepare_process turned off is this process's, for every test
        model._meta["auto_create_index"] = True
    database.client.drop_database(name)
    db.connect(settings)


def test_migrate_on_an_empty_database_records_itself_and_builds_every_index(fresh_database):
    from api import migrations

    _, database = fresh_database
    # every room's models, also those the app imports only as it registers their views
    collections = {model._meta["collection"] for model in migrations.models()}
    assert {"users", "ratings", "authorisations", "stats_rollups", "rate_counters", "human_tasks"} <= collections
    result = migrations.run()
    assert result["collections"] == len(collections)
    assert result["applied"] == [number for number, _, _ in migrations.MIGRATIONS]
    assert migrations.applied() == {number for number, _, _ in migrations.MIGRATIONS}
    for model in migrations.models():
        wanted = len(model._meta.get("index_specs") or [])
        built = max(0, len(database[model._meta["collection"]].index_information()) - 1)   # less _id
        assert built >= wanted, model._meta["collection"]
    again = migrations.run()
    assert (again["applied"], again["rebuilt"]) == ([], [])


def test_migrate_brings_a_previous_versions_database_along(fresh_database):
    from api import migrations
    from workflows.cases.tasks.models import HumanTask

    _, database = fresh_database
    # the first audit chain format: a unique index on every seq
    database["audit"].create_index("seq", unique=True, name="seq_1")
    # drafts of the release before sparse number indexes: their number stored as null
    database["applications"].insert_many([{"number": None, "status": "draft"} for _ in range(2)])
    database["applications"].create_index("number", unique=True, name="number_1",
                                          partialFilterExpression={"number": {"$type": "string"}})
    # authorisations stored before they had a status
    database["authorisations"].insert_many([{"kind": "resident"}, {"kind": "on_site", "status": None}])
    # an index of the same name as one of today's, with other options (an older release's)
    spec = HumanTask._meta["index_specs"][0]
    name = "_".join(f"{field}_{direction}" for field, direction in spec["fields"])
    database[HumanTask._meta["collection"]].create_index(spec["fields"], name=name, sparse=not spec.get("sparse"))
    result = migrations.run()
    assert {1, 2, 3} <= set(result["applied"])
    assert database["applications"].count_documents({"number": {"$type": "null"}}) == 0
    assert database["applications"].index_information()["number_1"].get("sparse") is True
    assert sorted(d["status"] for d in database["authorisations"].find()) == ["active", "pending"]
    legacy = database["audit"].index_information().get("seq_1")
    assert legacy is None or not legacy.get("unique") or legacy.get("sparse")
    assert HumanTask._meta["collection"] in result["rebuilt"]
    assert bool(database[HumanTask._meta["collection"]].index_information()[name].get("sparse")) == \
        bool(spec.get("sparse"))


def test_a_production_process_refuses_a_database_behind_its_code_with_one_line(fresh_database, servers, tmp_path):
    uri, _ = fresh_database
    key = base64.b64encode(secrets.token_bytes(32)).decode()
    env = {**os.environ, "ZHANGBAN_ENV": "production", "ZHANGBAN_MONGODB_URI": uri, "ZHANGBAN_TOKEN_KEY": key,
           "ZHANGBAN_PII_KEY": key, "ZHANGBAN_S3_ENDPOINT": "127.0.0.1:9", "ZHANGBAN_DATA_DIR": str(tmp_path)}
    started = subprocess.run([sys.executable, "-c", "import wsgi"], cwd=ROOT, env=env, capture_output=True,
                             text=True, timeout=120)
    assert started.returncode == 3
    [line] = started.stderr.strip().splitlines()
    assert "migration" in line and "zhangban migrate" in line

    from api import migrations

    migrations.run()
    settings = type("Production", (), {"is_production": True})()
    migrations.prepare_process(settings)                      # migrated: it starts
    from workflows.cases.tasks.models import HumanTask

    assert HumanTask._meta["auto_create_index"] is False      # and builds no index of its own
