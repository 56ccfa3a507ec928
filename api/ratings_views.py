"""好差评: a resident rates a completed application (/api/v1/applications/{id}/rating); leads and admins list
ratings (/api/v1/ratings). A bad rating's follow-up task is completed in the inbox (/api/v1/tasks/{id}/complete)."""
from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from api import i18n
from api.errors import ErrorSchema
from api.http import BEARER, CursorArgs, current_actor, cursor_schema, keyset_page
from workflows.cases.ratings import service

blp = Blueprint("ratings", __name__, url_prefix="/api/v1", description="好差评: ratings of completed applications")

i18n.register({
    "rating.not_finished": ("办结后才能评价", "An application can be rated once it is completed"),
    "rating.already_rated": ("该办件已评价，可以追加评论", "Already rated; you may add one follow-up comment"),
    "rating.follow_up_exists": ("已追加过评论", "A follow-up comment was already added"),
    "rating.reply_required": ("请填写回访整改情况", "Say what was done about the rating"),
    "rating.not_staff": ("只有部门工作人员和管理员可以查看评价", "Only department staff and admins see ratings"),
    "rating.not_your_department": ("你不属于该部门", "You are not staff of this department"),
})


class RatingIn(Schema):
    score = fields.Integer(required=True, strict=True, validate=validate.Range(min=1, max=5),
                           metadata={"description": "1 (非常不满意) … 5 (非常满意); 1 and 2 open a follow-up"})
    tags = fields.List(fields.String(validate=validate.Length(min=1, max=20)), load_default=list,
                       validate=validate.Length(max=8))
    comment = fields.String(load_default="", validate=validate.Length(max=500))


class FollowUpIn(Schema):
    comment = fields.String(required=True, validate=validate.Length(min=1, max=500))


class NoteOut(Schema):
    at = fields.DateTime()
    comment = fields.String()
    actor_name = fields.String()


class RatingOut(Schema):
    id = fields.String()
    application_id = fields.String()
    application_number = fields.String()
    service_code = fields.String()
    service_name = fields.String()
    department = fields.String()
    score = fields.Integer()
    tags = fields.List(fields.String())
    comment = fields.String()
    follow_up = fields.Nested(NoteOut, allow_none=True, metadata={"description": "the resident's 追评"})
    follow_up_task = fields.String(allow_none=True, metadata={"description": "the department's task (bad ratings)"})
    reply = fields.Nested(NoteOut, allow_none=True, metadata={"description": "what the department did"})
    created_at = fields.DateTime()
    version = fields.Integer()


class RatingsArgs(Schema):
    department = fields.String(load_default=None, validate=validate.Regexp(r"^[0-9a-f]{24}$"))
    bad = fields.Boolean(load_default=False, metadata={"description": "only bad ratings (1–2)"})


@blp.route("/applications/<app_id>/rating")
class ApplicationRating(MethodView):
    @blp.arguments(RatingIn)
    @blp.response(201, RatingOut)
    @blp.alt_response(409, schema=ErrorSchema, description="Not completed yet, or already rated")
    @blp.doc(security=[BEARER])
    def post(self, body, app_id):
        """Rate my completed application (once)"""
        return service.rate(current_actor(), app_id, score=body["score"], tags=body["tags"], comment=body["comment"])

    @blp.response(200, RatingOut)
    @blp.doc(security=[BEARER])
    def get(self, app_id):
        """My rating of the application, with my follow-up and the department's reply"""
        return service.mine(current_actor(), app_id)


@blp.route("/applications/<app_id>/rating/follow-up")
class RatingFollowUp(MethodView):
    @blp.arguments(FollowUpIn)
    @blp.response(200, RatingOut)
    @blp.alt_response(409, schema=ErrorSchema, description="A follow-up was already added")
    @blp.doc(security=[BEARER])
    def post(self, body, app_id):
        """追评: add one comment to my rating (the rating itself does not change)"""
        return service.follow_up(current_actor(), app_id, comment=body["comment"])


@blp.route("/ratings")
class Ratings(MethodView):
    @blp.arguments(RatingsArgs, location="query")
    @blp.arguments(CursorArgs, location="query", as_kwargs=True)
    @blp.response(200, cursor_schema(RatingOut, "RatingPage"))
    @blp.doc(security=[BEARER])
    def get(self, args, **page):
        """Ratings of my departments (leads, approvers) or all (admins), newest first"""
        return keyset_page(service.for_staff(current_actor(), department=args["department"], bad_only=args["bad"]),
                           page)
