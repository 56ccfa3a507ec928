"""Logging in and out (password, WeChat), refreshing tokens, binding a phone, and who the caller is."""
from __future__ import annotations

import logging

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from api.identity import throttle, tokens
from api.identity.models import LoginSession, RoleGrant, User
from core import audit, clock, db, pii
from core.actor import Actor
from core.clock import parse_id
from core.errors import Forbidden, Invalid, NotFound, Unauthorized
from core.settings import Settings

log = logging.getLogger(__name__)
hasher = PasswordHasher()   # argon2id with the library's current defaults
# Verified when the username is unknown, so both cases take the same time and reveal nothing.
_DUMMY_HASH = hasher.hash("zhangban: no such user")


def hash_password(password: str) -> str:
    return hasher.hash(password)


def actor_of(user: User, session_id: str | None = None) -> Actor:
    return _actor(user.id, user.username or user.display_name or "",
                  [(grant.role, grant.department_id) for grant in user.grants], session_id, user.display_name or "")


def _actor(user_id, username: str, grants, session_id: str | None, display_name: str = "") -> Actor:
    """The Actor of a user id, name and (role, department id or None) grants."""
    roles, departments = set(), {}
    for role, department_id in grants:
        roles.add(role)
        if department_id:
            departments.setdefault(role, set()).add(str(department_id))
    return Actor(user_id=str(user_id), roles=frozenset(roles),
                 departments={role: frozenset(ids) for role, ids in departments.items()},
                 username=username, session_id=session_id, display_name=display_name)


def login(settings: Settings, username: str, password: str, address: str) -> tokens.TokenPair:
    lock = throttle.check(settings, username, address)   # raises, unless this is a known device of the account
    user = User.objects(username=username.strip(), kind="staff").first()
    try:
        hasher.verify(user.password_hash if user and user.password_hash else _DUMMY_HASH, password)
        ok = user is not None
    except (VerificationError, InvalidHashError):
        ok = False
    if not ok:
        throttle.fail(settings, username, address)
        audit.record(Actor(user_id=str(user.id) if user else "anonymous", username=username[:64]),
                     "auth.login_failed", "user", user.id if user else "", address=address)
        if lock is not None:
            raise lock          # locked: only the right password gets through, from a known device
        raise Unauthorized("bad_credentials")
    if user.disabled:
        raise Forbidden("account_disabled")
    throttle.succeed(username, address)
    if hasher.check_needs_rehash(user.password_hash):
        User.objects(id=user.id).update_one(set__password_hash=hasher.hash(password))
    pair = tokens.issue(settings, user)
    audit.record(actor_of(user), "auth.login", "user", user.id, address=address)
    return pair


def wechat_login(settings: Settings, wechat, code: str) -> tokens.TokenPair:
    """Exchange a mini-program login code for our own tokens; find or create the resident by openid."""
    session = wechat.code2session(code)
    session_key_enc = pii.cipher().encrypt(session["session_key"], context="wechat-session")
    now = clock.now()
    update = {"set__session_key_enc": session_key_enc, "set__updated_at": now,
              "set_on_insert__kind": "resident", "set_on_insert__created_at": now,
              "set_on_insert__grants": [RoleGrant(role="resident")],
              "set_on_insert__version": 1, "set_on_insert__disabled": False,
              "set_on_insert__display_name": "", "set_on_insert__real_name": ""}
    if session.get("unionid"):
        update["set__unionid"] = session["unionid"]
    existed = User.objects(openid=session["openid"]).only("id").first()
    user = db.upsert_and_read(User.objects(openid=session["openid"]), **update)
    if user.disabled:
        raise Forbidden("account_disabled")
    pair = tokens.issue(settings, user)
    audit.record(actor_of(user), "auth.wechat_login" if existed else "user.create_resident", "user", user.id)
    return pair


def staff_actor(user_id: str, pointer: str = "/user_id") -> Actor:
    """Another staff member as a plain Actor, for the domain to check (a transfer's target); 422 if none."""
    oid = parse_id(user_id)
    user = User.objects(id=oid, kind="staff", disabled=False).only("id", "username", "display_name", "grants") \
        .first() if oid else None
    if user is None:
        raise Invalid("user.no_such_staff", errors=[{"path": pointer, "code": "not_found",
                                                     "message": "user.no_such_staff"}])
    return actor_of(user)


def department_approvers(department_id: str) -> list[str]:
    """The user ids of a department's approvers (抄送 to a department)."""
    oid = parse_id(department_id)
    if oid is None:
        return []
    return [str(u.id) for u in User.objects(grants__match={"role": "approver", "department_id": oid},
                                            disabled=False).only("id")]


def dev_login(settings: Settings, openid: str) -> tokens.TokenPair:
    """Development only: log in as a demo resident without WeChat (so `make run` can be tried with curl).
    Refused in production, and only for residents whose openid starts with `demo-` (the demo data's)."""
    if settings.is_production:
        raise NotFound()
    user = User.objects(openid=openid, kind="resident").first() if openid.startswith("demo-") else None
    if user is None:
        raise NotFound("dev_login.no_such_demo_resident")
    if user.disabled:
        raise Forbidden("account_disabled")
    pair = tokens.issue(settings, user)
    audit.record(actor_of(user), "auth.dev_login", "user", user.id)
    return pair


def refresh(settings: Settings, refresh_token: str) -> tokens.TokenPair:
    return tokens.rotate(settings, refresh_token)


def logout(actor: Actor) -> None:
    if actor.session_id and tokens.revoke(parse_id(actor.session_id), reason="logout"):
        audit.record(actor, "auth.logout", "session", actor.session_id)


# The login session and its user in one round trip (every authenticated request pays for this look-up).
# The profile fields ride along so a submit's `x-prefill: profile.*` needs no second read (see profile()).
_USER_FIELDS = {"_id": 1, "username": 1, "display_name": 1, "grants": 1, "disabled": 1, "real_name": 1,
                "id_card_enc": 1, "phone_enc": 1}


def authenticate(settings: Settings, access_token: str) -> Actor:
    """The Actor behind a bearer token: the token valid, its session live, the user enabled."""
    return authenticate_user(settings, access_token)[0]


def authenticate_user(settings: Settings, access_token: str) -> tuple[Actor, dict]:
    """authenticate(), with the user's stored fields as read (its profile fields included) for the rest of the
    request: `user_from_stored` makes them a User for the few requests that need one (a prefill)."""
    claims = tokens.decode_access(settings, access_token)
    session_id, user_id = parse_id(claims["sid"]), parse_id(claims["sub"])
    if session_id is None or user_id is None:
        raise Unauthorized("token_invalid")
    # the aggregate command itself, not a cursor: every request pays for this, and it answers in its first batch
    db = LoginSession._get_db()
    found = db.command("aggregate", LoginSession._get_collection_name(), codec_options=db.codec_options, pipeline=[
        {"$match": {"_id": session_id, "user_id": user_id}},
        {"$project": {"revoked_at": 1, "user_id": 1}},
        {"$lookup": {"from": User._get_collection_name(), "localField": "user_id", "foreignField": "_id",
                     "as": "user"}}], cursor={})["cursor"]["firstBatch"]
    session = found[0] if found else None
    if session is None or session.get("revoked_at") or not session["user"]:
        raise Unauthorized("token_invalid")
    stored = {k: v for k, v in session["user"][0].items() if k in _USER_FIELDS}
    if stored.get("disabled"):
        raise Unauthorized("token_invalid")
    grants = [(grant.get("role"), grant.get("department_id")) for grant in stored.get("grants") or []]
    return _actor(stored["_id"], stored.get("username") or stored.get("display_name") or "", grants,
                  claims["sid"], stored.get("display_name") or ""), stored


def user_from_stored(stored: dict) -> User:
    return User._from_son(stored)


def readable_pii(user: User, field: str, context: str) -> str | None:
    """The clear value of one of a user's encrypted fields; None (and an error logged) when it cannot be
    decrypted — one unreadable value (wrong ZHANGBAN_PII_KEY, a damaged record) must not fail a whole request."""
    try:
        return pii.cipher().decrypt(getattr(user, field), context=context)
    except pii.PiiDecryptError:
        log.error("user %s: the stored %s cannot be decrypted", user.id, context)
        return None


def profile(actor: Actor, user: User | None = None) -> dict:
    """The caller's verified profile, decrypted, for `x-prefill: profile.*` (name, 身份证号, phone). `user`: the
    caller's document as this request already read it, if it did."""
    if user is None or str(user.id) != actor.user_id:
        user = me(actor)
    return {"name": user.real_name or None, "id_card": readable_pii(user, "id_card_enc", "id_card"),
            "phone": readable_pii(user, "phone_enc", "phone")}


def me(actor: Actor) -> User:
    user = User.objects(id=parse_id(actor.user_id)).first()
    if user is None:
        raise Unauthorized("token_invalid")
    return user


def bind_phone(actor: Actor, wechat, code: str) -> User:
    """Store the phone number WeChat vouches for (encrypted, with a keyed hash for look-ups)."""
    user = me(actor)
    if not user.openid:
        raise Invalid("wechat.not_a_wechat_user")
    phone = wechat.phone_number(code)["purePhoneNumber"]
    User.objects(id=user.id).update_one(set__phone_enc=pii.cipher().encrypt(phone, context="phone"),
                                        set__phone_hash=pii.cipher().lookup_hash(phone),
                                        set__updated_at=clock.now(), inc__version=1)
    audit.record(actor, "user.bind_phone", "user", user.id)
    return user.reload()
