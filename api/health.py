"""Liveness, readiness and the audit log API."""
from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint
from datetime import timezone

from marshmallow import Schema, fields

from api.errors import error_response
from api.errors import ErrorSchema
from api.http import BEARER, DATETIME_RANGE, PageArgs, current_actor, page_schema, paginate
from api.identity import admin
from api.runtime import runtime
from core.db import database
from core.errors import Unavailable

blp = Blueprint("health", __name__, description="Health checks and the audit log")


@blp.route("/healthz")
class Healthz(MethodView):
    @blp.response(200)
    def get(self):
        """The process is alive"""
        return {"status": "ok"}


@blp.route("/readyz")
class Readyz(MethodView):
    @blp.response(200)
    @blp.alt_response(503, schema=ErrorSchema, description="A backing service is down; `errors` names it")
    def get(self):
        """MongoDB answers a ping and the object store is usable"""
        failed = []
        try:
            database().client.admin.command("ping")
        except Exception as exc:   # any failure of the ping is "not ready", named below
            failed.append({"path": "mongodb", "code": "unavailable", "message": type(exc).__name__})
        try:
            runtime().store.check()
        except Unavailable as exc:
            failed.append({"path": "object_store", "code": "unavailable", "message": exc.detail or ""})
        if failed:
            return error_response(503, "unavailable", errors=failed)
        return {"status": "ready", "mongodb": "ok", "object_store": runtime().store.name}


class AuditArgs(Schema):
    actor_id = fields.String()
    object_type = fields.String()
    object_id = fields.String()
    action = fields.String()
    since = fields.AwareDateTime(default_timezone=timezone.utc, validate=DATETIME_RANGE)
    until = fields.AwareDateTime(default_timezone=timezone.utc, validate=DATETIME_RANGE)


class AuditOut(Schema):
    id = fields.String()
    seq = fields.Integer()
    at = fields.DateTime()
    actor_id = fields.String()
    actor_name = fields.String()
    action = fields.String()
    object_type = fields.String()
    object_id = fields.String()
    details = fields.Dict()
    prev_hash = fields.String()
    hash = fields.String()


@blp.route("/api/v1/audit")
class Audit(MethodView):
    @blp.arguments(AuditArgs, location="query")
    @blp.arguments(PageArgs, location="query", as_kwargs=True)
    @blp.response(200, page_schema(AuditOut, "AuditPage"))
    @blp.doc(security=[BEARER])
    def get(self, filters, **page):
        """The audit log, newest first (admins only)"""
        return paginate(admin.list_audit(current_actor(), **filters), page)
