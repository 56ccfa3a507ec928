"""A client for the WeChat mini-program server APIs we use: jscode2session, the access token, phone numbers.

The base URL is configuration, so tests point it at a local fake that speaks the same protocol.
WeChat answers HTTP 200 with an `errcode` for its errors; each known code maps to a clear error here.
"""
from __future__ import annotations

import datetime as dt
import json
import threading
import urllib.error
import urllib.parse
import urllib.request

from core import clock, pii
from core.errors import Forbidden, Invalid, TooManyRequests, Unavailable, UpstreamError
from core.settings import Settings

TOKEN_MARGIN = dt.timedelta(minutes=5)   # refresh the access token this long before WeChat's expiry
INVALID_TOKEN_CODES = (40001, 42001, 40014)


def raise_for_errcode(payload: dict) -> None:
    errcode = payload.get("errcode") or 0
    if errcode == 0:
        return
    if errcode in (40029, 40163):   # invalid code / code already used
        raise Invalid("wechat.invalid_code", errors=[{"path": "/code", "code": "wechat_40029",
                                                      "message": payload.get("errmsg", "invalid code")}])
    if errcode == 45011:
        raise TooManyRequests("wechat.rate_limited", retry_after=60)
    if errcode == 40226:
        raise Forbidden("wechat.high_risk_user")
    if errcode == -1:
        raise Unavailable("wechat.busy")
    raise UpstreamError("wechat.error", params={"errcode": errcode})


class WeChatClient:
    def __init__(self, settings: Settings):
        self.base = settings.wechat_api_base
        self.appid = settings.wechat_appid
        self.secret = settings.wechat_secret
        self.timeout = settings.wechat_timeout_seconds
        self._token: tuple[str, dt.datetime] | None = None
        self._lock = threading.Lock()

    def _require_config(self):
        if not (self.appid and self.secret):
            raise Unavailable("wechat.not_configured")

    def _call(self, method: str, path: str, query: dict, body: dict | None = None) -> dict:
        url = f"{self.base}{path}?{urllib.parse.urlencode(query)}"
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(url, data=data, method=method,
                                     headers={"Content-Type": "application/json"} if data else {})
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as response:
                payload = json.loads(response.read() or b"{}")
        except (urllib.error.URLError, TimeoutError, ConnectionError, ValueError) as exc:
            raise UpstreamError("wechat.unreachable", detail=type(exc).__name__) from None
        if not isinstance(payload, dict):
            raise UpstreamError("wechat.error", params={"errcode": "not an object"})
        return payload

    def code2session(self, code: str) -> dict:
        """→ {openid, session_key, unionid?}; raises the mapped error for WeChat's errcodes."""
        self._require_config()
        payload = self._call("GET", "/sns/jscode2session", {"appid": self.appid, "secret": self.secret,
                                                             "js_code": code, "grant_type": "authorization_code"})
        raise_for_errcode(payload)
        if not payload.get("openid") or not payload.get("session_key"):
            raise UpstreamError("wechat.error", params={"errcode": "no openid"})
        return payload

    def access_token(self, *, force_refresh: bool = False) -> str:
        """The cached access token, shared through MongoDB by every worker, fetched when near expiry."""
        from api.identity.models import WeChatAccessToken

        self._require_config()
        with self._lock:
            now = clock.now()
            if not force_refresh and self._token and self._token[1] - TOKEN_MARGIN > now:
                return self._token[0]
            stored = None if force_refresh else WeChatAccessToken.objects(appid=self.appid).first()
            if stored and clock.as_utc(stored.expires_at) - TOKEN_MARGIN > now:
                try:
                    self._token = (pii.cipher().decrypt(stored.token_enc, context="wechat"),
                                   clock.as_utc(stored.expires_at))
                    return self._token[0]
                except pii.PiiDecryptError:
                    pass   # stored under another key (keys regenerated): fetch a new one below
            payload = self._call("GET", "/cgi-bin/token", {"grant_type": "client_credential",
                                                           "appid": self.appid, "secret": self.secret})
            raise_for_errcode(payload)
            token, expires_in = payload.get("access_token"), payload.get("expires_in", 7200)
            if not isinstance(token, str) or not token or not isinstance(expires_in, int):
                raise UpstreamError("wechat.error", params={"errcode": "no access_token"})
            expires_at = now + dt.timedelta(seconds=expires_in)
            WeChatAccessToken.objects(appid=self.appid).update_one(
                upsert=True, set__token_enc=pii.cipher().encrypt(token, context="wechat"),
                set__expires_at=expires_at)
            self._token = (token, expires_at)
            return token

    def phone_number(self, code: str) -> dict:
        """→ phone_info {phoneNumber, purePhoneNumber, countryCode, watermark}."""
        for attempt in range(2):
            token = self.access_token(force_refresh=attempt > 0)
            payload = self._call("POST", "/wxa/business/getuserphonenumber", {"access_token": token},
                                 {"code": code})
            if payload.get("errcode") in INVALID_TOKEN_CODES and attempt == 0:
                continue   # WeChat revoked the token early (e.g. another client fetched one): fetch anew once
            raise_for_errcode(payload)
            info = payload.get("phone_info")
            if not isinstance(info, dict) or not isinstance(info.get("purePhoneNumber"), str) \
                    or not info["purePhoneNumber"]:
                raise UpstreamError("wechat.error", params={"errcode": "no phone_info"})
            return info
        raise UpstreamError("wechat.error", params={"errcode": "access_token"})

    def subscribe_send(self, message: dict) -> dict:
        """`subscribeMessage.send`: WeChat's answer ({errcode, errmsg}). A revoked or expired access token is
        fetched anew once and the send tried again; other errcodes are the caller's to judge."""
        payload: dict = {}
        for attempt in range(2):
            token = self.access_token(force_refresh=attempt > 0)
            payload = self._call("POST", "/cgi-bin/message/subscribe/send", {"access_token": token}, message)
            if payload.get("errcode") not in INVALID_TOKEN_CODES:
                break
        return payload


# errcodes of subscribeMessage.send that no retry can mend: invalid openid, template id, page, data, state
PERMANENT_SEND_ERRORS = {40003, 40037, 41030, 47003, 47001, 40036}


class SubscribeSender:
    """What the worker's delivery needs from this room: a person's openid, and WeChat's answer as an outcome."""

    def __init__(self, client: WeChatClient):
        self.client = client

    def openid(self, user_id: str) -> str | None:
        from api.identity.models import User

        oid = clock.parse_id(user_id)
        user = User.objects(id=oid, openid__ne=None, disabled__ne=True).only("openid").first() if oid else None
        return user.openid if user else None

    def send(self, message: dict):
        from core.errors import DomainError
        from workflows.cases.notify.delivery import Outcome

        try:
            payload = self.client.subscribe_send(message)
        except DomainError as exc:      # unreachable, or no access token to be had: try again later
            return Outcome("retry", " ".join(str(x) for x in (exc.message_key, exc.params or "", exc.detail or "") if x))
        errcode = payload.get("errcode") or 0
        errmsg = str(payload.get("errmsg", ""))[:200]
        if errcode == 0:
            return Outcome("sent")
        if errcode == 43101:            # not subscribed (or the one-time subscription is used up): never retried
            return Outcome("refused", f"43101 {errmsg}")
        if errcode in PERMANENT_SEND_ERRORS:
            return Outcome("failed", f"{errcode} {errmsg}")
        return Outcome("retry", f"{errcode} {errmsg}")   # -1 busy, 45009 quota, a token refused twice, …
