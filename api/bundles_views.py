"""/api/v1/bundles (the 一件事 catalogue, beside /api/v1/services) and /api/v1/bundle-cases (one POST submits a
whole bundle; one case shows every department's part, one timeline and one result)."""
from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint

from api import bundles_schemas as schemas, i18n
from api.applications_schemas import WithdrawIn
from api.attachments_schemas import IdempotencyHeaders
from api.errors import ErrorSchema
from api.http import BEARER, PageArgs, current_actor, page_schema, paginate
from api.identity.service import profile
from workflows.cases.bundles import cases, reading, service

blp = Blueprint("bundles", __name__, url_prefix="/api/v1", description="Residents: 一件事 bundles")

i18n.register({
    "bundle.unavailable": ("该一件事不存在或已停止受理", "No such bundle, or it no longer takes applications"),
    "bundle.service_unavailable": ("一件事中的事项已停止受理", "A service of this bundle no longer takes applications"),
    "bundle.invalid_data": ("提交的数据未通过校验", "The submitted data is not valid"),
    "bundle.changed": ("一件事办件正在变化，请稍后刷新", "The bundle case is changing; reload in a moment"),
    "bundle.not_withdrawable": ("已有部门开始办理，不能整体撤回",
                                "A department has begun on it: the bundle can no longer be withdrawn"),
})

BundlePage = page_schema(schemas.BundleSummaryOut, "BundlePage")
CasePage = page_schema(schemas.BundleCaseSummaryOut, "BundleCasePage")


@blp.route("/bundles")
class Bundles(MethodView):
    @blp.arguments(schemas.BundleSearchArgs, location="query")
    @blp.arguments(PageArgs, location="query", as_kwargs=True)
    @blp.response(200, BundlePage)
    @blp.doc(security=[BEARER])
    def get(self, args, **page):
        """The current 一件事 bundles, in code order (keyword: code, name or a part's service)"""
        current_actor()
        return service.search(keyword=args["keyword"], **page)


@blp.route("/bundles/<code>")
class Bundle(MethodView):
    @blp.response(200, schemas.BundleDetailOut)
    @blp.doc(security=[BEARER])
    def get(self, code):
        """One bundle with its merged form (shared fields once, each department's own fields)"""
        current_actor()
        bundle = service.get_current(code)
        return {"code": bundle.code, "version": bundle.version, "department": bundle.department,
                "body": bundle.body, "form": service.merged_form(bundle)}


@blp.route("/bundle-cases")
class BundleCases(MethodView):
    @blp.arguments(PageArgs, location="query", as_kwargs=True)
    @blp.response(200, CasePage)
    @blp.doc(security=[BEARER])
    def get(self, **page):
        """My bundle submissions, newest first"""
        return paginate(reading.list_mine(current_actor()), page)

    @blp.arguments(schemas.BundleCaseIn)
    @blp.arguments(IdempotencyHeaders, location="headers")
    @blp.response(201, schemas.BundleCaseOut)
    @blp.alt_response(200, schema=schemas.BundleCaseOut, description="Already submitted with this Idempotency-Key")
    @blp.alt_response(422, schema=ErrorSchema, description="Bad data: /shared/<key> or /parts/<part>/<field>")
    @blp.doc(security=[BEARER])
    def post(self, body, headers):
        """Submit a whole bundle in one POST {bundle_code, shared, parts}"""
        actor = current_actor()
        case, created = cases.submit(actor, bundle_code=body["bundle_code"], shared=body["shared"],
                                     parts=body["parts"], profile=profile(actor),
                                     idempotency_key=headers.get("idempotency_key"))
        return reading.view(actor, str(case.id)), 201 if created else 200


@blp.route("/bundle-cases/<case_id>")
class BundleCase(MethodView):
    @blp.response(200, schemas.BundleCaseOut)
    @blp.doc(security=[BEARER])
    def get(self, case_id):
        """One of my bundle cases: each department's part, one timeline, one result"""
        return reading.view(current_actor(), case_id)


@blp.route("/bundle-cases/<case_id>/withdraw")
class BundleCaseWithdraw(MethodView):
    @blp.arguments(WithdrawIn)
    @blp.response(200, schemas.BundleCaseOut)
    @blp.alt_response(409, schema=ErrorSchema, description="A department has acted, or the version is stale")
    @blp.doc(security=[BEARER])
    def post(self, body, case_id):
        """Withdraw (撤回) the whole bundle {version, reason} while no department has acted on any part"""
        return cases.withdraw(current_actor(), case_id, body["version"], reason=body["reason"])
