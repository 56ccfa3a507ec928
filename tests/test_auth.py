"""Staff login, lockout, access and refresh tokens, logout."""
from __future__ import annotations

import datetime as dt

import jwt

from tests.conftest import bearer


def _login(client, username, password, **kw):
    return client.post("/api/v1/auth/login", json={"username": username, "password": password}, **kw)


def test_login_returns_a_token_pair_that_opens_me(client, make_staff):
    make_staff("clerk", [])
    r = _login(client, "clerk", "correct horse battery")
    assert r.status_code == 200
    assert r.json["token_type"] == "Bearer" and r.json["expires_in"] == 900
    me = client.get("/api/v1/me", headers=bearer(r.json["access_token"]))
    assert me.status_code == 200 and me.json["username"] == "clerk" and me.json["kind"] == "staff"


def test_passwords_are_stored_as_argon2id(app, make_staff):
    from api.identity.models import User

    make_staff("hashme", [])
    stored = User.objects(username="hashme").first().password_hash
    assert stored.startswith("$argon2id$") and "correct horse" not in stored


def test_wrong_password_and_unknown_user_look_the_same(client, make_staff):
    make_staff("clerk", [])
    wrong = _login(client, "clerk", "not the password")
    unknown = _login(client, "nobody", "not the password")
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json["code"] == unknown.json["code"] == "unauthorized"
    assert wrong.json["message"] == unknown.json["message"]


def test_repeated_failures_lock_the_account_with_a_growing_delay(client, make_staff, settings):
    make_staff("target", [])    # (signs in from 127.0.0.1: a known device there; the guessing comes from elsewhere)
    elsewhere = {"environ_base": {"REMOTE_ADDR": "198.51.100.20"}}
    for _ in range(settings.login_max_failures):
        assert _login(client, "target", "guess", **elsewhere).status_code == 401
    locked = _login(client, "target", "correct horse battery", **elsewhere)   # even the right password waits
    assert locked.status_code == 429 and locked.json["code"] == "too_many_requests"
    first_wait = int(locked.headers["Retry-After"])
    assert 1 <= first_wait <= settings.login_lockout_seconds + 1

    from api.identity.models import LoginThrottle
    LoginThrottle.objects(key="pair:target|198.51.100.20").update_one(set__locked_until=None)   # the first lock passes
    assert _login(client, "target", "guess-again", **elsewhere).status_code == 401
    longer = _login(client, "target", "guess-again-2", **elsewhere)
    assert longer.status_code == 429 and int(longer.headers["Retry-After"]) > first_wait


def test_racing_wrong_passwords_are_all_counted(app, make_staff, settings):
    import threading
    from concurrent.futures import ThreadPoolExecutor

    from api.identity.models import LoginThrottle
    make_staff("raced", [])
    barrier = threading.Barrier(6)

    def guess(i):
        with app.app_context():
            client = app.test_client()
            barrier.wait()
            return _login(client, "raced", f"guess-{i}")
    with ThreadPoolExecutor(6) as pool:
        codes = [r.status_code for r in pool.map(guess, range(6))]
    assert set(codes) <= {401, 429} and 401 in codes, codes
    assert LoginThrottle.objects(key="user:raced").get().failures == 6


def test_one_address_trying_many_accounts_is_locked_too(client, make_staff, settings):
    attempts = settings.login_max_failures * 4
    for i in range(attempts):
        assert _login(client, f"user{i}", "guess").status_code == 401
    r = _login(client, "yet-another", "guess")
    assert r.status_code == 429


def test_success_clears_the_account_failures(client, make_staff, settings):
    make_staff("clerk", [])
    for _ in range(settings.login_max_failures - 1):
        _login(client, "clerk", "nope")
    assert _login(client, "clerk", "correct horse battery").status_code == 200
    for _ in range(settings.login_max_failures - 1):
        assert _login(client, "clerk", "nope").status_code == 401


def test_expired_access_token_is_refused(client, make_staff, settings):
    user, headers = make_staff("clerk", [])
    claims = jwt.decode(headers["Authorization"].split()[1], settings.token_key, algorithms=["HS256"],
                        issuer="zhangban")
    claims["exp"] = dt.datetime.now(dt.timezone.utc) - dt.timedelta(seconds=1)
    expired = jwt.encode(claims, settings.token_key, algorithm="HS256")
    r = client.get("/api/v1/me", headers=bearer(expired))
    assert r.status_code == 401 and r.json["message"] == "登录已过期，请重新登录"


def test_tampered_and_foreign_tokens_are_refused(client, make_staff, settings):
    user, headers = make_staff("clerk", [])
    token = headers["Authorization"].split()[1]
    head, payload, signature = token.split(".")
    flipped = signature[:-2] + ("AA" if signature[-2:] != "AA" else "BB")
    assert client.get("/api/v1/me", headers=bearer(f"{head}.{payload}.{flipped}")).status_code == 401
    claims = jwt.decode(token, settings.token_key, algorithms=["HS256"], issuer="zhangban")
    forged = jwt.encode(claims, b"x" * 32, algorithm="HS256")
    assert client.get("/api/v1/me", headers=bearer(forged)).status_code == 401
    unsigned = jwt.encode(claims, None, algorithm="none")
    assert client.get("/api/v1/me", headers=bearer(unsigned)).status_code == 401
    assert client.get("/api/v1/me", headers={"Authorization": "Basic abc"}).status_code == 401


def test_refresh_rotates_and_reuse_revokes_the_whole_family(client, make_staff):
    make_staff("clerk", [])
    first = _login(client, "clerk", "correct horse battery").json
    second = client.post("/api/v1/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert second.status_code == 200 and second.json["refresh_token"] != first["refresh_token"]
    assert client.get("/api/v1/me", headers=bearer(second.json["access_token"])).status_code == 200

    reused = client.post("/api/v1/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert reused.status_code == 401 and reused.json["code"] == "unauthorized"
    # The thief's reuse ended the family: the legitimate newer tokens stop working as well.
    assert client.post("/api/v1/auth/refresh", json={"refresh_token": second.json["refresh_token"]}).status_code == 401
    assert client.get("/api/v1/me", headers=bearer(second.json["access_token"])).status_code == 401


def test_garbage_refresh_tokens_are_401(client):
    for token in ("x", "nope.nope", "650000000000000000000000.secret"):
        r = client.post("/api/v1/auth/refresh", json={"refresh_token": token})
        assert r.status_code == 401, token


def test_logout_ends_the_session_but_not_other_devices(client, make_staff):
    make_staff("clerk", [])
    phone = _login(client, "clerk", "correct horse battery").json
    laptop = _login(client, "clerk", "correct horse battery").json
    assert client.post("/api/v1/auth/logout", headers=bearer(phone["access_token"])).status_code == 204
    assert client.get("/api/v1/me", headers=bearer(phone["access_token"])).status_code == 401
    assert client.post("/api/v1/auth/refresh", json={"refresh_token": phone["refresh_token"]}).status_code == 401
    assert client.get("/api/v1/me", headers=bearer(laptop["access_token"])).status_code == 200


def test_refresh_token_is_not_an_access_token(client, make_staff):
    make_staff("clerk", [])
    pair = _login(client, "clerk", "correct horse battery").json
    assert client.get("/api/v1/me", headers=bearer(pair["refresh_token"])).status_code == 401


def test_a_spoofed_forwarded_for_does_not_escape_the_address_lockout(app, client, settings):
    # Behind the one trusted proxy, the client address is the entry that proxy appended (the last one);
    # anything before it was sent by the client and can be anything.
    runtime = app.extensions["zhangban"]
    original = runtime.settings
    runtime.settings = original.with_overrides(trust_proxy=True)
    try:
        for i in range(settings.login_max_failures * 4):
            r = _login(client, f"user{i}", "guess", headers={"X-Forwarded-For": f"10.0.0.{i}, 203.0.113.7"})
            assert r.status_code == 401
        r = _login(client, "yet-another", "guess", headers={"X-Forwarded-For": "10.9.9.9, 203.0.113.7"})
    finally:
        runtime.settings = original
    assert r.status_code == 429


def test_a_long_lockout_is_not_forgotten_the_moment_it_ends(client, make_staff, settings):
    from api.identity.models import LoginThrottle
    from core import clock

    make_staff("target", [])
    # Ten failures in, the lock had grown to 32 minutes; it has just ended, so the last failure is older than
    # the 30-minute window. The next failure must lock for longer still, not start a fresh allowance.
    now = clock.now()
    LoginThrottle(key="pair:target|127.0.0.1", failures=settings.login_max_failures + 5,
                  last_failure_at=now - dt.timedelta(minutes=33), locked_until=now - dt.timedelta(seconds=5)).save()
    assert _login(client, "target", "guess").status_code == 401
    locked = _login(client, "target", "guess")
    assert locked.status_code == 429
    assert int(locked.headers["Retry-After"]) > settings.login_lockout_seconds * 2 ** 5


def test_racing_refreshes_of_one_token_revoke_the_family_and_say_so_in_the_audit_log(app, client, make_staff,
                                                                                     settings):
    import threading

    from api.identity import tokens
    from api.identity.models import LoginSession
    from core.audit import AuditRecord
    from core.errors import Unauthorized

    make_staff("clerk", [])
    for _ in range(8):
        token = _login(client, "clerk", "correct horse battery").json["refresh_token"]
        barrier, outcomes = threading.Barrier(3), []

        def refresh():
            with app.app_context():
                barrier.wait()
                try:
                    tokens.rotate(settings, token)
                    outcomes.append("rotated")
                except Unauthorized as exc:
                    outcomes.append(exc.message_key)

        threads = [threading.Thread(target=refresh) for _ in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        session_id = token.split(".")[0]
        assert sorted(outcomes) == ["refresh_reused", "refresh_reused", "rotated"], outcomes
        assert LoginSession.objects(id=session_id).get().revoked_at is not None
        # The family was revoked: that is a state change, recorded once.
        assert AuditRecord.objects(action="auth.refresh_reuse", object_id=session_id).count() == 1


def test_a_session_does_not_grow_with_refreshes_and_its_first_token_is_still_reuse(client, make_staff):
    from api.identity.models import LoginSession

    make_staff("clerk", [])
    first = _login(client, "clerk", "correct horse battery").json["refresh_token"]
    token = first
    for _ in range(30):
        r = client.post("/api/v1/auth/refresh", json={"refresh_token": token})
        assert r.status_code == 200
        token = r.json["refresh_token"]
    session = LoginSession.objects.get(id=first.split(".")[0])
    assert session.generation == 30 and not session.used_hashes     # no list grows per refresh (was 30 entries)
    raw = LoginSession._get_collection().find_one({"_id": session.id})
    assert len(str(raw)) < 600
    assert client.post("/api/v1/auth/refresh", json={"refresh_token": first}).json["code"] == "unauthorized"
    assert session.reload().revoked_at is not None                   # the first token's reuse ended the family


def test_a_made_up_earlier_generation_does_not_end_someone_elses_session(client, make_staff):
    from api.identity.models import LoginSession

    make_staff("clerk", [])
    token = _login(client, "clerk", "correct horse battery").json["refresh_token"]
    token = client.post("/api/v1/auth/refresh", json={"refresh_token": token}).json["refresh_token"]
    session_id = token.split(".")[0]
    forged = client.post("/api/v1/auth/refresh", json={"refresh_token": f"{session_id}.0.AAAAAAAAAAAAAAAAAAAA"})
    assert forged.status_code == 401 and LoginSession.objects.get(id=session_id).revoked_at is None
    assert client.post("/api/v1/auth/refresh", json={"refresh_token": token}).status_code == 200


def test_a_session_of_the_first_token_format_still_rotates_and_detects_reuse(client, make_staff):
    import hashlib

    from api.identity.models import LoginSession

    make_staff("clerk", [])
    first = _login(client, "clerk", "correct horse battery").json["refresh_token"]
    session = LoginSession.objects.get(id=first.split(".")[0])
    old, older = f"{session.id}.current-random", f"{session.id}.older-random"
    LoginSession.objects(id=session.id).update_one(
        set__current_hash=hashlib.sha256(old.encode()).hexdigest(), unset__nonce=True, unset__generation=True,
        set__used_hashes=[hashlib.sha256(older.encode()).hexdigest()])
    r = client.post("/api/v1/auth/refresh", json={"refresh_token": old})
    assert r.status_code == 200 and r.json["refresh_token"].count(".") == 2
    assert client.post("/api/v1/auth/refresh", json={"refresh_token": older}).status_code == 401
    assert session.reload().revoked_at is not None
