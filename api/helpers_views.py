"""帮办代办: /api/v1/me/authorisations (a resident authorises a helper, lists and revokes) and /api/v1/helper/…
(a helper records an on-site authorisation, lists whom they may act for, submits, supplements and reads for them).
Identity is looked up here and handed to workflows/cases/proxy as plain Actor values."""
from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from api import i18n
from api.applications_schemas import ApplicationOut, SupplementIn
from api.attachments_schemas import IdempotencyHeaders
from api.errors import ErrorSchema
from api.http import BEARER, DATETIME_RANGE, PageArgs, current_actor, page_schema, paginate
from api.identity.models import User
from api.identity.service import actor_of, profile
from core import clock, pii
from core.errors import Invalid
from workflows.cases.proxy import service
from workflows.cases.proxy.models import ACTIONS

blp = Blueprint("helpers", __name__, url_prefix="/api/v1", description="帮办代办: helpers acting for residents")

i18n.register({
    "proxy.not_a_helper": ("对方不是帮办代办人员", "That person is not a helper (帮办代办)"),
    "proxy.not_authorised": ("该居民未授权您办理此事项，或授权已过期、已撤销",
                             "The resident has not authorised you for this, or the authorisation expired or was "
                             "revoked"),
    "proxy.bad_expiry": ("授权期限须在将来且不超过一年", "The expiry must be in the future and within a year"),
    "proxy.bad_actions": ("授权范围须为 submit、supplement 之一或两者", "Actions are submit and/or supplement"),
    "proxy.not_a_signature": ("须为居民的签名文件", "The file must be the resident's signature"),
    "proxy.no_such_helper": ("没有这个帮办代办人员", "No such helper"),
    "proxy.no_such_resident": ("没有找到该居民（须已实名登记）", "No resident with this ID card (verified) was found"),
})

SCOPE = {"services": fields.List(fields.String(validate=validate.Length(1, 64)), load_default=list,
                                 validate=validate.Length(max=50),
                                 metadata={"description": "service codes; empty = every service"}),
         "actions": fields.List(fields.String(validate=validate.OneOf(ACTIONS)), required=True,
                                validate=validate.Length(min=1, max=2)),
         "expires_at": fields.AwareDateTime(required=True, validate=DATETIME_RANGE, metadata={
             "description": "when it ends (within a year)"})}


class AuthorisationGrantIn(Schema.from_dict({**SCOPE})):
    helper = fields.String(required=True, validate=validate.Length(1, 64), metadata={"description": "their username"})


class OnSiteAuthorisationIn(Schema.from_dict({**SCOPE})):
    resident_id_card = fields.String(required=True, validate=validate.Length(15, 18),
                                     metadata={"description": "the resident's 身份证号 (their verified account)"})
    signature = fields.String(required=True, validate=validate.Length(1, 64),
                              metadata={"description": "the resident's signature, uploaded by you (kind signature)"})


class AuthorisationOut(Schema):
    id = fields.String()
    resident_id = fields.String()
    resident_name = fields.String()
    helper_id = fields.String()
    helper_name = fields.String()
    services = fields.List(fields.String())
    actions = fields.List(fields.String())
    kind = fields.String(metadata={"description": "resident (granted in the app) or on_site (with a signature)"})
    signature = fields.String(allow_none=True)
    expires_at = fields.DateTime()
    revoked_at = fields.DateTime(allow_none=True)
    created_at = fields.DateTime()


class ForResidentIn(Schema):
    resident_id = fields.String(required=True, validate=validate.Length(1, 64))
    service_code = fields.String(required=True, validate=validate.Length(1, 64))
    data = fields.Dict(load_default=dict)
    submit = fields.Boolean(load_default=True)


class SupplementForIn(SupplementIn):
    resident_id = fields.String(required=True, validate=validate.Length(1, 64))


Page = page_schema(AuthorisationOut, "AuthorisationPage")


def _helper(username: str):
    user = User.objects(username=username, kind="staff", disabled__ne=True).first()
    if user is None:
        raise Invalid("proxy.no_such_helper", errors=[{"path": "/helper", "code": "not_found",
                                                       "message": "proxy.no_such_helper"}])
    return actor_of(user)


def _resident(*, user_id: str | None = None, id_card: str | None = None):
    if id_card:
        user = User.objects(kind="resident", id_card_hash=pii.cipher().lookup_hash(id_card.strip().upper())).first()
        path = "/resident_id_card"
    else:
        oid = clock.parse_id(user_id)
        user = User.objects(id=oid, kind="resident").first() if oid else None
        path = "/resident_id"
    if user is None:
        raise Invalid("proxy.no_such_resident", errors=[{"path": path, "code": "not_found",
                                                         "message": "proxy.no_such_resident"}])
    actor = actor_of(user)
    return actor.__class__(user_id=actor.user_id, roles=actor.roles, departments=actor.departments,
                           username=user.real_name or actor.username)


@blp.route("/me/authorisations")
class MyAuthorisations(MethodView):
    @blp.arguments(PageArgs, location="query", as_kwargs=True)
    @blp.response(200, Page)
    @blp.doc(security=[BEARER])
    def get(self, **page):
        """The authorisations I gave, newest first"""
        return paginate(service.mine(current_actor()), page)

    @blp.arguments(AuthorisationGrantIn)
    @blp.response(201, AuthorisationOut)
    @blp.alt_response(422, schema=ErrorSchema, description="No such helper, or bad scope or expiry")
    @blp.doc(security=[BEARER])
    def post(self, body):
        """Authorise a helper {helper (username), services, actions, expires_at}"""
        return service.grant(current_actor(), _helper(body["helper"]), services=body["services"],
                             actions=body["actions"], expires_at=body["expires_at"]), 201


@blp.route("/me/authorisations/<auth_id>/revoke")
class Revoke(MethodView):
    @blp.response(200, AuthorisationOut)
    @blp.doc(security=[BEARER])
    def post(self, auth_id):
        """Revoke an authorisation (takes effect at once)"""
        return service.revoke(current_actor(), auth_id)


@blp.route("/helper/authorisations")
class HelperAuthorisations(MethodView):
    @blp.arguments(PageArgs, location="query", as_kwargs=True)
    @blp.response(200, Page)
    @blp.doc(security=[BEARER])
    def get(self, **page):
        """Helpers: the authorisations in force for me"""
        return paginate(service.given_to_me(current_actor()), page)

    @blp.arguments(OnSiteAuthorisationIn)
    @blp.response(201, AuthorisationOut)
    @blp.doc(security=[BEARER])
    def post(self, body):
        """Helpers: record an on-site authorisation with the resident's signature"""
        return service.record_on_site(current_actor(), _resident(id_card=body["resident_id_card"]),
                                      services=body["services"], actions=body["actions"],
                                      expires_at=body["expires_at"], signature=body["signature"]), 201


@blp.route("/helper/applications")
class ForResident(MethodView):
    @blp.arguments(ForResidentIn)
    @blp.arguments(IdempotencyHeaders, location="headers")
    @blp.response(201, ApplicationOut)
    @blp.alt_response(403, schema=ErrorSchema, description="Not a helper, or no authorisation in force")
    @blp.doc(security=[BEARER])
    def post(self, body, headers):
        """Helpers: submit (or save a draft) for a resident who authorised me; the application is theirs"""
        resident = _resident(user_id=body["resident_id"])
        app, created = service.submit_for(current_actor(), resident, service_code=body["service_code"],
                                          data=body["data"], submit=body["submit"], profile=profile(resident),
                                          idempotency_key=headers.get("idempotency_key"))
        return app, 201 if created else 200


@blp.route("/helper/applications/<app_id>")
class ForResidentItem(MethodView):
    @blp.response(200, ApplicationOut)
    @blp.doc(security=[BEARER])
    def get(self, app_id):
        """Helpers: an application I may act on (or acted on)"""
        return service.read_for(current_actor(), app_id)


@blp.route("/helper/applications/<app_id>/supplement")
class SupplementFor(MethodView):
    @blp.arguments(SupplementForIn)
    @blp.response(200, ApplicationOut)
    @blp.doc(security=[BEARER])
    def post(self, body, app_id):
        """Helpers: 补正 for the resident (only the fields asked for)"""
        resident = _resident(user_id=body["resident_id"])
        return service.supplement_for(current_actor(), resident, app_id, body["version"], body["data"],
                                      profile(resident))
