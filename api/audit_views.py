"""/api/v1/audit: the audit log for admins, newest first, in keyset pages."""
from __future__ import annotations

from datetime import timezone

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields

from api.http import BEARER, DATETIME_RANGE, CursorArgs, current_actor, cursor_schema, keyset_page
from api.identity import admin

blp = Blueprint("audit", __name__, description="The audit log (admins only)")


class AuditArgs(Schema):
    actor_id = fields.String()
    object_type = fields.String()
    object_id = fields.String()
    action = fields.String()
    since = fields.AwareDateTime(default_timezone=timezone.utc, validate=DATETIME_RANGE)
    until = fields.AwareDateTime(default_timezone=timezone.utc, validate=DATETIME_RANGE)


class AuditOut(Schema):
    id = fields.String()
    seq = fields.Integer(allow_none=True, metadata={"description": "null until the record is sealed in the chain"})
    at = fields.DateTime()
    actor_id = fields.String()
    actor_name = fields.String()
    action = fields.String()
    object_type = fields.String()
    object_id = fields.String()
    details = fields.Dict()
    prev_hash = fields.String(allow_none=True)
    hash = fields.String(allow_none=True)


@blp.route("/api/v1/audit")
class Audit(MethodView):
    @blp.arguments(AuditArgs, location="query")
    @blp.arguments(CursorArgs, location="query", as_kwargs=True)
    @blp.response(200, cursor_schema(AuditOut, "AuditPage"))
    @blp.doc(security=[BEARER])
    def get(self, filters, **page):
        """The audit log, newest first (admins only); pass `next` as `after` for the next page"""
        return keyset_page(admin.list_audit(current_actor(), **filters), page)
