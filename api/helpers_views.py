"""帮办代办: /api/v1/me/authorisations (a resident authorises a helper, lists, confirms or refuses an on-site one,
revokes) and /api/v1/helper/… (a helper records an on-site authorisation — pending until the resident confirms it or
a lead of the helper's department approves it — lists whom they may act for, submits, supplements and reads for
them, masked). Identity is looked up here and handed to workflows/cases/proxy as plain Actor values."""
from __future__ import annotations

import dataclasses

from flask import g
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
from core.errors import Forbidden, Invalid
from workflows.cases.proxy import acting, service
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
    "proxy.pending": ("该授权尚待居民在手机上确认或现场负责人核准，确认前不能代办",
                      "This authorisation waits for the resident's confirmation on their phone or a lead's approval "
                      "on site; until then you cannot act under it"),
    "proxy.not_pending": ("该授权已确认、已拒绝、已撤销或已过期", "This authorisation is no longer waiting"),
    "proxy.not_helpers_department": ("只能授权帮办员所在部门的事项",
                                     "Only services of the helper's own departments can be authorised"),
    "proxy.too_many_lookups": ("登记次数过多，请 {retry_after} 秒后再试",
                               "Too many on-site records; try again in {retry_after} s"),
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
    status = fields.String(metadata={
        "description": "pending (an on-site one waiting for the resident's 确认 or a lead's approval), active, refused"})
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
    confirmed_at = fields.DateTime(allow_none=True)
    created_at = fields.DateTime()


class RecordedOut(Schema):
    """What the helper hears of an on-site record: the same whether an account has that 身份证号 or not."""
    id = fields.String()
    status = fields.String()
    services = fields.List(fields.String())
    actions = fields.List(fields.String())
    expires_at = fields.DateTime()


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


def _as_resident(user):
    actor = actor_of(user)
    return dataclasses.replace(actor, username=user.real_name or actor.username)


def _by_id_card(id_card: str):
    """The verified resident with this 身份证号, or None (the service answers alike either way)."""
    user = User.objects(kind="resident", disabled__ne=True,
                        id_card_hash=pii.cipher().lookup_hash(id_card.strip().upper())).first()
    return _as_resident(user) if user is not None else None


def _resident(user_id: str):
    """The resident a helper names by id, and their verified profile (for the form's prefill) from the same read;
    no such resident answers as no authorisation does (403)."""
    oid = clock.parse_id(user_id)
    user = User.objects(id=oid, kind="resident").first() if oid else None
    if user is None:
        raise Forbidden("proxy.not_authorised")
    resident = _as_resident(user)
    return resident, profile(resident, user)


def _own_name(docs):
    """The resident's own authorisations show them their own name in full (helpers' lists keep it masked)."""
    name = (g.get("user") or {}).get("real_name")     # as authentication read it: nothing to decrypt
    docs = list(docs)
    for doc in docs:
        doc.resident_name = name or doc.resident_name
    return docs


@blp.route("/me/authorisations")
class MyAuthorisations(MethodView):
    @blp.arguments(PageArgs, location="query", as_kwargs=True)
    @blp.response(200, Page)
    @blp.doc(security=[BEARER])
    def get(self, **page):
        """The authorisations I gave or a helper recorded for me (pending ones wait for my 确认), newest first"""
        return paginate(service.mine(current_actor()), page, rows=_own_name)

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


@blp.route("/me/authorisations/<auth_id>/confirm")
class Confirm(MethodView):
    @blp.response(200, AuthorisationOut)
    @blp.alt_response(409, schema=ErrorSchema, description="Not pending (already answered, revoked or expired)")
    @blp.doc(security=[BEARER])
    def post(self, auth_id):
        """确认: an on-site authorisation a helper recorded for me becomes active"""
        return service.confirm(current_actor(), auth_id)


@blp.route("/me/authorisations/<auth_id>/refuse")
class Refuse(MethodView):
    @blp.response(200, AuthorisationOut)
    @blp.alt_response(409, schema=ErrorSchema, description="Not pending (already answered, revoked or expired)")
    @blp.doc(security=[BEARER])
    def post(self, auth_id):
        """拒绝: the helper never may act under it"""
        return service.refuse(current_actor(), auth_id)


@blp.route("/helper/authorisations/pending")
class PendingForLead(MethodView):
    @blp.arguments(PageArgs, location="query", as_kwargs=True)
    @blp.response(200, Page)
    @blp.doc(security=[BEARER])
    def get(self, **page):
        """Leads: the on-site authorisations of my departments' helpers that wait for approval"""
        return paginate(service.pending_for(current_actor()), page)


@blp.route("/helper/authorisations/<auth_id>/approve")
class Approve(MethodView):
    @blp.response(200, AuthorisationOut)
    @blp.alt_response(404, schema=ErrorSchema, description="Not a pending authorisation of my departments' helpers")
    @blp.alt_response(409, schema=ErrorSchema, description="Not pending (already answered, revoked or expired)")
    @blp.doc(security=[BEARER])
    def post(self, auth_id):
        """Leads: approve on site an authorisation another staff member (a helper of my department) recorded"""
        return service.approve(current_actor(), auth_id)


@blp.route("/helper/authorisations")
class HelperAuthorisations(MethodView):
    @blp.arguments(PageArgs, location="query", as_kwargs=True)
    @blp.response(200, Page)
    @blp.doc(security=[BEARER])
    def get(self, **page):
        """Helpers: the authorisations in force for me"""
        return paginate(service.given_to_me(current_actor()), page)

    @blp.arguments(OnSiteAuthorisationIn)
    @blp.response(202, RecordedOut)
    @blp.alt_response(429, schema=ErrorSchema, description="Too many records this hour")
    @blp.doc(security=[BEARER])
    def post(self, body):
        """Helpers: record an on-site authorisation with the resident's signature. It is pending until the resident
        confirms it on their phone or a lead of your department approves it; the answer is the same whether an
        account has that 身份证号 or not"""
        return service.record_on_site(current_actor(), lambda: _by_id_card(body["resident_id_card"]),
                                      services=body["services"], actions=body["actions"],
                                      expires_at=body["expires_at"], signature=body["signature"]), 202


@blp.route("/helper/applications")
class ForResident(MethodView):
    @blp.arguments(ForResidentIn)
    @blp.arguments(IdempotencyHeaders, location="headers")
    @blp.response(201, ApplicationOut)
    @blp.alt_response(403, schema=ErrorSchema, description="Not a helper, no authorisation in force, or "
                      "(code proxy.pending) one that waits for the resident's 确认")
    @blp.doc(security=[BEARER])
    def post(self, body, headers):
        """Helpers: submit (or save a draft) for a resident who authorised me; the application is theirs (answered
        masked, like any staff member's view)"""
        resident, resident_profile = _resident(body["resident_id"])
        app, created = acting.submit_for(current_actor(), resident, service_code=body["service_code"],
                                          data=body["data"], submit=body["submit"], profile=resident_profile,
                                          idempotency_key=headers.get("idempotency_key"))
        return app, 201 if created else 200


@blp.route("/helper/applications/<app_id>")
class ForResidentItem(MethodView):
    @blp.response(200, ApplicationOut)
    @blp.doc(security=[BEARER])
    def get(self, app_id):
        """Helpers: an application I may act on now, masked except the fields a 补正 asks me to fill (404 once the
        authorisation is revoked or expired, the cases I acted on included)"""
        return acting.read_for(current_actor(), app_id)


@blp.route("/helper/applications/<app_id>/supplement")
class SupplementFor(MethodView):
    @blp.arguments(SupplementForIn)
    @blp.response(200, ApplicationOut)
    @blp.doc(security=[BEARER])
    def post(self, body, app_id):
        """Helpers: 补正 for the resident (only the fields asked for)"""
        resident, resident_profile = _resident(body["resident_id"])
        return acting.supplement_for(current_actor(), resident, app_id, body["version"], body["data"],
                                      resident_profile)
