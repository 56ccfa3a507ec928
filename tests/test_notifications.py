"""Notifications: in-app messages over HTTP, and WeChat subscription messages delivered by the worker against the
fake WeChat server — sent once, 43101 refused and never retried, an expired token refreshed once, backoff when
WeChat is busy, failed after the last attempt, never sent again after a worker died mid-send."""
from __future__ import annotations

import time
from collections import Counter
from datetime import timedelta

import pytest

from core import clock
from core.settings import ConfigError, from_env
from tests.applications_fixtures import case  # noqa: F401 (fixture)
from tests.conftest import bearer
from tests.worker_processes import start_worker, stop_all, worker_env

TEMPLATES = {"submitted": {"template_id": "tpl-submitted", "data": {"thing1": "title", "character_string2":
                                                                     "application_number", "time3": "created_at"}},
             "approved": "tpl-approved"}


@pytest.fixture
def people(app, client, resident_login, make_staff):
    """Two residents (with WeChat openids) and a staff member (none): (user id, openid, headers) each."""
    out = {}
    for name in ("amy", "bob"):
        openid = f"o-{name}-{time.monotonic_ns()}"
        headers = bearer(resident_login(openid)["access_token"])
        out[name] = (client.get("/api/v1/me", headers=headers).json["id"], openid, headers)
    staff, headers = make_staff("clerk")
    out["clerk"] = (str(staff.id), None, headers)
    return out


@pytest.fixture
def fake(fake_wechat):
    fake_wechat.reset_messages()
    yield fake_wechat
    fake_wechat.reset_messages()


def enqueue(kind, user_id, title, **kw):
    from workflows.cases.notify import service
    assert service.enqueue(kind, [user_id], title=title, **kw) == 1


def deliver(settings, now=None, **policy):
    from api.identity.wechat import SubscribeSender, WeChatClient
    from workflows.cases.notify.delivery import Policy, deliver_due

    options = {"templates": TEMPLATES, "backoff": timedelta(seconds=30), **policy}
    return deliver_due(SubscribeSender(WeChatClient(settings)), Policy(**options), now)


def stored(title):
    from workflows.cases.notify.models import Notification
    return Notification.objects(title=title).first()


# -- in-app messages -------------------------------------------------------------------------------------------

def test_my_messages_are_mine_newest_first_with_the_unread_count(client, people):
    amy, _, amy_headers = people["amy"]
    with client.application.app_context():
        for i in range(3):
            enqueue("approved", amy, f"amy {i}", body="已办结")
        enqueue("approved", people["bob"][0], "bob's")
    r = client.get("/api/v1/me/messages?page_size=2", headers=amy_headers)
    assert r.status_code == 200
    assert [m["title"] for m in r.json["items"]] == ["amy 2", "amy 1"]
    assert r.json["total"] == 3 and r.json["unread"] == 3 and not r.json["items"][0]["read"]
    assert [m["title"] for m in client.get("/api/v1/me/messages?page=2&page_size=2",
                                           headers=amy_headers).json["items"]] == ["amy 0"]
    first = r.json["items"][0]
    read = client.post(f"/api/v1/me/messages/{first['id']}/read", headers=amy_headers)
    assert read.status_code == 200 and read.json["read"] and read.json["read_at"]
    again = client.post(f"/api/v1/me/messages/{first['id']}/read", headers=amy_headers)
    assert again.json["read_at"] == read.json["read_at"]          # the first reading counts
    unread = client.get("/api/v1/me/messages?unread=true", headers=amy_headers).json
    assert [m["title"] for m in unread["items"]] == ["amy 1", "amy 0"] and unread["unread"] == 2
    assert set(first) >= {"id", "kind", "title", "body", "application_id", "task_id", "created_at"}
    assert "attempts" not in first and "wechat_status" not in first


def test_nobody_reads_or_marks_another_persons_message(client, people):
    amy, _, amy_headers = people["amy"]
    _, _, bob_headers = people["bob"]
    with client.application.app_context():
        enqueue("approved", amy, "private")
        message_id = str(stored("private").id)
    r = client.post(f"/api/v1/me/messages/{message_id}/read", headers=bob_headers)
    assert r.status_code == 404 and r.json["code"] == "not_found"
    assert client.get("/api/v1/me/messages", headers=bob_headers).json["total"] == 0
    assert client.post("/api/v1/me/messages/not-an-id/read", headers=amy_headers).status_code == 404
    assert client.get("/api/v1/me/messages").status_code == 401
    with client.application.app_context():
        assert stored("private").read_at is None


def test_bad_paging_is_a_422_naming_the_parameter(client, people):
    for query, pointer in (("page_size=1000", "/page_size"), ("unread=perhaps", "/unread"), ("page=0", "/page")):
        r = client.get(f"/api/v1/me/messages?{query}", headers=people["amy"][2])
        assert r.status_code == 422 and r.json["code"] == "validation_failed"
        assert [e["path"] for e in r.json["errors"]] == [pointer]


def test_a_submitted_application_is_a_message_and_a_wechat_message(case, app, settings, fake):
    from api.identity.models import User
    from core import deferred
    from tests.applications_fixtures import good_data

    submitted = case.submit(good_data())
    with app.app_context():
        assert case.client.get("/api/v1/me/messages", headers=case.resident).json["items"] == []
        deferred.deliver()       # the worker's round: the message rode in the application's write (core/deferred.py)
    r = case.client.get("/api/v1/me/messages", headers=case.resident)
    [message] = r.json["items"]
    assert message["kind"] == "submitted" and message["application_id"] == submitted["id"]
    with app.app_context():
        assert deliver(settings)["sent"] == 1
        openid = User.objects(id=case.client.get("/api/v1/me", headers=case.resident).json["id"]).first().openid
    [sent] = fake.sent
    assert sent["touser"] == openid and sent["template_id"] == "tpl-submitted"
    assert sent["page"].endswith(submitted["id"]) and sent["lang"] == "zh_CN" and sent["miniprogram_state"] == "formal"
    assert sent["data"]["character_string2"] == {"value": submitted["number"]}
    assert len(sent["data"]["thing1"]["value"]) <= 20


# -- WeChat delivery -------------------------------------------------------------------------------------------

def test_a_message_is_sent_once_and_in_app_only_kinds_and_staff_are_skipped(app, settings, people, fake):
    with app.app_context():
        enqueue("approved", people["amy"][0], "done")
        enqueue("cc", people["amy"][0], "no template for cc")
        enqueue("approved", people["clerk"][0], "staff have no openid")
        counts = deliver(settings)
        assert counts["sent"] == 1 and counts["skipped"] == 2
        assert deliver(settings, clock.now() + timedelta(days=1))["sent"] == 0
        assert stored("done").wechat_status == "sent" and stored("done").sent_at is not None
        assert "template" in stored("no template for cc").last_error
        assert stored("staff have no openid").wechat_status == "skipped"
    assert [m["touser"] for m in fake.sent] == [people["amy"][1]]
    assert fake.sent[0]["data"]["thing1"] == {"value": "done"}


def test_43101_is_recorded_as_refused_and_never_retried(app, settings, people, fake):
    _, openid, _ = people["bob"]
    fake.refuse(openid)
    with app.app_context():
        enqueue("approved", people["bob"][0], "unwanted")
        assert deliver(settings)["refused"] == 1
        assert deliver(settings, clock.now() + timedelta(days=2))["refused"] == 0
        message = stored("unwanted")
        assert message.wechat_status == "refused" and message.attempts == 1 and "43101" in message.last_error
    assert [r["errcode"] for r in fake.send_requests] == [43101]


def test_an_expired_access_token_is_refreshed_once_and_the_message_sent(app, settings, people, fake):
    from api.identity.wechat import WeChatClient

    with app.app_context():
        WeChatClient(settings).access_token()           # cached in MongoDB for every worker
        fake.expire_access_tokens()
        fetches = fake.token_fetches
        enqueue("approved", people["amy"][0], "after refresh")
        assert deliver(settings)["sent"] == 1
        assert stored("after refresh").attempts == 1
    assert fake.token_fetches == fetches + 1
    assert [r["errcode"] for r in fake.send_requests] == [42001, 0]


def test_busy_wechat_is_retried_with_growing_pauses_then_sent(app, settings, people, fake):
    fake.busy(people["amy"][1], times=2)
    with app.app_context():
        enqueue("approved", people["amy"][0], "patience")
        now = clock.now()
        assert deliver(settings, now)["retry"] == 1
        first = stored("patience")
        assert first.wechat_status == "pending" and first.attempts == 1 and first.last_error.startswith("-1")
        assert clock.as_utc(first.next_attempt_at) == now + timedelta(seconds=30)
        assert deliver(settings, now + timedelta(seconds=29))["retry"] == 0          # not yet due: no request
        assert deliver(settings, now + timedelta(seconds=30))["retry"] == 1
        assert clock.as_utc(stored("patience").next_attempt_at) == now + timedelta(seconds=30 + 60)
        assert deliver(settings, now + timedelta(seconds=89))["sent"] == 0
        assert deliver(settings, now + timedelta(seconds=90))["sent"] == 1
        assert stored("patience").attempts == 3
    assert [r["errcode"] for r in fake.send_requests] == [-1, -1, 0]


def test_after_the_last_attempt_a_message_is_failed(app, settings, people, fake):
    fake.busy(people["amy"][1], times=100)
    with app.app_context():
        enqueue("approved", people["amy"][0], "hopeless")
        later = clock.now()
        for _ in range(5):
            deliver(settings, later, max_attempts=3)
            later += timedelta(hours=2)
        message = stored("hopeless")
        assert message.wechat_status == "failed" and message.attempts == 3
    assert len(fake.send_requests) == 3


def test_a_message_a_dead_worker_was_sending_is_never_sent_again(app, settings, people, fake):
    from workflows.cases.notify.models import Notification

    with app.app_context():
        enqueue("approved", people["amy"][0], "in flight")
        now = clock.now()
        Notification.objects(title="in flight").update_one(set__wechat_status="sending", set__attempts=1,
                                                           set__lease_until=now + timedelta(minutes=5))
        assert deliver(settings, now)["interrupted"] == 0                 # its lease still holds: left alone
        assert deliver(settings, now + timedelta(minutes=6))["interrupted"] == 1
        assert stored("in flight").wechat_status == "failed"
    assert fake.send_requests == []


def test_two_worker_processes_send_each_message_once(app, settings, people, fake):
    fake.refuse(people["bob"][1])
    with app.app_context():
        for i in range(20):
            enqueue("approved", people["amy"][0], f"amy {i}")
            enqueue("approved", people["bob"][0], f"bob {i}")
    env = worker_env(settings, fake, WECHAT_TEMPLATES=TEMPLATES, WORKER_BATCH=5)
    workers = [start_worker(env), start_worker(env)]
    try:
        from workflows.cases.notify.models import Notification
        with app.app_context():
            deadline = time.monotonic() + 120
            while Notification.objects(wechat_status__in=("pending", "sending")).count() and time.monotonic() < deadline:
                time.sleep(0.3)
            assert Notification.objects(wechat_status="sent").count() == 20
            assert Notification.objects(wechat_status="refused").count() == 20
    finally:
        stop_all(workers)
    titles = Counter(m["data"]["thing1"]["value"] for m in fake.sent)
    assert sorted(titles) == sorted(f"amy {i}" for i in range(20)) and set(titles.values()) == {1}
    assert Counter(r["touser"] for r in fake.send_requests)[people["bob"][1]] == 20     # once each, refused


# -- configuration ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("raw", ['{"approved": ', '["tpl"]', '{"approved": ""}', '{"approved": {"id": "x"}}',
                                 '{"approved": {"template_id": "x", "data": {"thing1": 3}}}',
                                 '{"approved": {"template_id": "x", "page": 5}}'])
def test_bad_template_settings_are_refused_naming_the_variable(raw):
    with pytest.raises(ConfigError, match="ZHANGBAN_WECHAT_TEMPLATES"):
        from_env({"ZHANGBAN_WECHAT_TEMPLATES": raw})


def test_template_and_worker_settings_are_parsed():
    from workflows.cases.notify.delivery import check_templates

    settings = from_env({"ZHANGBAN_WECHAT_TEMPLATES": '{"approved": "tpl-1"}', "ZHANGBAN_WORKER_IDLE_SECONDS": "0.5",
                         "ZHANGBAN_WORKER_LEASE_SECONDS": "60", "ZHANGBAN_NOTIFY_MAX_ATTEMPTS": "4",
                         "ZHANGBAN_WECHAT_MINIPROGRAM_STATE": "trial"})
    assert settings.wechat_templates == {"approved": {"template_id": "tpl-1"}}
    assert (settings.worker_idle_seconds, settings.worker_lease_seconds, settings.notify_max_attempts,
            settings.wechat_miniprogram_state) == (0.5, 60, 4, "trial")
    with pytest.raises(ValueError, match="nope"):
        check_templates({"nope": {"template_id": "x"}})
    with pytest.raises(ValueError, match="colour"):
        check_templates({"approved": {"template_id": "x", "data": {"thing1": "colour"}}})
    for bad in ({"ZHANGBAN_WORKER_IDLE_SECONDS": "soon"}, {"ZHANGBAN_WECHAT_MINIPROGRAM_STATE": "beta"},
                {"ZHANGBAN_WORKER_LEASE_SECONDS": "0"}):
        with pytest.raises(ConfigError, match=next(iter(bad))):
            from_env(bad)
