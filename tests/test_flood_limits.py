"""Brakes on floods (issue 23, item 6): each limit answers 429 with Retry-After at its limit + 1, counted per account
(another resident goes on) and per client address; a failed-login lockout that nobody can turn against someone
else's account."""
from __future__ import annotations

import pytest

from core import throttle
from core.db import database
from tests.applications_fixtures import case, good_data  # noqa: F401 (fixture)
from tests.conftest import bearer
from tests.stats_fixtures import approve, rate, reject


@pytest.fixture
def limits(monkeypatch):
    """Set some limits' counts (the rest keep their defaults) and the address factor."""
    def set_limits(factor=None, **counts):
        current = dict(throttle.limits())
        for name, count in counts.items():
            current[name] = throttle.Limit(count, current[name].seconds, current[name].message_key)
        monkeypatch.setattr(throttle, "_limits", current)
        if factor is not None:
            monkeypatch.setattr(throttle, "_address_factor", factor)
    return set_limits


def _refused(r, key_text):
    assert r.status_code == 429, r.json
    assert r.json["code"] == "too_many_requests" and set(r.json) == {"code", "message", "errors", "request_id"}
    retry = int(r.headers["Retry-After"])
    assert 1 <= retry <= 86400 and f"{retry} 秒后重试" in r.json["message"] and key_text in r.json["message"]


def _draft(client, headers, data=None, **kw):
    return client.post("/api/v1/applications", json={"service_code": "residence", "data": data or {"name": "张三"},
                                                     "submit": False}, headers=headers, **kw)


def test_submissions_per_resident_and_service_stop_at_the_limit(case, resident_login, limits):
    limits(submissions=2)
    case.submit()
    case.submit()
    r = case.client.post("/api/v1/applications", json={"service_code": "residence", "data": good_data(),
                                                       "submit": True}, headers=case.resident)
    _refused(r, "提交该事项")
    assert database()["applications"].count_documents({}) == 2          # the third never started a process
    other = bearer(resident_login()["access_token"])
    case.submit(headers=other)                                          # counted per account


def test_drafts_stop_at_their_count_and_at_their_bytes(case, resident_login, limits):
    limits(drafts=2, draft_bytes=4000)
    for _ in range(2):
        assert _draft(case.client, case.resident).status_code == 201
    _refused(_draft(case.client, case.resident), "草稿")
    other = bearer(resident_login()["access_token"])
    assert _draft(case.client, other).status_code == 201
    r = _draft(case.client, other, {"name": "张" * 1500})              # 4,500 bytes of UTF-8: past the day's bytes
    _refused(r, "草稿内容")
    assert database()["applications"].count_documents({"status": "draft"}) == 3


def test_urges_across_cases_stop_at_the_limit(case, limits):
    limits(urges=1)
    first, second = case.submit(), case.submit()
    assert case.client.post(f"/api/v1/applications/{first['id']}/urge", headers=case.resident).status_code == 200
    r = case.client.post(f"/api/v1/applications/{second['id']}/urge", headers=case.resident)
    _refused(r, "催办")


def test_bad_ratings_stop_at_the_limit_and_a_case_has_one_follow_up(case, limits):
    limits(bad_ratings=1)
    one, two = case.submit(), case.submit()
    reject(case, one)
    reject(case, two)
    rate(case, one["id"], 1, comment="差")
    rate(case, one["id"], 1, expect=409)                                # one rating, one follow-up per case
    r = case.client.post(f"/api/v1/applications/{two['id']}/rating", json={"score": 1}, headers=case.resident)
    _refused(r, "差评")
    assert database()["human_tasks"].count_documents({"kind": "rating_followup"}) == 1
    rate(case, two["id"], 5)                                            # a good rating still counts as a rating


def test_ratings_stop_at_the_limit(case, limits):
    limits(ratings=1)
    one, two = case.submit(), case.submit()
    approve(case, one)
    approve(case, two)
    rate(case, one["id"], 5)
    _refused(case.client.post(f"/api/v1/applications/{two['id']}/rating", json={"score": 4},
                              headers=case.resident), "评价")


def test_one_address_is_counted_across_accounts(case, resident_login, limits):
    limits(drafts=1, factor=2)
    here = {"environ_base": {"REMOTE_ADDR": "10.1.2.3"}}
    residents = [bearer(resident_login()["access_token"]) for _ in range(3)]
    assert _draft(case.client, residents[0], **here).status_code == 201
    assert _draft(case.client, residents[1], **here).status_code == 201
    _refused(_draft(case.client, residents[2], **here), "草稿")         # the address's 2 × 1 are spent
    assert _draft(case.client, residents[2], environ_base={"REMOTE_ADDR": "10.9.9.9"}).status_code == 201


# -- logins ----------------------------------------------------------------------------------------------------

def _login(client, username, password, address):
    return client.post("/api/v1/auth/login", json={"username": username, "password": password},
                       environ_base={"REMOTE_ADDR": address})


def test_a_resident_cannot_lock_an_approver_out_of_a_known_device(client, make_staff, settings):
    make_staff("approver-wang", [])
    office = "10.0.0.5"
    assert _login(client, "approver-wang", "correct horse battery", office).status_code == 200
    # someone else fails the approver's password, from elsewhere and from the office network itself
    for address in ("203.0.113.9", office):
        for _ in range(settings.login_max_failures + 2):
            assert _login(client, "approver-wang", "guess", address).status_code in (401, 429)
        assert _login(client, "approver-wang", "guess", address).status_code == 429
    # the approver, with the right password, from the address they signed in from before
    assert _login(client, "approver-wang", "correct horse battery", office).status_code == 200
    # a wrong password there while locked still says locked; the attacker's own address stays locked
    assert _login(client, "approver-wang", "still-a-guess", office).status_code in (401, 429)
    r = _login(client, "approver-wang", "correct horse battery", "203.0.113.9")
    assert r.status_code == 429 and int(r.headers["Retry-After"]) >= 1


def test_failures_from_one_address_do_not_lock_the_account_elsewhere(client, make_staff, settings):
    make_staff("clerk-li", [])
    for _ in range(settings.login_max_failures + 1):
        _login(client, "clerk-li", "guess", "198.51.100.7")
    assert _login(client, "clerk-li", "correct horse battery", "198.51.100.7").status_code == 429
    assert _login(client, "clerk-li", "correct horse battery", "198.51.100.8").status_code == 200


def test_guessing_spread_over_many_addresses_locks_the_account_for_new_devices_only(client, make_staff, settings):
    make_staff("clerk-zhao", [])
    assert _login(client, "clerk-zhao", "correct horse battery", "10.0.0.8").status_code == 200
    for i in range(settings.login_max_failures * 20):
        _login(client, "clerk-zhao", "guess", f"192.0.2.{i % 250}")
    assert _login(client, "clerk-zhao", "correct horse battery", "10.0.0.99").status_code == 429
    assert _login(client, "clerk-zhao", "correct horse battery", "10.0.0.8").status_code == 200
