"""免申即享: policies (designers), residents' profile attributes and runs (admins), grants (residents)."""
from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from api import i18n
from api.errors import ErrorSchema
from api.http import BEARER, current_actor
from core.errors import Forbidden
from workflows.cases.policies import evaluate, service
from workflows.cases.policies.models import GRANT_STATUSES, PERIODS

blp = Blueprint("policies", __name__, url_prefix="/api/v1",
                description="免申即享: benefits granted without an application, decided by a published DMN decision")

i18n.register({
    "policy.invalid": ("政策的 DMN 决策表有误", "The policy's DMN decision has problems"),
    "policy.exists": ("该政策编码已存在", "A policy with this code exists"),
    "policy.unknown_decision": ("DMN 文件中没有该决策", "The DMN file has no decision with this id"),
    "policy.changed": ("政策已被修改，请刷新后重试", "The policy changed; reload and try again"),
    "grant.already_answered": ("该待遇已确认或放弃", "This grant was already confirmed or declined"),
    "grant.changed": ("待遇已变化，请刷新后重试", "The grant changed; reload and try again"),
})

CODE = validate.Regexp(r"^[a-z][a-z0-9_]{0,63}$")
VERSION = fields.Integer(required=True, validate=validate.Range(min=1, max=2 ** 62))


class PolicyBodyIn(Schema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    benefit = fields.String(load_default="", validate=validate.Length(max=2000))
    department = fields.String(required=True, validate=validate.Length(min=1, max=64))
    dmn_xml = fields.String(required=True, validate=validate.Length(min=1, max=500_000),
                            metadata={"description": "DMN 1.3 with one decision table; inputs: age, district, "
                                                     "hukou, licences (kinds of valid 电子证照) and the profile's "
                                                     "attributes; output `eligible` (True grants)"})
    decision_id = fields.String(required=True, validate=validate.Length(min=1, max=200))
    period = fields.String(load_default="year", validate=validate.OneOf(PERIODS),
                           metadata={"description": "once | year | month: at most one grant per person and period"})


class PolicyIn(PolicyBodyIn):
    code = fields.String(required=True, validate=CODE)


class PolicyPatchIn(Schema):
    version = VERSION
    name = fields.String(validate=validate.Length(min=1, max=200))
    benefit = fields.String(validate=validate.Length(max=2000))
    dmn_xml = fields.String(validate=validate.Length(min=1, max=500_000))
    decision_id = fields.String(validate=validate.Length(min=1, max=200))
    period = fields.String(validate=validate.OneOf(PERIODS))


class PolicyOut(Schema):
    code = fields.String()
    name = fields.String(attribute="body.name")
    benefit = fields.String(attribute="body.benefit")
    department = fields.String(attribute="body.department")
    dmn_xml = fields.String(attribute="body.dmn_xml")
    decision_id = fields.String(attribute="body.decision_id")
    period = fields.String(attribute="body.period")
    published = fields.Integer(metadata={"description": "the current published version (0: none yet)"})
    version = fields.Integer()


class PolicyVersionOut(Schema):
    code = fields.String()
    number = fields.Integer()
    name = fields.String(attribute="body.name")
    decision_id = fields.String(attribute="body.decision_id")
    period = fields.String(attribute="body.period")
    published_at = fields.DateTime()


class ResidentProfileIn(Schema):
    birth_date = fields.Date(load_default=None, allow_none=True)
    district = fields.String(load_default="", validate=validate.Regexp(r"^$|^\d{6}$"))
    hukou = fields.String(load_default="", validate=validate.Regexp(r"^$|^\d{6}$"),
                          metadata={"description": "the household registration's region code (户籍)"})
    attributes = fields.Dict(keys=fields.String(validate=validate.Regexp(r"^[a-z][a-z0-9_]{0,63}$")),
                             load_default=dict, validate=validate.Length(max=50))


ProfileOut = Schema.from_dict({"user_id": fields.String(attribute="id"), "birth_date": fields.Date(allow_none=True),
                               "district": fields.String(), "hukou": fields.String(), "attributes": fields.Dict(),
                               "updated_at": fields.DateTime()}, name="ResidentProfileOut")


class PolicyRunIn(Schema):
    policy = fields.String(load_default=None, validate=CODE)
    batch = fields.Integer(load_default=200, validate=validate.Range(min=1, max=2000))


EvaluateOut = Schema.from_dict({k: fields.Integer() for k in ("policies", "residents", "eligible", "granted",
                                                              "already", "failed")} | {"by_policy": fields.Dict()},
                               name="PolicyRunOut")


class PolicyGrantOut(Schema):
    id = fields.String()
    policy_code = fields.String()
    policy_name = fields.String()
    benefit = fields.String()
    period = fields.String()
    status = fields.String(metadata={"description": "offered | confirmed | declined"})
    outputs = fields.Dict(metadata={"description": "what the decision answered (eligible, amount, …)"})
    inputs = fields.Dict(metadata={"description": "the facts the decision used"})
    reason = fields.String()
    created_at = fields.DateTime()
    decided_at = fields.DateTime(allow_none=True)
    version = fields.Integer()


class GrantListArgs(Schema):
    status = fields.String(load_default=None, validate=validate.OneOf(GRANT_STATUSES))


class GrantAnswerIn(Schema):
    version = VERSION
    reason = fields.String(load_default="", validate=validate.Length(max=500))


# -- designers -----------------------------------------------------------------------------------------------------

@blp.route("/designer/policies")
class Policies(MethodView):
    @blp.response(200, PolicyOut(many=True))
    @blp.doc(security=[BEARER])
    def get(self):
        """The policies of my departments"""
        return service.list_for(current_actor())

    @blp.arguments(PolicyIn)
    @blp.response(201, PolicyOut)
    @blp.alt_response(422, schema=ErrorSchema, description="The DMN has problems (each by path and element id)")
    @blp.doc(security=[BEARER])
    def post(self, body):
        """Draft a policy: a DMN decision over residents' profile attributes"""
        return service.create(current_actor(), **body)


@blp.route("/designer/policies/<code>")
class PolicyItem(MethodView):
    @blp.response(200, PolicyOut)
    @blp.doc(security=[BEARER])
    def get(self, code):
        """One policy's draft"""
        return service.get(current_actor(), code)

    @blp.arguments(PolicyPatchIn)
    @blp.response(200, PolicyOut)
    @blp.alt_response(409, schema=ErrorSchema, description="Changed since you read it")
    @blp.doc(security=[BEARER])
    def patch(self, body, code):
        """Change the draft (send the version you read)"""
        version = body.pop("version")
        return service.update(current_actor(), code, version, **body)


@blp.route("/designer/policies/<code>/publish")
class PublishPolicy(MethodView):
    @blp.response(201, PolicyVersionOut)
    @blp.doc(security=[BEARER])
    def post(self, code):
        """Publish the draft: residents are decided by this version from the next run on"""
        return service.publish(current_actor(), code)


# -- admins --------------------------------------------------------------------------------------------------------

@blp.route("/admin/resident-profiles/<user_id>")
class ResidentProfileItem(MethodView):
    @blp.arguments(ResidentProfileIn)
    @blp.response(200, ProfileOut)
    @blp.doc(security=[BEARER])
    def put(self, body, user_id):
        """Set a resident's profile attributes (from the population registry; admins)"""
        return service.put_profile(current_actor(), user_id, **body)


@blp.route("/admin/policies/evaluate")
class Evaluate(MethodView):
    @blp.arguments(PolicyRunIn)
    @blp.response(200, EvaluateOut)
    @blp.doc(security=[BEARER])
    def post(self, body):
        """Run the current policies now (what `zhangban policies evaluate` and the worker do; admins)"""
        actor = current_actor()
        if not actor.is_admin:
            raise Forbidden()
        return evaluate.evaluate(actor, batch=body["batch"], policy_code=body["policy"])


# -- residents -----------------------------------------------------------------------------------------------------

@blp.route("/me/grants")
class Grants(MethodView):
    @blp.arguments(GrantListArgs, location="query")
    @blp.response(200, PolicyGrantOut(many=True))
    @blp.doc(security=[BEARER])
    def get(self, args):
        """Benefits granted to me without applying (免申即享), newest first"""
        return service.my_grants(current_actor(), args["status"])


@blp.route("/me/grants/<grant_id>/confirm")
class Confirm(MethodView):
    @blp.arguments(GrantAnswerIn)
    @blp.response(200, PolicyGrantOut)
    @blp.alt_response(409, schema=ErrorSchema, description="Already answered, or changed")
    @blp.doc(security=[BEARER])
    def post(self, body, grant_id):
        """Confirm a grant offered to me (确认享受)"""
        return service.answer(current_actor(), grant_id, body["version"], confirm=True)


@blp.route("/me/grants/<grant_id>/decline")
class Decline(MethodView):
    @blp.arguments(GrantAnswerIn)
    @blp.response(200, PolicyGrantOut)
    @blp.alt_response(409, schema=ErrorSchema, description="Already answered, or changed")
    @blp.doc(security=[BEARER])
    def post(self, body, grant_id):
        """Decline a grant offered to me (放弃)"""
        return service.answer(current_actor(), grant_id, body["version"], confirm=False, reason=body["reason"])
