"""Identity documents: users, departments, login sessions (refresh-token families), login throttles."""
from __future__ import annotations

import mongoengine as me

from core import clock

DEPARTMENT_LEVELS = ("city", "district", "bureau", "office")
DEPARTMENT_ROLES = ("designer", "approver", "lead", "helper")   # held per department; lead: overdue cases escalate
# to it; helper: 帮办代办 staff (a service hall's), who submit and supplement for residents who authorised them
GLOBAL_ROLES = ("resident", "admin")


class Department(me.Document):
    code = me.StringField(required=True, unique=True, max_length=64)
    name = me.StringField(required=True, max_length=200)
    name_en = me.StringField(max_length=200, default="")
    level = me.StringField(choices=DEPARTMENT_LEVELS, default="bureau")
    parent_id = me.ObjectIdField(null=True)
    path = me.ListField(me.ObjectIdField())   # ancestor ids, root first: the subtree is one indexed query
    created_at = me.DateTimeField(default=clock.now)
    version = me.IntField(default=1)

    meta = {"collection": "departments", "indexes": ["parent_id", "path"], "ordering": ["code"]}


class RoleGrant(me.EmbeddedDocument):
    role = me.StringField(required=True, choices=DEPARTMENT_ROLES + GLOBAL_ROLES)
    department_id = me.ObjectIdField(null=True)


class User(me.Document):
    kind = me.StringField(required=True, choices=("resident", "staff"))
    username = me.StringField(max_length=64)                 # staff log in with it
    password_hash = me.StringField()
    display_name = me.StringField(default="", max_length=100)
    openid = me.StringField()                                # residents from WeChat
    unionid = me.StringField()
    session_key_enc = me.StringField()                       # WeChat session_key: encrypted, never sent out
    phone_enc = me.StringField()
    phone_hash = me.StringField()
    id_card_enc = me.StringField()
    id_card_hash = me.StringField()
    real_name = me.StringField(default="", max_length=100)
    grants = me.EmbeddedDocumentListField(RoleGrant)
    disabled = me.BooleanField(default=False)
    created_at = me.DateTimeField(default=clock.now)
    updated_at = me.DateTimeField(default=clock.now)
    version = me.IntField(default=1)

    meta = {"collection": "users", "indexes": [
        {"fields": ["username"], "unique": True, "partialFilterExpression": {"username": {"$type": "string"}}},
        {"fields": ["openid"], "unique": True, "partialFilterExpression": {"openid": {"$type": "string"}}},
        "unionid", "phone_hash", "id_card_hash", "grants.role", "grants.department_id", "-created_at",
        ("username", "-id")]}   # the admin list's prefix search (the partial unique index above cannot serve it)


class LoginSession(me.Document):
    """One login on one device: a family of rotating refresh tokens. Revoking it ends every token in it."""
    user_id = me.ObjectIdField(required=True)
    current_hash = me.StringField(required=True)   # sha256 of the refresh token that may be used next
    generation = me.IntField(default=0)           # of the current refresh token; earlier ones are reuse
    nonce = me.StringField()                      # in every token's mac (sessions of the first format have none)
    used_hashes = me.ListField(me.StringField())  # first format only: earlier tokens (no longer grows)
    created_at = me.DateTimeField(default=clock.now)
    expires_at = me.DateTimeField(required=True)
    revoked_at = me.DateTimeField(null=True)
    revoked_reason = me.StringField(default="")
    version = me.IntField(default=1)

    meta = {"collection": "login_sessions", "indexes": [
        "user_id", {"fields": ["expires_at"], "expireAfterSeconds": 7 * 86400}]}


class LoginThrottle(me.Document):
    """Failed logins per account and address ("pair:NAME|ADDR"), per address ("ip:ADDR") and per account
    ("user:NAME"); and the addresses that signed in to an account ("known:NAME|ADDR"). See throttle.py."""
    key = me.StringField(required=True, unique=True)
    failures = me.IntField(default=0)
    last_failure_at = me.DateTimeField()
    locked_until = me.DateTimeField()
    known_until = me.DateTimeField()   # "known:NAME|ADDR": an address that signed in to the account (a known device)

    meta = {"collection": "login_throttles",
            "indexes": [{"fields": ["last_failure_at"], "expireAfterSeconds": 86400},
                        {"fields": ["known_until"], "expireAfterSeconds": 0}]}


class WeChatAccessToken(me.Document):
    """The mini-program's access token, shared by all workers until shortly before it expires."""
    appid = me.StringField(required=True, unique=True)
    token_enc = me.StringField(required=True)
    expires_at = me.DateTimeField(required=True)

    meta = {"collection": "wechat_tokens"}
