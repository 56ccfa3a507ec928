"""身份证号 and phone numbers: encrypted at rest, masked for everyone but the owner and admins."""
from __future__ import annotations

from flask import g


def test_pii_is_encrypted_at_rest_and_findable_by_keyed_hash(app, client, admin_headers):
    from api.identity.models import User
    from core import pii
    from core.db import database

    r = client.post("/api/v1/users", json={"username": "li.qiang", "password": "a long password",
                                           "phone": "13812345678", "id_card": "11010519491231002X"},
                    headers=admin_headers)
    assert r.status_code == 201
    raw = database().users.find_one({"username": "li.qiang"})
    dump = repr(raw)
    assert "13812345678" not in dump and "11010519491231002X" not in dump
    assert User.objects(phone_hash=pii.cipher().lookup_hash("13812345678")).count() == 1


def test_admin_sees_pii_whole_and_others_see_it_masked(app, client, admin_headers):
    from api.identity.models import User
    from api.identity.schemas import UserOut
    from core.actor import Actor

    r = client.post("/api/v1/users", json={"username": "li.qiang", "password": "a long password",
                                           "phone": "13812345678", "id_card": "11010519491231002X"},
                    headers=admin_headers)
    assert r.json["phone"] == "13812345678" and r.json["id_card"] == "11010519491231002X"
    user = User.objects(username="li.qiang").get()
    with app.test_request_context():
        g.actor = Actor(user_id="someone-else", roles=frozenset({"approver"}))
        masked = UserOut().dump(user)
        g.actor = Actor(user_id=str(user.id), roles=frozenset())
        own = UserOut().dump(user)
    assert masked["phone"] == "138****5678" and masked["id_card"] == "110***********002X"
    assert own["phone"] == "13812345678"


def test_ciphertext_is_bound_to_its_field():
    import os
    import pytest
    from core.pii import PiiCipher, PiiDecryptError

    cipher = PiiCipher(os.urandom(32))
    token = cipher.encrypt("13812345678", context="phone")
    assert token != cipher.encrypt("13812345678", context="phone")   # fresh nonce every time
    assert cipher.decrypt(token, context="phone") == "13812345678"
    with pytest.raises(PiiDecryptError):
        cipher.decrypt(token, context="id_card")
    with pytest.raises(PiiDecryptError):
        PiiCipher(os.urandom(32)).decrypt(token, context="phone")


def test_one_undecryptable_value_does_not_break_the_user_list(app, client, admin_headers):
    from api.identity.models import User

    for name in ("li.qiang", "wang.fang"):
        assert client.post("/api/v1/users", json={"username": name, "password": "a long password",
                                                  "phone": "13812345678"}, headers=admin_headers).status_code == 201
    # Written under another key (a restored backup, a lost keys.json) or damaged in storage:
    User.objects(username="li.qiang").update_one(set__phone_enc="v1:bm90IHJlYWxseSBlbmNyeXB0ZWQgYXQgYWxs")
    User.objects(username="wang.fang").update_one(set__id_card_enc="v1:%%%")
    r = client.get("/api/v1/users?kind=staff", headers=admin_headers)
    assert r.status_code == 200, r.json
    by_name = {u["username"]: u for u in r.json["items"]}
    assert by_name["li.qiang"]["phone"] is None and by_name["wang.fang"]["phone"] == "13812345678"
    assert by_name["wang.fang"]["id_card"] is None
