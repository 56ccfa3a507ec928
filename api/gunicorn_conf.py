"""gunicorn's settings for `zhangban serve` (`--config python:api.gunicorn_conf`).

gunicorn refuses some requests before the app sees them: a request line over 8 kB (414, e.g. a 100 kB query
string), a header over 8 kB (431, e.g. a 100 kB Authorization header), too many headers, a malformed request
(400). Its limits stay — they keep huge requests out of the workers — but its answers come in the one error
shape (docs/errors.md) instead of an HTML page: `post_worker_init` gives each worker a JSON `write_error`.
"""
from __future__ import annotations

import json
import secrets

from gunicorn import util

# gunicorn's defaults, stated: the largest request line and header the app ever sees
limit_request_line = 8190
limit_request_field_size = 8190
limit_request_fields = 100

CODES = {400: "bad_request", 403: "forbidden", 414: "uri_too_long", 417: "bad_request",
         431: "headers_too_large", 500: "internal_error", 501: "not_implemented"}


def write_json_error(sock, status_int, reason, mesg):
    """gunicorn.util.write_error, answering in the one error shape. The headers were not read, so the message
    is in zh-CN (the default language) and the request id is a new one."""
    from api import i18n

    code = CODES.get(status_int, "bad_request" if status_int < 500 else "internal_error")
    request_id = secrets.token_hex(8)
    body = json.dumps({"code": code, "message": i18n.message(code, lang="zh-CN"), "errors": [],
                       "request_id": request_id}, ensure_ascii=False).encode()
    head = (f"HTTP/1.1 {status_int} {reason}\r\nConnection: close\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\nX-Request-ID: {request_id}\r\n\r\n")
    util.write_nonblock(sock, head.encode("latin-1") + body)


def post_worker_init(worker):
    util.write_error = write_json_error
