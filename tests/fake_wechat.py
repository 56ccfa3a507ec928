"""A local stand-in for the WeChat server APIs, speaking their documented protocol.

- GET  /sns/jscode2session?appid&secret&js_code&grant_type → {openid, session_key, unionid?} or {errcode, errmsg}
- GET  /cgi-bin/token?grant_type=client_credential&appid&secret → {access_token, expires_in}
- POST /wxa/business/getuserphonenumber?access_token → {errcode: 0, phone_info: {...}}
- POST /cgi-bin/message/subscribe/send?access_token → {errcode: 0} or an error; every accepted message is kept in
  `sent` (and every request in `send_requests`). `refuse(openid)` answers 43101 for that person, `busy(openid, n)`
  answers -1 n times, `expire_access_tokens()` makes the current tokens answer 42001, `revoke_access_tokens()` 40001.
Login codes are single-use. Codes "err-40029", "err-45011", "err-40226", "err-busy" answer with those errors.
"""
from __future__ import annotations

import json
import secrets
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

ERROR_CODES = {"err-40029": (40029, "invalid code"), "err-45011": (45011, "api minute-quota reach limit"),
               "err-40226": (40226, "high risk user"), "err-busy": (-1, "system error")}


class FakeWeChat:
    def __init__(self, appid="wx-test-appid", secret="wx-test-secret"):
        self.appid, self.secret = appid, secret
        self.login_codes: dict[str, dict] = {}
        self.phone_codes: dict[str, str] = {}
        self.used_codes: set[str] = set()
        self.access_tokens: dict[str, int] = {}
        self.token_fetches = 0
        self.expires_in = 7200
        self.calls: list[str] = []
        self.sent: list[dict] = []               # subscribe messages accepted
        self.send_requests: list[dict] = []      # every subscribe/send request, with the errcode it got
        self.refused: set[str] = set()           # openids that have not subscribed (43101)
        self.busy_left: dict[str, int] = {}      # openid → how many more sends answer -1
        self.expired_tokens: set[str] = set()
        self._lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def start(self):
        self.thread.start()
        return self

    def stop(self):
        self.server.shutdown()
        self.server.server_close()

    # -- what a test arranges ---------------------------------------------------------------------------------
    def login_code(self, openid=None, unionid=None) -> str:
        code = "code-" + secrets.token_hex(8)
        self.login_codes[code] = {"openid": openid or "o-" + secrets.token_hex(8),
                                  "session_key": "sk-" + secrets.token_hex(12), **({"unionid": unionid} if unionid else {})}
        return code

    def phone_code(self, phone="13912345678") -> str:
        code = "phone-" + secrets.token_hex(8)
        self.phone_codes[code] = phone
        return code

    def revoke_access_tokens(self):
        self.access_tokens.clear()

    def expire_access_tokens(self):
        with self._lock:
            self.expired_tokens.update(self.access_tokens)
            self.access_tokens.clear()

    def refuse(self, openid):
        self.refused.add(openid)

    def busy(self, openid, times=1):
        self.busy_left[openid] = times

    def reset_messages(self):
        with self._lock:
            self.sent.clear()
            self.send_requests.clear()
            self.refused.clear()
            self.busy_left.clear()

    # -- the protocol ------------------------------------------------------------------------------------------
    def jscode2session(self, query):
        if query.get("appid") != self.appid or query.get("secret") != self.secret:
            return {"errcode": 40013, "errmsg": "invalid appid"}
        code = query.get("js_code", "")
        if code in ERROR_CODES:
            errcode, errmsg = ERROR_CODES[code]
            return {"errcode": errcode, "errmsg": errmsg}
        with self._lock:
            if code in self.used_codes or code not in self.login_codes:
                return {"errcode": 40029, "errmsg": "invalid code"}
            self.used_codes.add(code)
        return dict(self.login_codes[code])

    def token(self, query):
        if query.get("appid") != self.appid or query.get("secret") != self.secret:
            return {"errcode": 40013, "errmsg": "invalid appid"}
        with self._lock:
            self.token_fetches += 1
            token = "at-" + secrets.token_hex(16)
            self.access_tokens[token] = self.expires_in
        return {"access_token": token, "expires_in": self.expires_in}

    def phone(self, query, body):
        if query.get("access_token") not in self.access_tokens:
            return {"errcode": 40001, "errmsg": "invalid credential, access_token is invalid or not latest"}
        code = body.get("code", "")
        with self._lock:
            if code in self.used_codes or code not in self.phone_codes:
                return {"errcode": 40029, "errmsg": "invalid code"}
            self.used_codes.add(code)
        number = self.phone_codes[code]
        return {"errcode": 0, "errmsg": "ok", "phone_info": {
            "phoneNumber": number, "purePhoneNumber": number, "countryCode": "86",
            "watermark": {"timestamp": 1700000000, "appid": self.appid}}}

    def subscribe_send(self, query, body):
        token = query.get("access_token")
        with self._lock:
            if token in self.expired_tokens:
                answer = {"errcode": 42001, "errmsg": "access_token expired"}
            elif token not in self.access_tokens:
                answer = {"errcode": 40001, "errmsg": "invalid credential, access_token is invalid or not latest"}
            elif not isinstance(body.get("touser"), str) or not body["touser"]:
                answer = {"errcode": 40003, "errmsg": "invalid openid"}
            elif not isinstance(body.get("template_id"), str) or not body["template_id"]:
                answer = {"errcode": 40037, "errmsg": "invalid template_id"}
            elif not isinstance(body.get("data"), dict) or not all(
                    isinstance(v, dict) and isinstance(v.get("value"), str) and v["value"]
                    for v in body["data"].values()):
                answer = {"errcode": 47003, "errmsg": "argument invalid! data.value invalid"}
            elif body.get("miniprogram_state", "formal") not in ("formal", "trial", "developer"):
                answer = {"errcode": 47003, "errmsg": "argument invalid! miniprogram_state"}
            elif body["touser"] in self.refused:
                answer = {"errcode": 43101, "errmsg": "user refuse to accept the msg"}
            elif self.busy_left.get(body["touser"], 0) > 0:
                self.busy_left[body["touser"]] -= 1
                answer = {"errcode": -1, "errmsg": "system error"}
            else:
                self.sent.append(body)
                answer = {"errcode": 0, "errmsg": "ok", "msgid": len(self.sent)}
            self.send_requests.append({**body, "errcode": answer["errcode"]})
        return answer

    def _handler(self):
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def _reply(self, payload):
                raw = json.dumps(payload).encode()
                self.send_response(200)   # WeChat reports its errors in the body, with HTTP 200
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            def do_GET(self):
                url = urlparse(self.path)
                query = {k: v[0] for k, v in parse_qs(url.query).items()}
                fake.calls.append(url.path)
                if url.path == "/sns/jscode2session":
                    return self._reply(fake.jscode2session(query))
                if url.path == "/cgi-bin/token":
                    return self._reply(fake.token(query))
                self.send_error(404)

            def do_POST(self):
                url = urlparse(self.path)
                query = {k: v[0] for k, v in parse_qs(url.query).items()}
                fake.calls.append(url.path)
                length = int(self.headers.get("Content-Length") or 0)
                try:
                    body = json.loads(self.rfile.read(length) or b"{}")
                except ValueError:
                    return self._reply({"errcode": 47001, "errmsg": "data format error"})
                if url.path == "/wxa/business/getuserphonenumber":
                    return self._reply(fake.phone(query, body))
                if url.path == "/cgi-bin/message/subscribe/send":
                    return self._reply(fake.subscribe_send(query, body))
                self.send_error(404)

            def log_message(self, *args):
                pass

        return Handler
