"""Residents log in with WeChat (through the local fake server) and bind a phone number."""
from __future__ import annotations

import pytest

from tests.conftest import bearer


def test_first_login_creates_a_resident_and_the_next_finds_them(client, fake_wechat, app):
    from api.identity.models import User

    first = client.post("/api/v1/auth/wechat", json={"code": fake_wechat.login_code("o-alice", "u-alice")})
    assert first.status_code == 200
    me = client.get("/api/v1/me", headers=bearer(first.json["access_token"])).json
    assert me["kind"] == "resident" and me["roles"] == ["resident"] and me["has_wechat"] is True
    again = client.post("/api/v1/auth/wechat", json={"code": fake_wechat.login_code("o-alice")})
    assert client.get("/api/v1/me", headers=bearer(again.json["access_token"])).json["id"] == me["id"]
    user = User.objects(openid="o-alice").get()
    assert user.unionid == "u-alice" and User.objects(openid="o-alice").count() == 1


def test_session_key_never_leaves_the_server(client, fake_wechat, app):
    from api.identity.models import User

    code = fake_wechat.login_code("o-bob")
    session_key = fake_wechat.login_codes[code]["session_key"]
    responses = [client.post("/api/v1/auth/wechat", json={"code": code})]
    headers = bearer(responses[0].json["access_token"])
    responses.append(client.get("/api/v1/me", headers=headers))
    responses.append(client.post("/api/v1/me/phone", json={"code": fake_wechat.phone_code()}, headers=headers))
    responses.append(client.post("/api/v1/auth/refresh", json={"refresh_token": responses[0].json["refresh_token"]}))
    for r in responses:
        assert r.status_code == 200
        body = r.get_data(as_text=True)
        assert session_key not in body and "session_key" not in body
    stored = User.objects(openid="o-bob").get().session_key_enc
    assert stored and session_key not in stored   # kept, but only encrypted


@pytest.mark.parametrize("code, status, error", [
    ("err-40029", 422, "invalid"),
    ("err-45011", 429, "too_many_requests"),
    ("err-40226", 403, "forbidden"),
    ("err-busy", 503, "unavailable"),
])
def test_wechat_error_codes_map_to_clear_responses(client, code, status, error):
    r = client.post("/api/v1/auth/wechat", json={"code": code}, headers={"Accept-Language": "en"})
    assert r.status_code == status and r.json["code"] == error
    assert "WeChat" in r.json["message"]


def test_a_login_code_works_once(client, fake_wechat):
    code = fake_wechat.login_code()
    assert client.post("/api/v1/auth/wechat", json={"code": code}).status_code == 200
    replay = client.post("/api/v1/auth/wechat", json={"code": code})
    assert replay.status_code == 422 and replay.json["errors"][0]["path"] == "/code"


def test_unreachable_wechat_is_502_not_500(settings, fake_wechat):
    from api.identity.wechat import WeChatClient
    from core.errors import UpstreamError
    from core.embedded import free_port

    client = WeChatClient(settings.with_overrides(wechat_api_base=f"http://127.0.0.1:{free_port()}"))
    with pytest.raises(UpstreamError) as caught:
        client.code2session("anything")
    assert caught.value.status == 502 and caught.value.message_key == "wechat.unreachable"


def test_bind_phone_stores_it_encrypted_and_shows_it_to_the_owner(client, fake_wechat, resident_headers, app):
    from api.identity.models import User

    r = client.post("/api/v1/me/phone", json={"code": fake_wechat.phone_code("13912345678")},
                    headers=resident_headers)
    assert r.status_code == 200 and r.json["phone"] == "13912345678"
    raw = User.objects(kind="resident").get()
    assert "13912345678" not in (raw.phone_enc or "") and raw.phone_hash


def test_access_token_is_cached_and_refetched_when_wechat_revokes_it(app, client, fake_wechat, resident_headers,
                                                                     monkeypatch):
    from api.identity.models import WeChatAccessToken
    from api.identity.wechat import WeChatClient
    from core import pii

    runtime = app.extensions["zhangban"]
    monkeypatch.setattr(runtime, "wechat", WeChatClient(runtime.settings))   # no token from an earlier test
    before = fake_wechat.token_fetches
    for _ in range(2):
        assert client.post("/api/v1/me/phone", json={"code": fake_wechat.phone_code()},
                           headers=resident_headers).status_code == 200
    assert fake_wechat.token_fetches == before + 1                    # fetched once, then cached
    first = pii.cipher().decrypt(WeChatAccessToken.objects.get().token_enc, context="wechat")
    assert first in fake_wechat.access_tokens
    fake_wechat.revoke_access_tokens()
    r = client.post("/api/v1/me/phone", json={"code": fake_wechat.phone_code()}, headers=resident_headers)
    assert r.status_code == 200 and fake_wechat.token_fetches == before + 2
    fresh = pii.cipher().decrypt(WeChatAccessToken.objects.get().token_enc, context="wechat")
    assert fresh != first and fresh in fake_wechat.access_tokens      # fetched anew, and shared through MongoDB


def test_phone_code_errors_are_4xx(client, resident_headers):
    r = client.post("/api/v1/me/phone", json={"code": "not-a-code"}, headers=resident_headers)
    assert r.status_code == 422 and r.json["code"] == "invalid"


def test_staff_cannot_bind_a_wechat_phone(client, make_staff, fake_wechat):
    _, headers = make_staff("clerk", [])
    r = client.post("/api/v1/me/phone", json={"code": fake_wechat.phone_code()}, headers=headers)
    assert r.status_code == 422


@pytest.fixture
def odd_wechat():
    """A server at the WeChat URLs that answers 200 with JSON WeChat never documents (errcode 0, fields missing)."""
    import json
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    answers = {}

    class Handler(BaseHTTPRequestHandler):
        def _answer(self):
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            body = json.dumps(answers.get(self.path.split("?")[0], {"errcode": 0})).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = _answer

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}", answers
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize("path, answer, call", [
    ("/sns/jscode2session", [], "code2session"),
    ("/cgi-bin/token", {"errcode": 0}, "access_token"),
    ("/cgi-bin/token", {"access_token": "t", "expires_in": "soon"}, "access_token"),
    ("/wxa/business/getuserphonenumber", {"errcode": 0}, "phone_number"),
    ("/wxa/business/getuserphonenumber", {"errcode": 0, "phone_info": {"countryCode": "86"}}, "phone_number"),
])
def test_malformed_wechat_answers_are_502_not_500(app, settings, odd_wechat, path, answer, call):
    from api.identity.models import WeChatAccessToken
    from api.identity.wechat import WeChatClient
    from core.errors import UpstreamError

    base, answers = odd_wechat
    answers[path] = answer
    answers.setdefault("/cgi-bin/token", {"access_token": "t", "expires_in": 7200})
    WeChatAccessToken.objects.delete()
    client = WeChatClient(settings.with_overrides(wechat_api_base=base))
    with pytest.raises(UpstreamError) as caught:
        getattr(client, call)() if call == "access_token" else getattr(client, call)("code")
    assert caught.value.status == 502


def test_a_cached_access_token_under_another_key_is_fetched_anew(client, fake_wechat, resident_headers):
    from api.identity.models import WeChatAccessToken

    assert client.post("/api/v1/me/phone", json={"code": fake_wechat.phone_code()},
                       headers=resident_headers).status_code == 200
    WeChatAccessToken.objects.update(set__token_enc="v1:c2VhbGVkIHdpdGggYSBrZXkgd2UgbG9zdCBsb25nIGFnbw==")
    client.application.extensions["zhangban"].wechat._token = None   # a freshly started worker
    r = client.post("/api/v1/me/phone", json={"code": fake_wechat.phone_code()}, headers=resident_headers)
    assert r.status_code == 200


def test_racing_first_logins_of_one_resident_make_one_account(app, fake_wechat):
    """Two taps on 登录 from a new phone: both get in, one account (SecantusDB answered the racing upsert's
    loser with no document, a 500)."""
    import threading
    from concurrent.futures import ThreadPoolExecutor

    from api.identity.models import User
    codes = [fake_wechat.login_code("o-twice") for _ in range(6)]
    barrier = threading.Barrier(len(codes))

    def login(code):
        with app.app_context():
            client = app.test_client()
            barrier.wait()
            return client.post("/api/v1/auth/wechat", json={"code": code})
    with ThreadPoolExecutor(len(codes)) as pool:
        responses = list(pool.map(login, codes))
    assert [r.status_code for r in responses] == [200] * len(codes)
    assert User.objects(openid="o-twice").count() == 1
