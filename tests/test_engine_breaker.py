"""The per-version breaker, attributed per account and half-open (issue 23, item 8): one account whose submissions
keep hitting limits is throttled itself (429 with Retry-After) while everybody else goes on; the version's breaker
opens only when several distinct accounts hit it; after its cool-down one submission goes through, and the breaker
closes when that one runs without a limit hit (or opens again for another cool-down)."""
from __future__ import annotations

from datetime import timedelta

import pytest

from core import clock
from core.db import database
from tests.applications_fixtures import APPLY_FORM, good_data, publish_form, publish_process, publish_service
from tests.conftest import bearer
from tests.test_engine_quotas import _loop, policy  # noqa: F401 (fixture)
from workflows.bpmn import breaker, instances
from workflows.bpmn.engine import Engine
from workflows.bpmn.limits import Limits
from workflows.bpmn.sandbox import Sandbox
from tests.workflows_fixtures import BASE


@pytest.fixture
def heavy_service(client, make_staff, department, monkeypatch, policy):  # noqa: F811
    """A service whose process loops `months × 1000` times: past the step limit (50) unless months is 0."""
    monkeypatch.setattr(instances, "ENGINE", Engine(Sandbox(Limits(max_steps=50))))
    policy(breaker_hits=2, breaker_window_seconds=600, breaker_accounts=2, breaker_cooldown_seconds=300)
    _, designer = make_staff("designer-heavy", [{"role": "designer", "department_id": department["id"]}])
    publish_form(client, designer, department["id"], "residence_apply", APPLY_FORM)
    publish_process(client, designer, department["id"], "heavy", _loop("heavy", "k < months * 1000"))
    publish_service(client, designer, "heavy", department["id"], "residence_apply", "heavy", name="居住证申领")
    breaker.OPEN.forget()
    return designer


def _submit(client, headers, expect, months=12):
    r = client.post("/api/v1/applications", json={"service_code": "heavy", "data": good_data(months=months),
                                                  "submit": True}, headers=headers)
    assert r.status_code == expect, r.json
    return r


def _view(client, designer):
    return client.get(f"{BASE}/heavy/versions/1/breaker", headers=designer).json


def test_one_account_hitting_limits_is_throttled_and_nobody_else_is(client, heavy_service, resident_login):
    flooder = bearer(resident_login()["access_token"])
    for _ in range(2):
        _submit(client, flooder, 503)                            # its runs stop at the step limit
    r = _submit(client, flooder, 429)                            # then this account waits
    assert r.json["code"] == "too_many_requests" and 1 <= int(r.headers["Retry-After"]) <= 300
    view = _view(client, heavy_service)
    assert view["open"] is False and len(view["hits"]) == 2      # the refused one never ran
    assert view["threshold"] == {"hits": 2, "window_seconds": 600, "accounts": 2, "cooldown_seconds": 300}
    other = bearer(resident_login()["access_token"])
    _submit(client, other, 201, months=0)                        # another resident is served


def test_the_breaker_opens_when_several_accounts_hit_it_and_closes_after_a_good_probe(
        client, heavy_service, resident_login, admin_headers):
    first, second, third = (bearer(resident_login()["access_token"]) for _ in range(3))
    _submit(client, first, 503)
    assert _view(client, heavy_service)["open"] is False         # one account alone does not suspend it
    _submit(client, second, 503)
    assert _view(client, heavy_service)["open"] is True          # two accounts: suspended for everybody
    r = _submit(client, third, 503, months=0)
    assert r.json["errors"][0]["code"] == "service_suspended"
    assert database()["audit"].count_documents({"action": "process.version.suspend"}) == 1
    # the cool-down passes: one submission is let through; it hits the limit again, so another cool-down
    breakers = database()["process_breakers"]
    breakers.update_one({}, {"$set": {"opened_at": clock.now() - timedelta(seconds=301)}})
    breaker.OPEN.forget()
    _submit(client, third, 503)                                   # the probe ran (and failed: service_failing)
    assert breakers.find_one()["open"] is True
    assert _submit(client, third, 503, months=0).json["errors"][0]["code"] == "service_suspended"
    # after the next cool-down a probe that runs cleanly closes it
    breakers.update_one({}, {"$set": {"opened_at": clock.now() - timedelta(seconds=301)}})
    breaker.OPEN.forget()
    _submit(client, third, 201, months=0)
    view = _view(client, heavy_service)
    assert view["open"] is False and view["closed_by"] == "half-open"
    _submit(client, bearer(resident_login()["access_token"]), 201, months=0)
    assert database()["audit"].count_documents({"action": "process.version.resume"}) == 1
