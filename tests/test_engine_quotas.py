"""Engine CPU as a budget (issue 14, item 1): a designer account's test runs within a CPU budget per minute and a
number of actions at once (429 with Retry-After past either, counted in MongoDB so every worker and instance
sees the same count), and a breaker per published process version that suspends new submissions (503 naming the
service) after repeated CPU or step limit hits, which its designers see and an admin lifts."""
from __future__ import annotations

import pytest

from core import clock
from core.db import database
from workflows.bpmn import instances, quotas
from workflows.bpmn.engine import Engine
from workflows.bpmn.limits import Limits
from workflows.bpmn.sandbox import Sandbox
from tests.applications_fixtures import APPLY_FORM, good_data, publish_form, publish_process, publish_service
from tests.workflows_fixtures import BASE

HEAD = ('<?xml version="1.0" encoding="UTF-8"?><bpmn:definitions '
        'xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d" targetNamespace="http://x">')


def _loop(pid: str, bound: str) -> str:
    """start → init (k = 0) → count (k += 1) → again: back to count while `bound`, else end."""
    flows = [("f1", "start", "init", None), ("f2", "init", "count", None), ("f3", "count", "again", None),
             ("back", "again", "count", bound), ("done", "again", "end", None)]
    body = "".join(
        f'<bpmn:sequenceFlow id="{i}" sourceRef="{s}" targetRef="{t}">'
        + (f"<bpmn:conditionExpression>{c.replace('<', '&lt;')}</bpmn:conditionExpression>" if c else "")
        + "</bpmn:sequenceFlow>" for i, s, t, c in flows)
    return (f'{HEAD}<bpmn:process id="{pid}" isExecutable="true"><bpmn:startEvent id="start"/>'
            '<bpmn:scriptTask id="init"><bpmn:script>k = 0</bpmn:script></bpmn:scriptTask>'
            '<bpmn:scriptTask id="count"><bpmn:script>k = k + 1</bpmn:script></bpmn:scriptTask>'
            '<bpmn:exclusiveGateway id="again" default="done"/><bpmn:endEvent id="end"/>'
            f'{body}</bpmn:process></bpmn:definitions>')


@pytest.fixture
def designer(make_staff, department):
    user, headers = make_staff("designer-loops", [{"role": "designer", "department_id": department["id"]}])
    return str(user.id), headers


@pytest.fixture
def policy(monkeypatch):
    def set_policy(**values):
        monkeypatch.setattr(quotas, "_policy", quotas.Policy(**values))
    return set_policy


def _test_run(client, headers, key, expect=None):
    r = client.post(f"{BASE}/{key}/versions/1/test-runs", json={"data": {}}, headers=headers)
    if expect is not None:
        assert r.status_code == expect, r.json
    return r


def _test_runs() -> int:
    return database()["process_instances"].count_documents({"is_test": True})


# -- the account budget ----------------------------------------------------------------------------------------

def test_an_account_past_its_cpu_budget_gets_429_with_retry_after_and_nothing_runs(
        client, designer, department, policy):
    user_id, headers = designer
    policy(cpu_ms_per_minute=100)
    publish_process(client, headers, department["id"], "loop", _loop("loop", "k < 300"))
    for attempt in range(60):
        r = _test_run(client, headers, "loop")
        if r.status_code == 429:
            break
        assert r.status_code == 201 and r.json["status"] == "completed", r.json
    else:
        pytest.fail("the budget never ran out")
    assert attempt >= 1                      # the first run was under budget
    assert r.json["code"] == "too_many_requests" and r.json["errors"] == []
    retry = int(r.headers["Retry-After"])
    assert 1 <= retry <= quotas.WINDOW + quotas.BUCKET   # spending counts for 60–70 s (10-second buckets)
    assert f"{retry} 秒后重试" in r.json["message"]     # zh-CN by default
    runs = _test_runs()
    assert runs == attempt                   # the refused run never started
    spent = sum(database()["engine_quotas"].find_one({"_id": f"account:{user_id}"})["cpu"].values())
    assert spent >= 100                      # what the runs cost, counted in MongoDB
    written = database()["engine_quotas"].find_one({"_id": f"account:{user_id}"})
    r = client.post(f"{BASE}/loop/versions/1/test-runs", json={"data": {}},
                    headers={**headers, "Accept-Language": "en"})
    assert r.status_code == 429 and "engine CPU" in r.json["message"] and _test_runs() == runs
    assert 1 <= int(r.headers["Retry-After"]) <= retry
    # a spent budget cannot come back before Retry-After: refused again without a write to MongoDB
    assert database()["engine_quotas"].find_one({"_id": f"account:{user_id}"}) == written


def test_retry_after_says_when_the_oldest_spending_leaves_the_minute(client, designer, department, policy):
    user_id, headers = designer
    policy(cpu_ms_per_minute=1000)
    publish_process(client, headers, department["id"], "loop", _loop("loop", "k < 3"))
    now = clock.now().timestamp()
    old = int((now - 52) // quotas.BUCKET * quotas.BUCKET)     # leaves the minute 8–18 s from now
    database()["engine_quotas"].insert_one({"_id": f"account:{user_id}", "leases": {},
                                            "cpu": {str(old): 900, str(old + 20): 200, str(old - 600): 5000}})
    r = _test_run(client, headers, "loop", 429)
    assert abs(int(r.headers["Retry-After"]) - (old + quotas.BUCKET + 60 - now)) <= 2
    assert str(old - 600) not in database()["engine_quotas"].find_one({"_id": f"account:{user_id}"})["cpu"]


def test_actions_running_elsewhere_count_toward_the_accounts_limit_until_their_lease_runs_out(
        client, designer, department, policy):
    user_id, headers = designer
    policy(concurrent_actions=2)
    publish_process(client, headers, department["id"], "loop", _loop("loop", "k < 3"))
    now = clock.now().timestamp()
    quota = database()["engine_quotas"]
    # two actions of this account run in other workers (or app instances) right now
    quota.insert_one({"_id": f"account:{user_id}", "leases": {"w1": now + 60, "w2": now + 60}, "cpu": {}})
    r = _test_run(client, headers, "loop", 429)
    assert r.headers["Retry-After"] == "1" and "2" in r.json["message"] and _test_runs() == 0
    # one of them ends: this one runs, and gives its own lease back
    quota.update_one({"_id": f"account:{user_id}"}, {"$unset": {"leases.w2": ""}})
    assert _test_run(client, headers, "loop", 201).json["status"] == "completed"
    assert set(quota.find_one({"_id": f"account:{user_id}"})["leases"]) == {"w1"}
    # a worker killed mid-action never gives its lease back: it stops counting when the lease runs out
    quota.update_one({"_id": f"account:{user_id}"}, {"$set": {"leases.w2": now + 60, "leases.w1": now - 1}})
    _test_run(client, headers, "loop", 201)
    assert set(quota.find_one({"_id": f"account:{user_id}"})["leases"]) == {"w2"}   # the dead one is gone


def test_another_accounts_spending_does_not_count(client, designer, department, make_staff, policy):
    user_id, headers = designer
    policy(cpu_ms_per_minute=100)
    publish_process(client, headers, department["id"], "loop", _loop("loop", "k < 3"))
    now = clock.now().timestamp()
    database()["engine_quotas"].insert_one({"_id": "account:someone-else", "leases": {},
                                            "cpu": {str(int(now // 10 * 10)): 10_000}})
    assert _test_run(client, headers, "loop", 201).json["status"] == "completed"


# -- the per-version breaker -----------------------------------------------------------------------------------

@pytest.fixture
def looping_service(client, make_staff, department, resident_headers, monkeypatch, policy):
    """A published service whose process loops past the step limit (50 here) on every submission."""
    monkeypatch.setattr(instances, "ENGINE", Engine(Sandbox(Limits(max_steps=50))))
    policy(breaker_hits=2, breaker_window_seconds=600, breaker_accounts=1)   # one account opens it (below: several)
    _, designer = make_staff("designer-svc", [{"role": "designer", "department_id": department["id"]}])
    publish_form(client, designer, department["id"], "residence_apply", APPLY_FORM)
    publish_process(client, designer, department["id"], "looping", _loop("looping", "k < 100000"))
    publish_service(client, designer, "loopy", department["id"], "residence_apply", "looping", name="居住证申领")
    return designer


def _submit(client, headers, expect):
    r = client.post("/api/v1/applications", json={"service_code": "loopy", "data": good_data(), "submit": True},
                    headers=headers)
    assert r.status_code == expect, r.json
    return r


def test_a_version_that_keeps_hitting_limits_is_suspended_and_an_admin_resumes_it(
        client, looping_service, resident_headers, admin_headers):
    designer = looping_service
    for _ in range(2):
        assert _submit(client, resident_headers, 503).json["message"] == "该事项的办理流程暂时出错，请稍后再试"
    breaker = client.get(f"{BASE}/looping/versions/1/breaker", headers=designer)
    assert breaker.status_code == 200 and breaker.json["open"] is True
    hits = breaker.json["hits"]
    assert [(h["kind"], h["action"]) for h in hits] == [("timeout", "start")] * 2
    assert {h["element_id"] for h in hits} <= {"count", "again"}     # the element the loop stopped at
    assert "50 steps" in breaker.json["hits"][0]["message"]
    # suspended: refused before the engine runs, naming the service
    r = _submit(client, resident_headers, 503)
    assert r.json["code"] == "unavailable" and "居住证申领" in r.json["message"]
    assert r.json["errors"][0]["path"] == "/service_code" and r.json["errors"][0]["code"] == "service_suspended"
    assert len(client.get(f"{BASE}/looping/versions/1/breaker", headers=designer).json["hits"]) == 2   # no run
    r = client.post("/api/v1/applications", json={"service_code": "loopy", "data": good_data(), "submit": True},
                    headers={**resident_headers, "Accept-Language": "en"})
    assert r.status_code == 503 and '"居住证申领" is suspended' in r.json["message"]
    assert database()["applications"].count_documents({}) == 0
    assert database()["audit"].count_documents({"action": "process.version.suspend"}) == 1
    # the designer sees it, but only an admin lifts it
    assert client.post(f"{BASE}/looping/versions/1/breaker/close", headers=designer).status_code == 403
    r = client.post(f"{BASE}/looping/versions/1/breaker/close", headers=admin_headers)
    assert r.status_code == 200 and r.json["open"] is False and r.json["closed_at"]
    assert database()["audit"].count_documents({"action": "process.version.resume"}) == 1
    # submissions run again; the hits before the admin's decision no longer count
    _submit(client, resident_headers, 503)
    assert client.get(f"{BASE}/looping/versions/1/breaker", headers=designer).json["open"] is False


def test_designers_test_runs_do_not_open_the_breaker(client, looping_service, resident_headers):
    for _ in range(3):
        r = _test_run(client, looping_service, "looping", 422)
        assert r.json["errors"][0]["code"] == "timeout"
    assert client.get(f"{BASE}/looping/versions/1/breaker", headers=looping_service).json["hits"] == []
    _submit(client, resident_headers, 503)     # still runs (and fails) rather than being refused
    assert client.get(f"{BASE}/looping/versions/1/breaker", headers=looping_service).json["open"] is False


def test_another_departments_designer_cannot_see_the_breaker(client, looping_service, make_department, make_staff):
    other = make_department("housing", "住建局")
    _, headers = make_staff("designer-housing", [{"role": "designer", "department_id": other["id"]}])
    assert client.get(f"{BASE}/looping/versions/1/breaker", headers=headers).status_code in (403, 404)
