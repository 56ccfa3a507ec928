"""/api/v1/auth/* and /api/v1/me: logging in and out, tokens, the caller's own profile."""
from __future__ import annotations

from dataclasses import asdict

from flask.views import MethodView
from flask_smorest import Blueprint

from api import i18n
from api.errors import ErrorSchema
from api.http import BEARER, client_address, current_actor
from api.identity import schemas, service
from api.runtime import runtime, settings

i18n.register({
    "dev_login.no_such_demo_resident": ("没有该演示居民（请先运行 zhangban seed-demo）",
                                        "No such demo resident (run `zhangban seed-demo` first)"),
})

blp = Blueprint("auth", __name__, url_prefix="/api/v1", description="Logging in and out; the caller's profile")


@blp.route("/auth/login")
class Login(MethodView):
    @blp.arguments(schemas.LoginIn)
    @blp.response(200, schemas.TokenOut)
    @blp.alt_response(401, schema=ErrorSchema, description="Wrong username or password")
    @blp.alt_response(429, schema=ErrorSchema, description="Locked after repeated failures (see Retry-After)")
    def post(self, body):
        """Log in with a staff username and password"""
        return asdict(service.login(settings(), body["username"], body["password"], client_address()))


@blp.route("/auth/wechat")
class WeChatLogin(MethodView):
    @blp.arguments(schemas.WeChatLoginIn)
    @blp.response(200, schemas.TokenOut)
    @blp.alt_response(422, schema=ErrorSchema, description="The code is invalid or already used (WeChat 40029)")
    @blp.alt_response(502, schema=ErrorSchema, description="WeChat failed or could not be reached")
    @blp.alt_response(503, schema=ErrorSchema, description="WeChat login is not configured, or WeChat is busy")
    def post(self, body):
        """Log in a resident with a mini-program `wx.login` code"""
        return asdict(service.wechat_login(settings(), runtime().wechat, body["code"]))


@blp.route("/auth/dev-login")
class DevLogin(MethodView):
    @blp.arguments(schemas.DevLoginIn)
    @blp.response(200, schemas.TokenOut)
    @blp.alt_response(404, schema=ErrorSchema, description="In production, or no such demo resident")
    def post(self, body):
        """Development only: log in as a demo resident (openid `demo-…`) without WeChat; 404 in production"""
        return asdict(service.dev_login(settings(), body["openid"]))


@blp.route("/auth/refresh")
class Refresh(MethodView):
    @blp.arguments(schemas.RefreshIn)
    @blp.response(200, schemas.TokenOut)
    @blp.alt_response(401, schema=ErrorSchema, description="Invalid, expired or reused refresh token")
    def post(self, body):
        """Exchange a refresh token for a new pair (the old refresh token stops working)"""
        return asdict(service.refresh(settings(), body["refresh_token"]))


@blp.route("/auth/logout")
class Logout(MethodView):
    @blp.response(204)
    @blp.doc(security=[BEARER])
    def post(self):
        """End this login session: its refresh tokens stop working, and so does the access token"""
        service.logout(current_actor())


@blp.route("/me")
class Me(MethodView):
    @blp.response(200, schemas.UserOut)
    @blp.doc(security=[BEARER])
    def get(self):
        """The caller's own profile"""
        return service.me(current_actor())


@blp.route("/me/phone")
class MyPhone(MethodView):
    @blp.arguments(schemas.PhoneCodeIn)
    @blp.response(200, schemas.UserOut)
    @blp.alt_response(422, schema=ErrorSchema, description="Not a WeChat user, or the code is invalid")
    @blp.alt_response(502, schema=ErrorSchema, description="WeChat failed or could not be reached")
    @blp.alt_response(503, schema=ErrorSchema, description="WeChat is not configured, or busy")
    @blp.doc(security=[BEARER])
    def post(self, body):
        """Bind the phone number from a mini-program `getPhoneNumber` code"""
        return service.bind_phone(current_actor(), runtime().wechat, body["code"])
