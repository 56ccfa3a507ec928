"""Access tokens (short JWTs) and refresh tokens (opaque, rotating, one family per login session).

A refresh token is "<session id>.<generation>.<mac>", the mac an HMAC (token key) over the session id, the
generation and the session's random nonce; only its sha256 is stored. Each refresh replaces it with the next
generation by a conditional write; presenting an earlier token of the family is reuse (it was stolen, or the
client is confused) and revokes the whole session. An earlier token is recognised by its generation and mac, so
the session keeps no list of used tokens (it gained one entry per refresh). Tokens of the first format,
"<session id>.<random>", are still judged against the `used_hashes` their session kept.
"""
from __future__ import annotations

import datetime as dt
import base64
import hashlib
import hmac
import secrets
import uuid
from dataclasses import dataclass

import jwt
from bson import ObjectId

from api.identity.models import LoginSession, User
from core import audit, clock
from core.actor import Actor
from core.clock import parse_id
from core.errors import Unauthorized
from core.settings import Settings

ALGORITHM = "HS256"
ISSUER = "zhangban"


@dataclass
class TokenPair:
    access_token: str
    refresh_token: str
    expires_in: int
    token_type: str = "Bearer"


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _access_token(settings: Settings, user_id: str, session_id: str) -> str:
    now = clock.now()
    claims = {"iss": ISSUER, "sub": user_id, "sid": session_id, "typ": "access", "jti": uuid.uuid4().hex,
              "iat": now, "exp": now + dt.timedelta(seconds=settings.access_token_seconds)}
    return jwt.encode(claims, settings.token_key, algorithm=ALGORITHM)


def _refresh_token(settings: Settings, session_id, generation: int, nonce: str) -> str:
    mac = hmac.new(settings.token_key, f"refresh:{session_id}:{generation}:{nonce}".encode(), hashlib.sha256)
    return f"{session_id}.{generation}.{base64.urlsafe_b64encode(mac.digest()).decode().rstrip('=')}"


def _is_earlier(settings: Settings, session: LoginSession, refresh_token: str, presented: str) -> bool:
    """Whether the token is one this session issued before its current one."""
    parts = refresh_token.split(".")
    if len(parts) == 2:
        return presented in (session.used_hashes or [])
    generation = parts[1]
    if not (session.nonce and generation.isascii() and generation.isdigit() and len(generation) <= 9):
        return False
    return int(generation) < session.generation and hmac.compare_digest(
        refresh_token, _refresh_token(settings, session.id, int(generation), session.nonce))


def issue(settings: Settings, user: User) -> TokenPair:
    """Start a new login session for the user and return its first token pair."""
    session_id, nonce = ObjectId(), secrets.token_urlsafe(16)
    refresh = _refresh_token(settings, session_id, 0, nonce)
    LoginSession(id=session_id, user_id=user.id, current_hash=_digest(refresh), nonce=nonce, generation=0,
                 expires_at=clock.now() + dt.timedelta(seconds=settings.refresh_token_seconds)).save(force_insert=True)
    return TokenPair(_access_token(settings, str(user.id), str(session_id)), refresh, settings.access_token_seconds)


def rotate(settings: Settings, refresh_token: str) -> TokenPair:
    session_id, _, secret = (refresh_token or "").partition(".")
    refresh_token = refresh_token or ""
    sid = parse_id(session_id) if secret else None
    session = LoginSession.objects(id=sid).first() if sid else None
    if session is None:
        raise Unauthorized("refresh_invalid")
    presented = _digest(refresh_token)
    if presented == session.current_hash and not session.revoked_at \
            and clock.as_utc(session.expires_at) > clock.now():
        user = User.objects(id=session.user_id, disabled__ne=True).only("id").first()
        if user is None:
            raise Unauthorized("refresh_invalid")
        nonce = session.nonce or secrets.token_urlsafe(16)    # a session of the first format moves to this one
        generation = (session.generation or 0) + 1
        new_refresh = _refresh_token(settings, session.id, generation, nonce)
        if LoginSession.objects(id=session.id, current_hash=presented, revoked_at=None).update_one(
                set__current_hash=_digest(new_refresh), set__generation=generation, set__nonce=nonce,
                inc__version=1):
            return TokenPair(_access_token(settings, str(user.id), str(session.id)), new_refresh,
                             settings.access_token_seconds)
        session.reload()   # another request rotated (or revoked) it a moment ago: judge the token again
    if _is_earlier(settings, session, refresh_token, presented):
        # An earlier token of the family (stolen, or sent twice at once): end the whole family, and record the
        # revocation once, by whichever request made it.
        if revoke(session.id, reason="refresh token reused"):
            audit.record(Actor(user_id=str(session.user_id)), "auth.refresh_reuse", "session", session.id)
        raise Unauthorized("refresh_reused")
    raise Unauthorized("refresh_invalid")


def revoke(session_id, *, reason: str) -> bool:
    return bool(LoginSession.objects(id=session_id, revoked_at=None).update_one(
        set__revoked_at=clock.now(), set__revoked_reason=reason, inc__version=1))


def decode_access(settings: Settings, token: str) -> dict:
    try:
        claims = jwt.decode(token, settings.token_key, algorithms=[ALGORITHM], issuer=ISSUER,
                            options={"require": ["exp", "iat", "sub", "sid", "typ"]})
    except jwt.ExpiredSignatureError:
        raise Unauthorized("token_expired") from None
    except jwt.PyJWTError:
        raise Unauthorized("token_invalid") from None
    if claims.get("typ") != "access":
        raise Unauthorized("token_invalid")
    return claims
