"""/api/v1/applications: a resident's applications (办件) — drafts, submit, follow, withdraw, supplement."""
from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint

from api import i18n
from api.applications_schemas import (ApplicationDraftIn, ApplicationIn, ApplicationOut, ApplicationSummaryOut,
                                      ListArgs, SupplementIn, VersionIn, WithdrawIn)
from api.attachments_schemas import IdempotencyHeaders
from api.errors import ErrorSchema
from api.http import BEARER, PageArgs, current_actor, current_profile, page_schema, paginate
from workflows.cases.applications import service
from workflows.cases.tasks import actions

blp = Blueprint("applications", __name__, url_prefix="/api/v1/applications",
                description="Residents: applications (办件)")

i18n.register({
    "application.service_unavailable": ("该事项不存在或已停止受理", "No such service, or it no longer takes applications"),
    "application.service_failing": ("该事项的办理流程暂时出错，请稍后再试",
                                    "This service's process is failing; try again later"),
    "application.service_suspended": ("事项「{service}」的办理流程多次超出运行限制，已暂停受理，请稍后再试",
                                      "The service \"{service}\" is suspended: its process kept hitting its CPU or "
                                      "step limits; try again later"),
    "application.too_large": ("申请数据过大", "The application data is too large"),
    "application.not_draft": ("申请已提交，不能再修改草稿", "The application was submitted; the draft is closed"),
    "application.changed": ("申请已变化，请刷新后重试", "The application changed; reload and try again"),
    "application.not_withdrawable": ("审批人已开始办理，不能撤回",
                                     "An approver has started on it; it can no longer be withdrawn"),
    "application.not_returned": ("申请不在补正状态", "The application is not waiting for corrections"),
    "application.field_not_asked": ("只能修改要求补正的内容", "Only the fields asked for may be changed"),
    "application.not_in_progress": ("申请已撤回或不在办理中", "The application was withdrawn or is not in progress"),
})

Page = page_schema(ApplicationSummaryOut, "ApplicationPage")


@blp.route("")
class Applications(MethodView):
    @blp.arguments(ListArgs, location="query")
    @blp.arguments(PageArgs, location="query", as_kwargs=True)
    @blp.response(200, Page)
    @blp.doc(security=[BEARER])
    def get(self, args, **page):
        """My applications, newest first (filter by status)"""
        return paginate(service.list_mine(current_actor(), status=args["status"]), page)

    @blp.arguments(ApplicationIn)
    @blp.arguments(IdempotencyHeaders, location="headers")
    @blp.response(201, ApplicationOut)
    @blp.alt_response(200, schema=ApplicationOut, description="Already created with this Idempotency-Key")
    @blp.alt_response(422, schema=ErrorSchema, description="Form data, attachments or the service are not valid")
    @blp.alt_response(503, schema=ErrorSchema, description="The service's process is failing; nothing was kept")
    @blp.doc(security=[BEARER])
    def post(self, body, headers):
        """Save a draft (`submit: false`) or submit an application for a service"""
        actor = current_actor()
        app, created = service.create(actor, service_code=body["service_code"], data=body["data"],
                                      submit=body["submit"], profile=current_profile() if body["submit"] else None,
                                      idempotency_key=headers.get("idempotency_key"))
        return app, 201 if created else 200


@blp.route("/<app_id>")
class ApplicationItem(MethodView):
    @blp.response(200, ApplicationOut)
    @blp.doc(security=[BEARER])
    def get(self, app_id):
        """One of my applications with its timeline, current steps and result"""
        return service.get(current_actor(), app_id)

    @blp.arguments(ApplicationDraftIn)
    @blp.response(200, ApplicationOut)
    @blp.alt_response(409, schema=ErrorSchema, description="Submitted, or changed since `version`")
    @blp.doc(security=[BEARER])
    def put(self, body, app_id):
        """Autosave a draft (partial data is fine; it is checked on submit)"""
        return service.save_draft(current_actor(), app_id, body["version"], body["data"])


@blp.route("/<app_id>/submit")
class Submit(MethodView):
    @blp.arguments(VersionIn)
    @blp.response(200, ApplicationOut)
    @blp.doc(security=[BEARER])
    def post(self, body, app_id):
        """Submit a draft"""
        actor = current_actor()
        return service.submit_draft(actor, app_id, body["version"], current_profile())


@blp.route("/<app_id>/withdraw")
class Withdraw(MethodView):
    @blp.arguments(WithdrawIn)
    @blp.response(200, ApplicationOut)
    @blp.alt_response(409, schema=ErrorSchema, description="An approver has acted, or the version is stale")
    @blp.doc(security=[BEARER])
    def post(self, body, app_id):
        """Withdraw (撤回) while no approver has acted"""
        return service.withdraw(current_actor(), app_id, body["version"], reason=body["reason"])


@blp.route("/<app_id>/supplement")
class Supplement(MethodView):
    @blp.arguments(SupplementIn)
    @blp.response(200, ApplicationOut)
    @blp.alt_response(422, schema=ErrorSchema, description="A field that was not asked for changed, or bad data")
    @blp.doc(security=[BEARER])
    def post(self, body, app_id):
        """Supplement (补正) a returned application: change only what was asked, and resubmit"""
        actor = current_actor()
        return service.supplement(actor, app_id, body["version"], body["data"], current_profile())


@blp.route("/<app_id>/urge")
class Urge(MethodView):
    @blp.response(200, ApplicationOut)
    @blp.alt_response(429, schema=ErrorSchema, description="Already urged in the last 24 hours")
    @blp.doc(security=[BEARER])
    def post(self, app_id):
        """催办: remind the current handlers (at most once a day)"""
        return actions.urge(current_actor(), app_id)
