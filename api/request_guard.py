"""No work for anonymous bodies (issue 23, item 7), and the client address the rooms' flood brakes count by.

One app-level before_request hook, so it runs before every blueprint's own hooks and before json_guard:
1. the client address goes to core.throttle for this request (cleared again when the request ends);
2. a write (POST, PUT, PATCH, DELETE) to a route that needs a login authenticates first: without a valid bearer
   token it is 401 before a byte of the body is read;
3. the body is capped per route class — `anonymous_body_bytes` (16 KiB) for the routes that need no login (login,
   refresh, WeChat), `max_body_bytes` for the rest — by Content-Length before reading, and while reading a body
   that declares none (Flask's per-request max_content_length): 413;
4. a JSON body's containers and members (`{`, `[`, `,`) are counted before it is parsed: first a count of the raw
   bytes (C speed), and only when that is over the limit the same count outside strings (strings cut out by one
   regular expression). Past `json_max_items` (ANONYMOUS_ITEMS for the routes that need no login) it is 413 and
   is never parsed or walked.
"""
from __future__ import annotations

import re

from flask import request

from api import i18n
from api.errors import error_response
from api.http import client_address, current_actor
from api.runtime import settings
from core import throttle
from core.errors import PayloadTooLarge

# the writes that need no login; every other write authenticates before its body is read
PUBLIC_WRITES = frozenset({"auth.Login", "auth.WeChatLogin", "auth.Refresh", "auth.DevLogin"})
WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})
ANONYMOUS_ITEMS = 100          # containers and members of a body that needs no login (a login has 3)
_STRING = re.compile(rb'"(?:[^"\\]++|\\.)*+"')

i18n.register({
    "request.too_large": ("请求体过大（最多 {limit} 字节）",
                          "The request body is too large (at most {limit} bytes)"),
    "request.too_many_items": ("请求体中的对象和数组元素过多（最多 {limit} 个）",
                               "The request body has too many objects, arrays and members (at most {limit})"),
    "limit.submissions": ("今天提交该事项的次数已达上限，请在 {retry_after} 秒后重试",
                          "You have submitted this service too often today; try again in {retry_after} seconds"),
    "limit.drafts": ("今天保存的草稿已达上限，请在 {retry_after} 秒后重试",
                     "You have created too many drafts today; try again in {retry_after} seconds"),
    "limit.draft_bytes": ("今天保存的草稿内容已达上限，请在 {retry_after} 秒后重试",
                          "Your drafts have written too much today; try again in {retry_after} seconds"),
    "limit.ratings": ("今天的评价次数已达上限，请在 {retry_after} 秒后重试",
                      "You have rated too often today; try again in {retry_after} seconds"),
    "limit.bad_ratings": ("今天的差评次数已达上限，请在 {retry_after} 秒后重试",
                          "You have given too many bad ratings today; try again in {retry_after} seconds"),
    "engine.account_throttled": ("您的办理多次超出该流程的运行限制，请在 {retry_after} 秒后重试",
                                 "Your actions keep hitting this process's limits; try again in {retry_after} seconds"),
    "limit.urges": ("今天的催办次数已达上限，请在 {retry_after} 秒后重试",
                    "You have urged too often today; try again in {retry_after} seconds"),
})


def items_in(raw: bytes, limit: int) -> int:
    """Containers and members of a JSON text, counted outside strings; exact only when above `limit` (below it,
    the raw count, which can only be larger, already says the body is within it)."""
    rough = raw.count(b"{") + raw.count(b"[") + raw.count(b",")
    if rough <= limit:
        return rough
    bare = _STRING.sub(b"", raw)
    return bare.count(b"{") + bare.count(b"[") + bare.count(b",")


def guard():
    throttle.set_address(client_address())
    if request.method not in WRITES or request.routing_exception is not None or request.endpoint is None:
        return None           # 404 and 405 never read the body
    s = settings()
    public = request.endpoint in PUBLIC_WRITES
    if not public:
        current_actor()       # 401 before the body is read
    limit = s.anonymous_body_bytes if public else s.max_body_bytes
    request.max_content_length = limit     # a body that declares no length stops being read here: 413
    if request.content_length is not None and request.content_length > limit:
        raise PayloadTooLarge("request.too_large", params={"limit": limit})
    if not request.is_json:
        return None
    most = ANONYMOUS_ITEMS if public else s.json_max_items
    if items_in(request.get_data(cache=True), most) > most:
        return error_response(413, "payload_too_large", message_key="request.too_many_items", params={"limit": most},
                              errors=[{"path": "", "code": "too_many_items", "limit": most,
                                       "message": i18n.message("request.too_many_items", {"limit": most})}])
    return None


def install(app) -> None:
    """After logs.install (which resets g.actor for the request): app-level hooks run in registration order."""
    app.before_request(guard)
    app.teardown_request(lambda exc: throttle.set_address(None))
