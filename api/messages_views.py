"""/api/v1/me/messages: one's in-app messages (站内消息) — newest first, read/unread."""
from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields

from api.errors import ErrorSchema
from api.http import BEARER, PageArgs, current_actor, paginate
from workflows.cases.notify import inbox

blp = Blueprint("messages", __name__, url_prefix="/api/v1/me/messages", description="In-app messages")


class MessageOut(Schema):
    id = fields.String()
    kind = fields.String(metadata={"description": "submitted, task_assigned, returned, approved, rejected, cc, …"})
    title = fields.String()
    body = fields.String()
    application_id = fields.String()
    application_number = fields.String()
    task_id = fields.String()
    data = fields.Dict()
    read = fields.Function(lambda m: m.read_at is not None)
    read_at = fields.DateTime(allow_none=True)
    created_at = fields.DateTime()


class MessagesArgs(Schema):
    unread = fields.Boolean(load_default=False, metadata={"description": "only the unread ones"})


MessagePage = Schema.from_dict({"items": fields.List(fields.Nested(MessageOut)), "total": fields.Integer(),
                                "page": fields.Integer(), "page_size": fields.Integer(),
                                "unread": fields.Integer(metadata={"description": "all unread messages"})},
                               name="MessagePage")


@blp.route("")
class Messages(MethodView):
    @blp.arguments(MessagesArgs, location="query")
    @blp.arguments(PageArgs, location="query", as_kwargs=True)
    @blp.response(200, MessagePage)
    @blp.doc(security=[BEARER])
    def get(self, args, **page):
        """My messages, newest first (`unread=true` for the unread ones), with the unread count"""
        actor = current_actor()
        return {**paginate(inbox.messages(actor, unread=args["unread"]), page), "unread": inbox.unread_count(actor)}


@blp.route("/<message_id>/read")
class Read(MethodView):
    @blp.response(200, MessageOut)
    @blp.alt_response(404, schema=ErrorSchema, description="No such message of yours")
    @blp.doc(security=[BEARER])
    def post(self, message_id):
        """Mark one of my messages read"""
        return inbox.mark_read(current_actor(), message_id)
